"""What the bench's sections share: the run they belong to, the solvers, accuracy with its interval, speed, plots.

Every solver reads the same captchas: fresh seeded streams and, for the comparison, a
frozen folder of PNG files. Speeds are repeated and the median is kept; since the machine
may be shared, ratios (ours / baseline) say more than seconds.
"""

import argparse
import functools
import io
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib.ticker
import numpy as np
import provenance
import sections

from captcha_model import load_solver
from captcha_model.data import preprocessing, rendering
from captcha_model.networks.model import default_config
from captcha_model.reading import evaluation
from captcha_model.reading.evaluation import wilson_interval
from captcha_model.reading.solver import BUNDLED_MODELS

BENCH = os.path.join(ROOT, "bench")
# Models trained, exports made and captchas written by the bench, kept between runs.
OUT = os.path.join(BENCH, "out")
# The comparison's fresh captchas, which the models and runtimes sections read too. No
# training stream meets it (train.py and train_referee.py use --seed, +1,000,000 and
# +2,000,000, and the bundled models were trained with seeds from 1000 to 25000).
FRESH_SEED = 5_000_000


class Bench:
    """One run of bench sections: its options, output folder and command, and the models it loads once."""

    def __init__(self, args, command, output=BENCH):
        self.args, self.command, self.output = args, command, output
        # Solvers that earlier sections add to the comparison (the tutorial's network that training trains),
        # with the files they were read from.
        self.extra_solvers, self.extra_files = {}, []

    def path(self, name):
        return os.path.join(self.output, name)

    @functools.cached_property
    def ours(self):
        return load_solver(self.args.model)

    @functools.cached_property
    def sources(self):
        """{name: source} of the models of the models, size, length and saliency sections: the bundled ones
        and --model if given."""
        if self.args.ctc_model is None and "ctc" not in BUNDLED_MODELS:
            sys.exit("There is no bundled ctc model yet; pass --ctc-model PATH or "
                     "--skip models sizes lengths saliency.")
        sources = {"default": None, "ctc": self.args.ctc_model or "ctc"}
        sources.update({name: name for name in BUNDLED_MODELS if name not in sources})
        if self.args.model:
            sources[self.args.model] = self.args.model
        return sources

    @functools.cached_property
    def models(self):
        return {name: self.ours if source == self.args.model else load_solver(source)
                for name, source in self.sources.items()}

    def files(self, names):
        """The files of the models `names` (of `models`), for a section's provenance."""
        return [path for name in names for path in provenance.model_files(self.sources[name])]


def run_alone(script, name, quick_help, argv=None):
    """Run one section as its own script (python bench/NAME.py): its options and --quick, then RESULTS.md."""
    parser = argparse.ArgumentParser(description=script.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    script.add_arguments(parser)
    arguments = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(arguments)
    if args.quick:
        script.quick(args)
    bench = Bench(args, provenance.command(f"{name}.py", arguments))
    sections.run(bench, name, script.measure, script.lines)
    print(f"Wrote {sections.assemble()}")


class KerasSolver:
    """Our Solver behind the interface every benchmarked solver shares."""

    def __init__(self, solver, name):
        self.solver, self.name = solver, name

    def read(self, images):
        return [reading.text for reading in self.solver.solve(images)]


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class DdddOcrSolver:
    """ddddocr, the general-purpose captcha OCR, reading one PNG at a time.

    It reads lower and upper case; with `uppercase` its readings are folded to upper case, for
    captchas of upper case only.
    """

    name = "ddddocr"

    def __init__(self, uppercase=True):
        import ddddocr

        self.ocr, self.uppercase = ddddocr.DdddOcr(show_ad=False), uppercase

    def read(self, images):
        texts = [self.ocr.classification(png_bytes(image)) for image in images]
        return [text.upper() for text in texts] if self.uppercase else texts


class WhispererSolver:
    """captcha-whisperer, a CRNN read by ONNX Runtime that ships its weights, reading one PNG at a time."""

    name = "captcha-whisperer"

    def __init__(self):
        from captcha_whisperer import CaptchaRecognizer

        self.recognizer = CaptchaRecognizer()

    def read(self, images):
        return [self.recognizer.recognize_bytes(png_bytes(image))["text"] for image in images]


def accuracy_of(solver, images, texts):
    predictions = []
    for start in range(0, len(images), 500):
        predictions.extend(solver.read(images[start : start + 500]))
    return scored(predictions, texts)


def scored(predictions, texts, ignore_case=False):
    """Full-captcha accuracy (with its 95% interval) and per-character accuracy of `predictions` of `texts`,
    case ignored where asked."""
    if ignore_case:
        predictions, texts = [text.upper() for text in predictions], [text.upper() for text in texts]
    correct = sum(prediction == text for prediction, text in zip(predictions, texts))
    characters = sum(len(text) for text in texts)
    distance = sum(evaluation.edit_distance(text, prediction) for prediction, text in zip(predictions, texts))
    low, high = wilson_interval(correct, len(texts))
    return {"n": len(texts), "accuracy": correct / len(texts), "low": low, "high": high,
            "character_accuracy": 1 - distance / characters}


def trained_once(arguments, output):
    """The model of one training command (`python -m captcha_model.training ARGUMENTS --output OUTPUT`), run
    unless `output` holds a model already."""
    model = os.path.join(output, "model.keras")
    if not os.path.exists(model):
        subprocess.run([sys.executable, "-m", "captcha_model.training", *arguments, "--output", output], cwd=ROOT,
                       check=True, env={**os.environ, "CI": "1"})
    return model


def folder_scored(model, folder):
    """What the model file `model` reads of the labelled captchas in `folder`, as `scored` gives it."""
    report = evaluation.evaluate_folder(load_solver(model), folder)
    low, high = report.interval
    return {"n": report.count, "accuracy": report.accuracy, "low": low, "high": high,
            "character_accuracy": report.character_accuracy}


def fresh_images(count, seed=FRESH_SEED):
    samples = [rendering.sample_captcha(default_config(), seed, index) for index in range(count)]
    return [image for _, image in samples], [text for text, _ in samples]


def speed_of(solver, images, repeats):
    """Median batch throughput (captchas/s) and single-image latency (median, p95 in ms)."""
    # Warm up on the whole batch: graph tracing, memory arenas and reading lanes are made once, untimed.
    solver.read(images)
    batch_rates, medians, p95s = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        solver.read(images)
        batch_rates.append(len(images) / (time.perf_counter() - started))
        latencies = []
        for image in images[:200]:
            started = time.perf_counter()
            solver.read([image])
            latencies.append((time.perf_counter() - started) * 1000)
        medians.append(float(np.median(latencies)))
        p95s.append(float(np.percentile(latencies, 95)))
    return {"batch_per_second": statistics.median(batch_rates), "batch_fastest_per_second": max(batch_rates),
            "single_ms": statistics.median(medians), "single_p95_ms": statistics.median(p95s)}


def pooled(results):
    """Several results counted as one sample."""
    correct, total = sum(result["correct"] for result in results), sum(result["n"] for result in results)
    low, high = wilson_interval(correct, total)
    return {"n": total, "correct": correct, "accuracy": correct / total, "low": low, "high": high}


def read_stream(solvers, captchas, count, seed, bar):
    """Results of every solver on the same `count` captchas of the stream `seed` of `captchas`.

    Drawing a captcha costs several times more than reading it, so each chunk is drawn once
    and every model reads it, through its own preprocessing.
    """
    for name, solver in solvers.items():
        if solver.config.charset != captchas.charset:
            raise ValueError(f"{name} reads {solver.config.charset!r}, not the {captchas.charset!r} "
                             "of the test captchas.")
    readings, texts = {name: [] for name in solvers}, []
    for start in range(0, count, evaluation.CHUNK):
        size = min(evaluation.CHUNK, count - start)
        images, chunk_texts = rendering.draw_range(captchas, seed, start, size)
        texts.extend(chunk_texts)
        for name, solver in solvers.items():
            readings[name].extend(solver.solve_inputs(preprocessing.preprocess(images, solver.config)))
        bar.update(size)
    # Speed is the comparison section's business, so no reading time is kept here.
    source = f"{count} fresh {evaluation.describe_captchas(captchas)} (seed {seed})"
    results = {}
    for name in solvers:
        report = evaluation.score(readings[name], texts, range(count), 0.0, source)
        low, high = report.interval
        results[name] = {"n": report.count, "correct": report.correct, "accuracy": report.accuracy, "low": low,
                         "high": high, "character_accuracy": report.character_accuracy}
    return results


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def size_name(size):
    return f"{size[0]}x{size[1]}"


def percent(result):
    return f"{result['accuracy']:.2%} ({result['low']:.2%}-{result['high']:.2%}, n={result['n']:,})"


def verdict(passed):
    return "meets target" if passed else "**misses target**"


def save_plot(figure, path):
    """Lay out and write a figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_accuracies(axes, positions, results, label, marker="o", linestyle="-"):
    """Accuracies at `positions` with their 95% intervals as error bars."""
    accuracy = np.array([result["accuracy"] for result in results])
    errors = [accuracy - [result["low"] for result in results], [result["high"] for result in results] - accuracy]
    axes.errorbar(positions, accuracy, yerr=errors, marker=marker, capsize=3, linestyle=linestyle, label=label)


def finish_accuracy_plot(figure, axes, xlabel, path):
    axes.set_xlabel(xlabel)
    axes.set_ylabel("full-captcha accuracy (95% interval)")
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.grid(alpha=0.3)
    axes.legend()
    save_plot(figure, path)
