"""The comparison section: the default model against its targets, and beside the tutorial's network and ddddocr.

Every solver reads the same fresh captchas (seed FRESH_SEED) and a frozen folder of PNG
files written by `python -m captcha_model generate`; ddddocr and the tutorial's network
read fewer of the fresh ones (--baseline-count), since ddddocr takes ~40 ms each. The
tutorial's network is the one the training section trains, so it appears only where that
section runs first.
"""

import os
import statistics
import subprocess
import sys
import time

import provenance
from common import (
    FRESH_SEED,
    OUT,
    ROOT,
    DdddOcrSolver,
    KerasSolver,
    accuracy_of,
    fresh_images,
    percent,
    save_plot,
    speed_of,
    verdict,
)
from matplotlib.figure import Figure

from captcha_model import load_solver
from captcha_model.data import labelled, preprocessing

FROZEN_SEED = 6_000_000
OURS = "ours (default)"
TUTORIAL_RECIPE = "tutorial's network, its own recipe (recipes/seed.json)"
# Targets for the default model, from the project's core requirements.
TARGETS = {"accuracy": 0.995, "megabytes": 2.0, "batch_per_second": 2000, "single_ms": 5.0}


def frozen_images(count):
    folder = os.path.join(OUT, f"frozen-{FROZEN_SEED}-{count}")
    if not os.path.exists(os.path.join(folder, "labels.csv")):
        subprocess.run([sys.executable, "-m", "captcha_model", "generate", "--count", str(count),
                        "--seed", str(FROZEN_SEED), "--out", folder], cwd=ROOT, check=True)
    captchas = labelled.read_labelled(folder)
    return captchas.images, captchas.texts


def network_throughput(solver, images, repeats):
    """Captchas/s of the network alone, on inputs already preprocessed (median of `repeats`)."""
    inputs = preprocessing.preprocess(images, solver.config)
    solver.solve_inputs(inputs[:8])
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        solver.solve_inputs(inputs)
        rates.append(len(inputs) / (time.perf_counter() - started))
    return statistics.median(rates)


def measure(bench):
    """Accuracy on the shared fresh and frozen captchas, and speed, of every solver; the throughput plot."""
    args = bench.args
    solvers = {OURS: KerasSolver(bench.ours, OURS), **bench.extra_solvers}
    files = [*provenance.model_files(args.model), *bench.extra_files]
    if args.tutorial_model:
        solvers[TUTORIAL_RECIPE] = KerasSolver(load_solver(args.tutorial_model), TUTORIAL_RECIPE)
        files.append(args.tutorial_model)
    if "ddddocr" not in args.skip:
        solvers["ddddocr"] = DdddOcrSolver()
    print("Rendering the shared test captchas...")
    fresh, fresh_texts = fresh_images(args.count)
    frozen, frozen_texts = frozen_images(args.frozen_count)
    accuracy, speeds = {}, {}
    for name, solver in solvers.items():
        count = args.count if name == OURS else min(args.baseline_count, args.count)
        print(f"Measuring {name} on {count} fresh and {len(frozen)} frozen captchas...")
        accuracy[name] = {"fresh": accuracy_of(solver, fresh[:count], fresh_texts[:count]),
                          "frozen": accuracy_of(solver, frozen, frozen_texts)}
        speed_images = fresh[:2000] if name != "ddddocr" else fresh[:300]
        speeds[name] = speed_of(solver, speed_images, args.repeats)
        if isinstance(solver, KerasSolver):
            speeds[name]["network_per_second"] = network_throughput(solver.solver, speed_images, args.repeats)
    plot_speed(speeds, bench.path("throughput.png"))
    return {"accuracy": accuracy, "speeds": speeds, "frozen_count": args.frozen_count, "repeats": args.repeats,
            "megabytes": os.path.getsize(files[0]) / 2**20, "parameters": bench.ours.model.count_params()}, files


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


def lines(results):
    accuracy, speeds, megabytes = results["accuracy"], results["speeds"], results["megabytes"]
    ours, ours_speed = accuracy[OURS], speeds[OURS]
    lines = [
        "## The default model against its targets",
        "",
        f"Test captchas: fresh stream seed {FRESH_SEED} (4 characters of 0-9A-Z, 170x80) and the frozen set "
        f"`python -m captcha_model generate --count {results['frozen_count']} --seed {FROZEN_SEED}`.",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| full-captcha accuracy, fresh | {percent(ours['fresh'])} | >= 99.5% | "
        f"{verdict(ours['fresh']['accuracy'] >= TARGETS['accuracy'])} |",
        f"| full-captcha accuracy, frozen set | {percent(ours['frozen'])} | >= 99.5% | "
        f"{verdict(ours['frozen']['accuracy'] >= TARGETS['accuracy'])} |",
        f"| per-character accuracy, fresh | {ours['fresh']['character_accuracy']:.2%} | | |",
        f"| model file | {megabytes:.2f} MB, {results['parameters']:,} parameters | <= 2 MB | "
        f"{verdict(megabytes <= TARGETS['megabytes'])} |",
        f"| batch throughput | {ours_speed['batch_per_second']:.0f} captchas/s | >= 2000/s | "
        f"{verdict(ours_speed['batch_per_second'] >= TARGETS['batch_per_second'])} |",
        f"| batch throughput, network alone | {ours_speed['network_per_second']:.0f} captchas/s | >= 2000/s | "
        f"{verdict(ours_speed['network_per_second'] >= TARGETS['batch_per_second'])} |",
        f"| single image, median (p95) | {ours_speed['single_ms']:.1f} ms ({ours_speed['single_p95_ms']:.1f} ms) "
        f"| <= 5 ms | {verdict(ours_speed['single_ms'] <= TARGETS['single_ms'])} |",
        "",
        "Throughput and latency start from decoded PIL images and include preprocessing, except the "
        "row for the network alone, which starts from preprocessed batches; "
        f"medians of {results['repeats']} repeats.",
        "",
        "## Side by side, on the same captchas",
        "",
        "| solver | accuracy, fresh | accuracy, frozen | per-character | captchas/s | single image (p95) | "
        "speed ratio ours / it |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in accuracy:
        ratio = ours_speed["batch_per_second"] / speeds[name]["batch_per_second"]
        lines.append(
            f"| {name} | {percent(accuracy[name]['fresh'])} | {percent(accuracy[name]['frozen'])} | "
            f"{accuracy[name]['fresh']['character_accuracy']:.2%} | {speeds[name]['batch_per_second']:.0f} | "
            f"{speeds[name]['single_ms']:.1f} ms ({speeds[name]['single_p95_ms']:.1f} ms) | {ratio:.1f}x |"
        )
    return lines + ["", "![throughput](throughput.png)"]
