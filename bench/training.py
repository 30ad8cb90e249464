"""The training section: how fast our network and the tutorial's learn, on the same budget of minutes.

Both train on fresh captchas of one stream with the same flags for --budget-minutes each
(the tutorial's network unless --skip seed); the shipped model's own run stands beside
them, from its metrics.json. The tutorial's network then joins the comparison section.
"""

import json
import os
import subprocess
import sys

import provenance
from common import OUT, ROOT, KerasSolver, save_plot
from matplotlib.figure import Figure

from captcha_model import load_solver

TRAINING_SEED = 1000
TUTORIAL = "tutorial (seed)"


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


def measure(bench):
    """{"curves": {run: validation history}}: the shipped model's run, then each same-budget run."""
    args = bench.args
    curves, files = {}, []
    if bench.ours.metrics:
        curves["ours (the shipped model's run)"] = bench.ours.metrics["history"]
        files += provenance.model_files(args.model)
    print(f"Training both networks for {args.budget_minutes:g} minutes each on the same fresh captchas...")
    for architecture, learning_rate in (("default", 2e-3), ("seed", 1e-3)):
        if architecture == "seed" and "seed" in args.skip:
            continue
        path, metrics = train_with_budget(architecture, args.budget_minutes, learning_rate)
        curves[f"{architecture}, {round(metrics['wall_seconds'] / 60)}-min budget"] = metrics["history"]
        files.append(path)
        if architecture == "seed":
            bench.extra_solvers[TUTORIAL] = KerasSolver(load_solver(path), TUTORIAL)
            bench.extra_files.append(path)
    plot_training(curves, bench.path("accuracy_vs_time.png"))
    return {"curves": curves}, files


def time_to_reach(history, threshold):
    for record in history:
        if record.get("val_accuracy", 0) >= threshold:
            return record["wall_seconds"] / 60, record["samples_seen"]
    return None, None


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


def lines(results):
    lines = ["## Training cost", "",
             "| run | 90% reached after | 99% reached after | final validation accuracy | total |",
             "|---|---|---|---|---|"]
    for name, history in results["curves"].items():
        cells = []
        for threshold in (0.90, 0.99):
            minutes, samples = time_to_reach(history, threshold)
            cells.append(f"{minutes:.0f} min, {samples:,} captchas" if minutes is not None else "not reached")
        last = history[-1]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {last['val_accuracy']:.2%} | "
                     f"{last['wall_seconds'] / 60:.0f} min, {last['samples_seen']:,} captchas |")
    return lines + ["", "Validation accuracy is measured after each epoch on fresh captchas; "
                    "the same-budget runs train on fresh captchas from one stream with the same flags.", "",
                    "![accuracy against training time](accuracy_vs_time.png)"]
