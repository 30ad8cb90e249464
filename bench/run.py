"""Benchmarks: this project's model against the tutorial's network and ddddocr, in one run.

    python bench/run.py            # the full run (about an hour on 2 CPU cores)
    python bench/run.py --quick    # a few minutes, small samples
    python bench/run.py --help     # pick sections and sample sizes

Every solver reads the same captchas: a fresh seeded stream and a frozen folder of PNG
files written by `python -m captcha_model generate`. Speeds are repeated and the median
is kept; since this machine may be shared, ratios (ours / baseline) say more than
seconds. Results go to bench/RESULTS.md with plots beside it.
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

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from captcha_model import data, evaluation, load_solver  # noqa: E402
from captcha_model.evaluation import wilson_interval  # noqa: E402
from captcha_model.model import default_config  # noqa: E402
from captcha_model.solver import BUNDLED_MODEL  # noqa: E402

BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, "out")
FRESH_SEED = 5_000_000
FROZEN_SEED = 6_000_000
TRAINING_SEED = 1000

# Targets for the default model, from the project's core requirements.
TARGETS = {"accuracy": 0.995, "megabytes": 2.0, "batch_per_second": 2000, "single_ms": 5.0}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small samples: ends in a few minutes")
    parser.add_argument("--model", help="our model (default: the bundled one)")
    parser.add_argument("--count", type=int, default=10000, help="fresh captchas for our accuracy")
    parser.add_argument("--frozen-count", type=int, default=2000, help="captchas in the frozen PNG set")
    parser.add_argument("--baseline-count", type=int, default=2000,
                        help="fresh captchas for the baselines' accuracy (ddddocr takes ~40 ms each)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each speed measurement")
    parser.add_argument("--budget-minutes", type=float, default=15,
                        help="training budget for the tutorial network and for ours in the same-budget comparison")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "ddddocr", "seed", "generation"],
                        help="sections to leave out")
    args = parser.parse_args()
    if args.quick:
        args.count, args.frozen_count, args.baseline_count, args.repeats = 1000, 300, 200, 1
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
    files, texts = evaluation.read_labelled_folder(folder)
    from PIL import Image

    images = []
    for name in files:
        with Image.open(os.path.join(folder, name)) as image:
            images.append(image.copy())
    return images, texts


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
    data.render_dataset(default_config(), seed=7_000_000, count=count, workers=workers, progress=False)
    return count / (time.perf_counter() - started)


def time_to_reach(history, threshold):
    for record in history:
        if record.get("val_accuracy", 0) >= threshold:
            return record["wall_seconds"] / 60, record["samples_seen"]
    return None, None


def plot_training(curves, path):
    figure, (by_time, by_samples) = plt.subplots(1, 2, figsize=(11, 4))
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
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_speed(speeds, path):
    figure, (batch, single) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = list(speeds)
    batch.bar(names, [speeds[name]["batch_per_second"] for name in names], color="#4c72b0")
    batch.set_ylabel("captchas per second (batch)")
    batch.set_yscale("log")
    single.bar(names, [speeds[name]["single_ms"] for name in names], color="#dd8452")
    single.set_ylabel("single-image latency, median (ms)")
    single.set_yscale("log")
    for axes in (batch, single):
        axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
            curves[f"{architecture}, {args.budget_minutes:g}-min budget"] = metrics["history"]
            if architecture == "seed":
                solvers["tutorial (seed)"] = KerasSolver(load_solver(path), "tutorial (seed)")
    if "ddddocr" not in args.skip:
        solvers["ddddocr"] = DdddOcrSolver()

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

    generation = {}
    if "generation" not in args.skip:
        count = 600 if args.quick else 4000
        generation = {workers: generation_rate(workers, count) for workers in (1, 2)}

    plot_training(curves, os.path.join(BENCH, "accuracy_vs_time.png")) if curves else None
    plot_speed(speeds, os.path.join(BENCH, "throughput.png"))
    results = {"accuracy": accuracy, "speeds": speeds, "generation": generation, "budget": budget,
               "command": " ".join(["python bench/run.py", *sys.argv[1:]]), "minutes": (time.time() - started) / 60}
    with open(os.path.join(BENCH, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2, default=str)
    write_markdown(args, ours, accuracy, speeds, generation, curves, results)
    print(f"Wrote bench/RESULTS.md in {results['minutes']:.1f} minutes.")


def write_markdown(args, ours, accuracy, speeds, generation, curves, results):
    ours_name = "ours (default)"
    megabytes = os.path.getsize(args.model or BUNDLED_MODEL) / 2**20
    parameters = ours.model.count_params()
    lines = [
        "# Benchmark results",
        "",
        f"- command: `{results['command']}` ({results['minutes']:.0f} minutes)",
        f"- date: {datetime.date.today().isoformat()}",
        f"- hardware: {hardware()}",
        f"- versions: Python {platform.python_version()}, {versions()}",
        f"- test captchas: fresh stream seed {FRESH_SEED} (4 characters of 0-9A-Z, 170x80) and the frozen set "
        f"`python -m captcha_model generate --count {args.frozen_count} --seed {FROZEN_SEED}`",
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
        f"medians of {args.repeats} repeats.",
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
    lines += ["", "![throughput](throughput.png)", "", "## Training cost", ""]
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
    if generation:
        lines += ["## Data generation", "", "| worker processes | captchas/s |", "|---|---|"]
        lines += [f"| {workers} | {rate:.0f} |" for workers, rate in generation.items()]
        lines.append("")
    with open(os.path.join(BENCH, "RESULTS.md"), "w") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
