"""Benchmarks: this project's model against the tutorial's network and ddddocr, in one run.

    python bench/run.py            # the full run (about an hour on 2 CPU cores)
    python bench/run.py --quick    # a few minutes, small samples
    python bench/run.py --help     # pick sections and sample sizes
    python bench/run.py --quick --skip comparison training generation   # models, sizes, lengths, saliency

Every solver reads the same captchas: a fresh seeded stream and a frozen folder of PNG
files written by `python -m captcha_model generate`. Speeds are repeated and the median
is kept; since this machine may be shared, ratios (ours / baseline) say more than
seconds. Every bundled model made for 4-character 170x80 captchas reads the same fresh
ones as our default model, beside it. Then the bundled models (and --model) read
4-character captchas of many sizes, the ctc model reads texts of 1 to 8 characters (each
other model those of its own lengths and size beside it), and a masking test checks that
each model's saliency maps point at what drives its readings. The throughput section trains
the default network from each of train.py's input pipelines (bench/training_throughput.py). Results go to
bench/RESULTS.md with plots beside it. Sections that a run skips keep the figures (and
plots) of the last run that measured them, and RESULTS.md names the command behind each.
"""

import argparse
import datetime
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from captcha_model import data, evaluation, labelled, load_solver, saliency  # noqa: E402
from captcha_model.evaluation import wilson_interval  # noqa: E402
from captcha_model.model import default_config  # noqa: E402
from captcha_model.solver import BUNDLED_MODEL, BUNDLED_MODELS  # noqa: E402
import sections  # noqa: E402

import training_throughput  # noqa: E402

BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, "out")
FRESH_SEED = 5_000_000
FROZEN_SEED = 6_000_000
GENERATION_SEED = 7_000_000
# The size, length and saliency sections draw from streams of their own, each cell from
# its own seed (the base plus the cell's index), so no two cells share captchas and none
# meets a training stream (train.py and train_referee.py use --seed, +1,000,000 and
# +2,000,000, and the bundled models were trained with seeds from 1000 to 25000).
SIZES_SEED = 7_100_000
LENGTHS_SEED = 7_200_000
SALIENCY_SEED = 7_300_000
TRAINING_SEED = 1000

# 4-character captchas at the sizes sites use, from the library's default to the default
# model's training size and beyond, and two odd aspect ratios (wide and flat, narrow and tall).
SIZES = ((120, 50), (140, 60), data.LIBRARY_DEFAULT_SIZE, (170, 80), (200, 80), (240, 100), (240, 60), (130, 90))
SIZE_NOTES = {data.LIBRARY_DEFAULT_SIZE: "the library's default", (170, 80): "the default model's training size"}
SIZES_LENGTH = 4
# Text lengths the ctc model reads, per captcha size.
LENGTHS = {(170, 80): range(1, 9), (160, 60): range(3, 7)}
# The pooled summary of the length section: the lengths most sites use, at one size.
POOLED_LENGTHS, POOLED_SIZE = range(3, 7), (170, 80)
# Random boxes masked per character in the saliency test, and captchas per model in its picture.
RANDOM_BOXES = 5
PICTURED_CAPTCHAS = 3
SECTIONS = ["comparison", "models", "training", "ddddocr", "seed", "generation", "throughput", "sizes", "lengths",
            "saliency"]

# Targets for the default model, from the project's core requirements.
TARGETS = {"accuracy": 0.995, "megabytes": 2.0, "batch_per_second": 2000, "single_ms": 5.0}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small samples: ends in a few minutes")
    parser.add_argument("--model", help="our model (default: the bundled one); "
                        "the size and saliency sections measure it beside the bundled models")
    parser.add_argument("--ctc-model", help="the ctc model of the size, length and saliency sections "
                        "(default: the bundled one)")
    parser.add_argument("--count", type=int, default=10000, help="fresh captchas for our accuracy")
    parser.add_argument("--frozen-count", type=int, default=2000, help="captchas in the frozen PNG set")
    parser.add_argument("--baseline-count", type=int, default=2000,
                        help="fresh captchas for the baselines' accuracy (ddddocr takes ~40 ms each)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each speed measurement")
    parser.add_argument("--budget-minutes", type=float, default=15,
                        help="training budget for the tutorial network and for ours in the same-budget comparison")
    parser.add_argument("--cell-count", type=int, default=2000,
                        help="fresh captchas per size and per length in the size and length sections")
    parser.add_argument("--saliency-count", type=int, default=200, help="captchas per model in the saliency section")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS,
                        help="sections to leave out; 'comparison' is the accuracy and speed of ours against "
                        "the baselines")
    args = parser.parse_args()
    if args.quick:
        args.count, args.frozen_count, args.baseline_count, args.repeats = 1000, 300, 200, 1
        args.cell_count, args.saliency_count = 200, 30
        args.budget_minutes = min(args.budget_minutes, 2)
    return args


class KerasSolver:
    """Our Solver behind the interface every benchmarked solver shares."""

    def __init__(self, solver, name):
        self.solver, self.name = solver, name

    def read(self, images):
        return [reading.text for reading in self.solver.solve(images)]


class DdddOcrSolver:
    """ddddocr, the general-purpose captcha OCR, reading one PNG at a time."""

    name = "ddddocr"

    def __init__(self):
        import ddddocr

        self.ocr = ddddocr.DdddOcr(show_ad=False)

    def read(self, images):
        texts = []
        for image in images:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            # It reads lower and upper case; these captchas are upper case only.
            texts.append(self.ocr.classification(buffer.getvalue()).upper())
        return texts


def accuracy_of(solver, images, texts):
    predictions = []
    for start in range(0, len(images), 500):
        predictions.extend(solver.read(images[start : start + 500]))
    correct = sum(prediction == text for prediction, text in zip(predictions, texts))
    characters = sum(len(text) for text in texts)
    distance = sum(evaluation.edit_distance(text, prediction) for prediction, text in zip(predictions, texts))
    low, high = wilson_interval(correct, len(texts))
    return {"n": len(texts), "accuracy": correct / len(texts), "low": low, "high": high,
            "character_accuracy": 1 - distance / characters}


def fresh_images(count, seed=FRESH_SEED):
    samples = [data.sample_captcha(default_config(), seed, index) for index in range(count)]
    return [image for _, image in samples], [text for text, _ in samples]


def frozen_images(count):
    folder = os.path.join(OUT, f"frozen-{FROZEN_SEED}-{count}")
    if not os.path.exists(os.path.join(folder, "labels.csv")):
        subprocess.run([sys.executable, "-m", "captcha_model", "generate", "--count", str(count),
                        "--seed", str(FROZEN_SEED), "--out", folder], cwd=ROOT, check=True)
    captchas = labelled.read_labelled(folder)
    return captchas.images, captchas.texts


def speed_of(solver, images, repeats):
    """Median batch throughput (captchas/s) and single-image latency (median, p95 in ms)."""
    solver.read(images[:8])  # warm up: graph tracing and lazy initialisation
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
    return {"batch_per_second": statistics.median(batch_rates), "single_ms": statistics.median(medians),
            "single_p95_ms": statistics.median(p95s)}


def network_throughput(solver, images, repeats):
    """Captchas/s of the network alone, on inputs already preprocessed (median of `repeats`)."""
    inputs = data.preprocess(images, solver.config)
    solver.solve_inputs(inputs[:8])
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        solver.solve_inputs(inputs)
        rates.append(len(inputs) / (time.perf_counter() - started))
    return statistics.median(rates)


def train_with_budget(architecture, minutes, learning_rate):
    """Train `architecture` on fresh captchas from the training stream for a fixed wall-clock budget.

    Fresh captchas, because the tutorial's network takes full-size RGB input, whose cached
    pool would not fit in memory; 1000 nominal epochs keep the learning rate near its peak.
    """
    output = os.path.join(OUT, f"budget-{architecture}-{minutes:g}min")
    if not os.path.exists(os.path.join(output, "metrics.json")):
        subprocess.run([sys.executable, "train.py", "--arch", architecture, "--seed", str(TRAINING_SEED),
                        "--train-size", "0", "--epochs", "1000", "--steps-per-epoch", "50", "--batch-size", "64",
                        "--learning-rate", str(learning_rate), "--max-minutes", str(minutes), "--patience", "1000",
                        "--validation-size", "500", "--test-size", "0", "--output", output],
                       cwd=ROOT, check=True, env={**os.environ, "CI": "1"})
    with open(os.path.join(output, "metrics.json")) as handle:
        return os.path.join(output, "model.keras"), json.load(handle)


def generation_rate(workers, count):
    started = time.perf_counter()
    data.render_dataset(default_config(), seed=GENERATION_SEED, count=count, workers=workers, progress=False)
    return count / (time.perf_counter() - started)


def result_of(report):
    """A package `Report` in the form of `accuracy_of`'s results, which the tables print."""
    low, high = report.interval
    return {"n": report.count, "correct": report.correct, "accuracy": report.accuracy, "low": low, "high": high,
            "character_accuracy": report.character_accuracy}


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
            raise ValueError(f"{name} reads {solver.config.charset!r}, not the {captchas.charset!r} of the test captchas.")
    readings, texts = {name: [] for name in solvers}, []
    for start in range(0, count, evaluation.CHUNK):
        size = min(evaluation.CHUNK, count - start)
        images, chunk_texts = data.draw_range(captchas, seed, start, size)
        texts.extend(chunk_texts)
        for name, solver in solvers.items():
            readings[name].extend(solver.solve_inputs(data.preprocess(images, solver.config)))
        bar.update(size)
    # Speed is the comparison section's business, so no reading time is kept here.
    source = f"{count} fresh {evaluation.describe_captchas(captchas)} (seed {seed})"
    return {name: result_of(evaluation.score(readings[name], texts, range(count), 0.0, source)) for name in solvers}


def size_name(size):
    return f"{size[0]}x{size[1]}"


def measure_sizes(models, count):
    """{size: {model: result}} on 4-character captchas at each size of SIZES."""
    captchas = default_config()
    results = {}
    with tqdm(total=count * len(SIZES), desc="sizes", unit="captcha") as bar:
        for index, (width, height) in enumerate(SIZES):
            results[size_name((width, height))] = read_stream(
                models, captchas.at(width, height, SIZES_LENGTH), count, SIZES_SEED + index, bar)
    return results


def measure_lengths(models, count):
    """{size: {length: {model: result}}} at each size and length of LENGTHS.

    The ctc model reads every cell; each other model reads the cells it was made for (the
    default model its own size and length), on the same captchas.
    """
    cells = [(size, length) for size, lengths in LENGTHS.items() for length in lengths]
    results = {size_name(size): {} for size in LENGTHS}
    with tqdm(total=count * len(cells), desc="lengths", unit="captcha") as bar:
        for index, ((width, height), length) in enumerate(cells):
            solvers = {name: model for name, model in models.items()
                       if name == "ctc" or model.config.covers(width, height, length)}
            results[size_name((width, height))][length] = read_stream(
                solvers, models["ctc"].config.at(width, height, length), count, LENGTHS_SEED + index, bar)
    return results


def measure_models(models, count):
    """{model: result} of every model made for the default model's captchas, on the comparison's fresh ones.

    They are the very captchas of the comparison section (seed FRESH_SEED), so the default
    model's figure here repeats its figure there and the other models stand beside it.
    """
    captchas = default_config()
    solvers = {name: model for name, model in models.items()
               if model.config.covers(captchas.captcha_width, captchas.captcha_height, captchas.min_length)}
    with tqdm(total=count, desc="models", unit="captcha") as bar:
        return read_stream(solvers, captchas, count, FRESH_SEED, bar)


def box_shape(input_height, input_width):
    """The masked box of the saliency test, in input pixels: half the height, an eighth of the width."""
    return input_height // 2, input_width // 8


def hottest_box(heatmap, height, width):
    """(top, left) of the height x width box holding the largest sum of `heatmap`."""
    # Box sums for every position at once, from the summed-area table.
    table = np.pad(heatmap.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    sums = table[height:, width:] - table[:-height, width:] - table[height:, :-width] + table[:-height, :-width]
    top, left = np.unravel_index(sums.argmax(), sums.shape)
    return int(top), int(left)


def mask_box(image, top, left, height, width):
    """A copy of one preprocessed input with a box painted white, the captchas' background."""
    masked = image.copy()
    masked[top : top + height, left : left + width] = 255
    return masked


def score_in_slices(solver, inputs, explanations, size=256):
    """`saliency.score_characters` in slices, so that thousands of masked copies fit in memory."""
    scores = []
    for start in range(0, len(inputs), size):
        scores.extend(saliency.score_characters(solver, inputs[start : start + size], explanations[start : start + size]))
    return scores


def saliency_drops(solver, inputs, explanations, rng):
    """Per character read: its confidence drop with its hottest box masked, and the mean drop over random boxes.

    Each character is scored on copies of its own captcha, one per masked box, so its
    drop says what that box meant to that character alone.
    """
    height, width = box_shape(*inputs.shape[1:3])
    free_rows, free_columns = inputs.shape[1] - height + 1, inputs.shape[2] - width + 1
    variants, variant_characters, before = [], [], []
    originals = saliency.score_characters(solver, inputs, explanations)
    for image, characters, confidences in zip(inputs, explanations, originals):
        for character, confidence in zip(characters, confidences):
            corners = [hottest_box(character.heatmap, height, width),
                       *zip(rng.integers(0, free_rows, RANDOM_BOXES), rng.integers(0, free_columns, RANDOM_BOXES))]
            variants.extend(mask_box(image, top, left, height, width) for top, left in corners)
            variant_characters.extend([character] for _ in corners)
            before.append(confidence)
    if not variants:
        return []
    after = np.array(score_in_slices(solver, np.stack(variants), variant_characters)).reshape(len(before), -1)
    drops = np.array(before)[:, None] - after
    return [(float(row[0]), float(row[1:].mean())) for row in drops]


def measure_saliency(models, count):
    """Per model: the masking test on `count` of its own captchas, and the first few explained, for the picture."""
    results, pictured = {}, {}
    for name, solver in models.items():
        # One generator per model, so each model's boxes do not depend on the others.
        rng = np.random.default_rng(SALIENCY_SEED)
        drops = []
        for start in tqdm(range(0, count, 16), desc=f"saliency, {name}", unit="chunk"):
            images, texts = data.draw_range(solver.config, SALIENCY_SEED, start, min(16, count - start))
            inputs = data.preprocess(images, solver.config)
            explanations = saliency.explain_inputs(solver, inputs)
            drops.extend(saliency_drops(solver, inputs, explanations, rng))
            if start == 0:
                pictured[name] = list(zip(images, texts, explanations))[:PICTURED_CAPTCHAS]
        results[name] = {"captchas": count, "test_captchas": evaluation.describe_captchas(solver.config),
                         "box": list(box_shape(solver.config.input_height, solver.config.input_width)), **summarize_drops(drops)}
    return results, pictured


def summarize_drops(drops):
    """Mean drops for salient and random boxes, and how often the salient one costs more, with its interval."""
    # A model that reads no character at all (an untrained one) has nothing to summarize.
    salient, random_mean = np.array(drops).reshape(-1, 2).T if drops else (np.full(1, np.nan),) * 2
    wins = int((salient > random_mean).sum())
    low, high = wilson_interval(wins, len(drops))
    return {"characters": len(drops), "salient_drop": float(salient.mean()), "random_drop": float(random_mean.mean()),
            "salient_wins": wins, "share": wins / max(len(drops), 1), "low": low, "high": high}


def time_to_reach(history, threshold):
    for record in history:
        if record.get("val_accuracy", 0) >= threshold:
            return record["wall_seconds"] / 60, record["samples_seen"]
    return None, None


def save_plot(figure, path):
    """Lay out, write and release a figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_training(curves, path):
    figure = Figure(figsize=(11, 4))
    by_time, by_samples = figure.subplots(1, 2)
    for name, history in curves.items():
        minutes = [record["wall_seconds"] / 60 for record in history]
        samples = [record["samples_seen"] for record in history]
        accuracy = [record["val_accuracy"] for record in history]
        by_time.plot(minutes, accuracy, marker=".", label=name)
        by_samples.plot(samples, accuracy, marker=".", label=name)
    by_time.set_xlabel("training time (minutes, 2 CPU cores)")
    by_samples.set_xlabel("training captchas seen")
    by_samples.set_xscale("log")
    for axes in (by_time, by_samples):
        axes.set_ylabel("validation accuracy (whole captcha)")
        axes.set_ylim(0, 1)
        axes.grid(alpha=0.3)
        axes.legend()
    save_plot(figure, path)


def plot_speed(speeds, path):
    figure = Figure(figsize=(10, 3.6))
    batch, single = figure.subplots(1, 2)
    names = list(speeds)
    batch.bar(names, [speeds[name]["batch_per_second"] for name in names], color="#4c72b0")
    batch.set_ylabel("captchas per second (batch)")
    batch.set_yscale("log")
    single.bar(names, [speeds[name]["single_ms"] for name in names], color="#dd8452")
    single.set_ylabel("single-image latency, median (ms)")
    single.set_yscale("log")
    for axes in (batch, single):
        axes.grid(alpha=0.3, axis="y")
    save_plot(figure, path)


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


def plot_sizes(sizes, path):
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    names = list(next(iter(sizes.values())))
    for offset, name in enumerate(names):
        # Models side by side within each size, so their error bars do not hide each other; no
        # lines, since the sizes are categories rather than a scale.
        positions = np.arange(len(sizes)) + 0.15 * (offset - (len(names) - 1) / 2)
        plot_accuracies(axes, positions, [row[name] for row in sizes.values()], name, linestyle="none")
    axes.set_xticks(np.arange(len(sizes)), list(sizes))
    finish_accuracy_plot(figure, axes, "captcha size (4 characters)", path)


def plot_lengths(lengths, path):
    """One line per model and size; a model that reads one cell only is one marker."""
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    for size, row in lengths.items():
        names = dict.fromkeys(name for cell in row.values() for name in cell)
        for name in names:
            read = [length for length, cell in row.items() if name in cell]
            plot_accuracies(axes, read, [row[length][name] for length in read], f"{name}, {size}",
                            marker="o" if name == "ctc" else "s", linestyle="-" if len(read) > 1 else "none")
    axes.set_xticks(range(1, 1 + max(max(row) for row in lengths.values())))
    finish_accuracy_plot(figure, axes, "characters in the captcha", path)


def plot_saliency(pictured, path):
    """Each pictured captcha, then one overlay per character read, with the box the test masks."""
    rows = [(name, *item) for name, items in pictured.items() for item in items]
    columns = 1 + max((len(explanations) for *_, explanations in rows), default=0)
    figure = Figure(figsize=(2.2 * columns, 1.25 * len(rows)))
    grid = figure.subplots(len(rows), columns, squeeze=False)
    for axes_row, (name, image, text, explanations) in zip(grid, rows):
        axes_row[0].imshow(image)
        reading = "".join(character.character for character in explanations)
        axes_row[0].set_title(f"{name}: {text}, read {reading}", fontsize=8)
        for axes, character in zip(axes_row[1:], explanations):
            axes.imshow(saliency.overlay(image, character.heatmap))
            height, width = box_shape(*character.heatmap.shape)
            top, left = hottest_box(character.heatmap, height, width)
            # The box is found in input pixels; the overlay has the captcha's own size.
            scale_x, scale_y = image.width / character.heatmap.shape[1], image.height / character.heatmap.shape[0]
            axes.add_patch(matplotlib.patches.Rectangle((left * scale_x, top * scale_y), width * scale_x,
                                                        height * scale_y, fill=False, edgecolor="cyan", linewidth=1))
            axes.set_title(f"{character.character} ({character.confidence:.2f})", fontsize=8)
        for axes in axes_row:
            axes.set_axis_off()
    save_plot(figure, path)


def percent(result):
    return f"{result['accuracy']:.2%} ({result['low']:.2%}-{result['high']:.2%}, n={result['n']:,})"


def verdict(passed):
    return "meets target" if passed else "**misses target**"


def hardware():
    model_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model_name = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model_name}, {os.cpu_count()} cores, no GPU"


def versions():
    import keras
    import tensorflow

    found = {"tensorflow": tensorflow.__version__, "keras": keras.__version__, "numpy": np.__version__}
    try:
        import ddddocr
        import onnxruntime

        found["ddddocr"] = getattr(ddddocr, "__version__", "1.6.1")
        found["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return ", ".join(f"{name} {version}" for name, version in found.items())


def compare(args, solvers):
    """Accuracy on the shared fresh and frozen captchas, and speed, of every solver: ({name: ...}, {name: ...})."""
    print("Rendering the shared test captchas...")
    fresh, fresh_texts = fresh_images(args.count)
    frozen, frozen_texts = frozen_images(args.frozen_count)
    accuracy, speeds = {}, {}
    for name, solver in solvers.items():
        count = args.count if name.startswith("ours") else min(args.baseline_count, args.count)
        print(f"Measuring {name} on {count} fresh and {len(frozen)} frozen captchas...")
        accuracy[name] = {"fresh": accuracy_of(solver, fresh[:count], fresh_texts[:count]),
                          "frozen": accuracy_of(solver, frozen, frozen_texts)}
        speed_images = fresh[:2000] if name != "ddddocr" else fresh[:300]
        speeds[name] = speed_of(solver, speed_images, args.repeats)
        if isinstance(solver, KerasSolver):
            speeds[name]["network_per_second"] = network_throughput(solver.solver, speed_images, args.repeats)
    return accuracy, speeds


def section_models(args, ours):
    """The models of the model, size, length and saliency sections: the bundled ones, and --model if given."""
    if args.ctc_model is None and "ctc" not in BUNDLED_MODELS:
        sys.exit("There is no bundled ctc model yet; pass --ctc-model PATH or --skip models sizes lengths saliency.")
    models = {"default": load_solver(None) if args.model else ours, "ctc": load_solver(args.ctc_model or "ctc")}
    models.update({name: load_solver(name) for name in BUNDLED_MODELS if name not in models})
    if args.model:
        models[args.model] = ours
    return models


def main():
    args = parse_args()
    os.makedirs(OUT, exist_ok=True)
    started = time.time()
    ours = load_solver(args.model)
    solvers = {"ours (default)": KerasSolver(ours, "ours (default)")}
    curves = {}
    if ours.metrics:
        curves["ours (the shipped model's run)"] = ours.metrics["history"]

    budget = {}
    if "training" not in args.skip:
        print(f"Training both networks for {args.budget_minutes:g} minutes each on the same fresh captchas...")
        for architecture, learning_rate in (("default", 2e-3), ("seed", 1e-3)):
            if architecture == "seed" and "seed" in args.skip:
                continue
            path, metrics = train_with_budget(architecture, args.budget_minutes, learning_rate)
            budget[architecture] = metrics
            if architecture == "seed":
                solvers["tutorial (seed)"] = KerasSolver(load_solver(path), "tutorial (seed)")

    accuracy, speeds = {}, {}
    if "comparison" not in args.skip:
        if "ddddocr" not in args.skip:
            solvers["ddddocr"] = DdddOcrSolver()
        accuracy, speeds = compare(args, solvers)

    generation = {}
    if "generation" not in args.skip:
        count = 600 if args.quick else 4000
        generation = {workers: generation_rate(workers, count) for workers in (1, 2)}
    throughput = {} if "throughput" in args.skip else training_throughput.measure(args.quick)

    model_results, sizes, lengths, saliency_results, pictured = {}, {}, {}, {}, {}
    if {"models", "sizes", "lengths", "saliency"} - set(args.skip):
        models = section_models(args, ours)
        if "models" not in args.skip:
            model_results = measure_models(models, args.count)
        if "sizes" not in args.skip:
            sizes = measure_sizes(models, args.cell_count)
            plot_sizes(sizes, os.path.join(BENCH, "accuracy_by_size.png"))
        if "lengths" not in args.skip:
            lengths = measure_lengths(models, args.cell_count)
            plot_lengths(lengths, os.path.join(BENCH, "accuracy_by_length.png"))
        if "saliency" not in args.skip:
            saliency_results, pictured = measure_saliency(models, args.saliency_count)
            plot_saliency(pictured, os.path.join(BENCH, "saliency.png"))

    if budget:
        plot_training({**curves, **budget_curves(budget)}, os.path.join(BENCH, "accuracy_vs_time.png"))
    if speeds:
        plot_speed(speeds, os.path.join(BENCH, "throughput.png"))
    command = " ".join(["python bench/run.py", *sys.argv[1:]])
    results = {"accuracy": accuracy, "speeds": speeds, "models": model_results, "generation": generation,
               "throughput": throughput,
               "budget": budget, "sizes": sizes, "lengths": lengths, "saliency": saliency_results, "command": command,
               "minutes": (time.time() - started) / 60}
    results["measured_by"] = {key: command for key in SECTION_RESULTS if results[key]}
    if accuracy:
        results["comparison_settings"] = {"frozen_count": args.frozen_count, "repeats": args.repeats}
    keep_previous_sections(results, os.path.join(BENCH, "results.json"))
    with open(os.path.join(BENCH, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2, default=str)
    write_markdown(args, ours, results, {**curves, **budget_curves(results["budget"])})
    print(f"Wrote bench/RESULTS.md in {results['minutes']:.1f} minutes.")


# The keys of results.json that hold each section's figures.
SECTION_RESULTS = ("accuracy", "speeds", "models", "budget", "generation", "throughput", "sizes", "lengths", "saliency")


def keep_previous_sections(results, path):
    """Fill the sections this run skipped from the previous results.json, with the command that measured them.

    A run of a few sections then refreshes those without dropping the others from RESULTS.md.
    """
    if not os.path.exists(path):
        return
    with open(path) as handle:
        previous = json.load(handle)
    for key in SECTION_RESULTS:
        if not results[key] and previous.get(key):
            results[key] = previous[key]
            results["measured_by"][key] = previous.get("measured_by", {}).get(key, previous["command"])
    if "comparison_settings" not in results and results["accuracy"]:
        # Results written before the settings were recorded came from runs with the defaults.
        results["comparison_settings"] = previous.get("comparison_settings", {"frozen_count": 2000, "repeats": 3})


def budget_curves(budget):
    """Validation histories of the same-budget runs, labelled with the budget they used."""
    return {f"{architecture}, {round(metrics['wall_seconds'] / 60)}-min budget": metrics["history"]
            for architecture, metrics in budget.items()}


def earlier_sections(results):
    """e.g. "accuracy, speeds by `python bench/run.py --budget-minutes 8`", or "none"."""
    by_command = {}
    for key, command in results["measured_by"].items():
        if command != results["command"]:
            by_command.setdefault(command, []).append(key)
    return "; ".join(f"{', '.join(keys)} by `{command}`" for command, keys in by_command.items()) or "none"


def write_markdown(args, ours, results, curves):
    lines = [
        "# Benchmark results",
        "",
        f"- command of the latest run: `{results['command']}` ({results['minutes']:.1f} minutes)",
        f"- sections kept from earlier runs: {earlier_sections(results)}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- hardware: {hardware()}",
        f"- versions: Python {platform.python_version()}, {versions()}",
    ]
    if results["accuracy"]:
        lines += [f"- test captchas: fresh stream seed {FRESH_SEED} (4 characters of 0-9A-Z, 170x80) and the frozen "
                  f"set `python -m captcha_model generate --count {results['comparison_settings']['frozen_count']} "
                  f"--seed {FROZEN_SEED}`"]
        lines += comparison_lines(args, ours, results["accuracy"], results["speeds"],
                                  results["comparison_settings"]["repeats"])
    if results["models"]:
        lines += model_lines(results["models"])
    lines += training_lines(curves)
    if results["generation"]:
        lines += ["## Data generation", "", "| worker processes | captchas/s |", "|---|---|"]
        lines += [f"| {workers} | {rate:.0f} |" for workers, rate in results["generation"].items()]
        lines.append("")
    if results["throughput"]:
        lines += training_throughput.lines(results["throughput"])
    if results["sizes"]:
        lines += size_lines(results["sizes"])
    if results["lengths"]:
        lines += length_lines(results["lengths"])
    if results["saliency"]:
        lines += saliency_lines(results["saliency"])
    # The sections other scripts measure follow, from their own files (see bench/sections.py).
    sections.write(None, [], main_part="\n".join(lines))


def comparison_lines(args, ours, accuracy, speeds, repeats):
    ours_name = "ours (default)"
    megabytes = os.path.getsize(args.model or BUNDLED_MODEL) / 2**20
    parameters = ours.model.count_params()
    lines = [
        "",
        "## The default model against its targets",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| full-captcha accuracy, fresh | {percent(accuracy[ours_name]['fresh'])} | >= 99.5% | "
        f"{verdict(accuracy[ours_name]['fresh']['accuracy'] >= TARGETS['accuracy'])} |",
        f"| full-captcha accuracy, frozen set | {percent(accuracy[ours_name]['frozen'])} | >= 99.5% | "
        f"{verdict(accuracy[ours_name]['frozen']['accuracy'] >= TARGETS['accuracy'])} |",
        f"| per-character accuracy, fresh | {accuracy[ours_name]['fresh']['character_accuracy']:.2%} | | |",
        f"| model file | {megabytes:.2f} MB, {parameters:,} parameters | <= 2 MB | {verdict(megabytes <= TARGETS['megabytes'])} |",
        f"| batch throughput | {speeds[ours_name]['batch_per_second']:.0f} captchas/s | >= 2000/s | "
        f"{verdict(speeds[ours_name]['batch_per_second'] >= TARGETS['batch_per_second'])} |",
        f"| batch throughput, network alone | {speeds[ours_name]['network_per_second']:.0f} captchas/s | >= 2000/s | "
        f"{verdict(speeds[ours_name]['network_per_second'] >= TARGETS['batch_per_second'])} |",
        f"| single image, median (p95) | {speeds[ours_name]['single_ms']:.1f} ms ({speeds[ours_name]['single_p95_ms']:.1f} ms) "
        f"| <= 5 ms | {verdict(speeds[ours_name]['single_ms'] <= TARGETS['single_ms'])} |",
        "",
        "Throughput and latency start from decoded PIL images and include preprocessing, except the "
        "row for the network alone, which starts from preprocessed batches; "
        f"medians of {repeats} repeats.",
        "",
        "## Side by side, on the same captchas",
        "",
        "| solver | accuracy, fresh | accuracy, frozen | per-character | captchas/s | single image (p95) | speed ratio ours / it |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in accuracy:
        ratio = speeds[ours_name]["batch_per_second"] / speeds[name]["batch_per_second"]
        lines.append(
            f"| {name} | {percent(accuracy[name]['fresh'])} | {percent(accuracy[name]['frozen'])} | "
            f"{accuracy[name]['fresh']['character_accuracy']:.2%} | {speeds[name]['batch_per_second']:.0f} | "
            f"{speeds[name]['single_ms']:.1f} ms ({speeds[name]['single_p95_ms']:.1f} ms) | {ratio:.1f}x |"
        )
    return lines + ["", "![throughput](throughput.png)"]


def model_lines(results):
    count = next(iter(results.values()))["n"]
    lines = ["", "## Every model on the same captchas", "",
             f"Each bundled model made for 4-character 170x80 captchas reads the {count:,} fresh ones of the "
             f"comparison (seed {FRESH_SEED}), so the default model's figure repeats the one above.", "",
             "| model | full-captcha accuracy (95% interval, n) | per character | captchas read wrong |",
             "|---|---|---|---|"]
    for name, result in results.items():
        lines.append(f"| {name} | {percent(result)} | {result['character_accuracy']:.2%} | "
                     f"{result['n'] - result['correct']:,} |")
    return lines


def training_lines(curves):
    lines = ["", "## Training cost", ""]
    if curves:
        lines += ["| run | 90% reached after | 99% reached after | final validation accuracy | total |",
                  "|---|---|---|---|---|"]
        for name, history in curves.items():
            cells = []
            for threshold in (0.90, 0.99):
                minutes, samples = time_to_reach(history, threshold)
                cells.append(f"{minutes:.0f} min, {samples:,} captchas" if minutes is not None else "not reached")
            last = history[-1]
            lines.append(f"| {name} | {cells[0]} | {cells[1]} | {last['val_accuracy']:.2%} | "
                         f"{last['wall_seconds'] / 60:.0f} min, {last['samples_seen']:,} captchas |")
        lines += ["", "Validation accuracy is measured after each epoch on fresh captchas; "
                  "the same-budget runs train on fresh captchas from one stream with the same flags.", "",
                  "![accuracy against training time](accuracy_vs_time.png)", ""]
    return lines


def size_lines(sizes):
    names = list(next(iter(sizes.values())))
    lines = ["## Accuracy per captcha size", "",
             f"{SIZES_LENGTH}-character captchas of 0-9A-Z at each size, drawn from seed {SIZES_SEED} plus the "
             "row's index; every model reads the same captchas, resized to its own input size. Cells: "
             "full-captcha accuracy (95% interval, n).", "",
             "| size | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for size, row in sizes.items():
        note = SIZE_NOTES.get(tuple(int(side) for side in size.split("x")))
        label = f"{size} ({note})" if note else size
        lines.append(f"| {label} | " + " | ".join(percent(row[name]) for name in names) + " |")
    return lines + ["", "![accuracy per captcha size](accuracy_by_size.png)", ""]


def length_lines(lengths):
    lines = ["## Accuracy per text length", ""]
    pooled_cells = lengths.get(size_name(POOLED_SIZE), {})
    # Every model that read all the pooled cells gets a pooled summary.
    names = dict.fromkeys(name for cell in pooled_cells.values() for name in cell)
    for name in names:
        results = [pooled_cells[length].get(name) for length in POOLED_LENGTHS if length in pooled_cells]
        if results and None not in results:
            summary = pooled(results)
            lines += [f"**{name} model, lengths {POOLED_LENGTHS[0]}-{POOLED_LENGTHS[-1]} at {size_name(POOLED_SIZE)}: "
                      f"{summary['accuracy']:.2%} over {summary['n']:,} captchas** (pooled; 95% interval "
                      f"{summary['low']:.2%}-{summary['high']:.2%}).", ""]
    lines += [f"The ctc model on captchas of one length each, drawn from seed {LENGTHS_SEED} plus the cell's index "
              "(sizes in the order of the columns, then lengths). Cells: full-captcha accuracy (95% interval, n).", "",
              "| characters | " + " | ".join(f"ctc, {size}" for size in lengths) + " |",
              "|---|" + "---|" * len(lengths)]
    for length in sorted({length for row in lengths.values() for length in row}):
        cells = [percent(row[length]["ctc"]) if length in row else "" for row in lengths.values()]
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    others = list(dict.fromkeys(name for row in lengths.values() for cell in row.values() for name in cell
                                if name != "ctc"))
    lines += ["", "The other models on the same captchas, where they were made for them:", "",
              "| captchas | ctc | " + " | ".join(others) + " |", "|---|" + "---|" * (1 + len(others))]
    for size, row in lengths.items():
        for length, cell in row.items():
            if set(cell) & set(others):
                shown = [percent(cell[name]) if name in cell else "" for name in others]
                lines.append(f"| {length} characters, {size} | {percent(cell['ctc'])} | " + " | ".join(shown) + " |")
    return lines + ["", "![accuracy per text length](accuracy_by_length.png)", ""]


def saliency_lines(results):
    lines = ["## Saliency honesty", "",
             "Each model explains its own readings with LayerCAM heat maps (`captcha_model.saliency`). For each "
             "character read, the box of half the input height and an eighth of its width with the most heat is "
             f"painted white (the background), and separately {RANDOM_BOXES} boxes of the same size at random "
             "places; the drop is the character's probability at its own output positions before minus after. "
             "Honest maps cost the character more when their hottest box is hidden than a random box does. "
             f"Captchas from seed {SALIENCY_SEED}, each model on its own kind of captcha.", "",
             "| model | captchas | characters read | box (input pixels) | mean drop, salient box | "
             "mean drop, random box | salient drop > mean random drop (95% interval) |",
             "|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        lines.append(f"| {name} | {result['captchas']:,} {result['test_captchas']} | {result['characters']:,} | "
                     f"{result['box'][0]}x{result['box'][1]} | {result['salient_drop']:.3f} | "
                     f"{result['random_drop']:.3f} | {result['share']:.1%} ({result['low']:.1%}-{result['high']:.1%}) |")
    return lines + ["", "Each pictured captcha, then one heat map per character read (its confidence in brackets) "
                    "with the box that the test masks:", "", "![saliency maps](saliency.png)", ""]


if __name__ == "__main__":
    main()
