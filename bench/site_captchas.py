"""Bench: a model for a site's own captchas, against the labels it had and the minutes it trained, beside ddddocr.

    python bench/site_captchas.py [--data ../shared/datasets/site-a] [--labels 250 500 1000 2000]
                                  [--minutes 15] [--budgets 5 10]

Each run is `python train.py --data FOLDER --max-minutes M` on a seeded subset of the site's
`train/` folder, as a user would run it; its model is then scored on the site's `test/`
folder, which no run trains on. ddddocr, which nobody trained for the site, reads the same
test images. Runs are kept in bench/out/site/, so a second call only scores them; figures go
to bench/results/site_captchas.json, bench/site_captchas.png and a section of bench/RESULTS.md.
`python bench/run.py` measures this section too, with the same options.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import provenance
from common import (
    OUT as BENCH_OUT,
    ROOT,
    DdddOcrSolver,
    KerasSolver,
    accuracy_of,
    folder_scored,
    percent,
    run_alone,
    save_plot,
    speed_of,
)
from matplotlib.figure import Figure

from captcha_model import load_solver
from captcha_model.data import labelled

OUT = os.path.join(BENCH_OUT, "site")
SUBSET_SEED = 0


def add_arguments(parser):
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets", "site-a"),
                        help="a folder with train/ and test/, each a folder of labelled captchas")
    parser.add_argument("--labels", type=int, nargs="+", default=[250, 500, 1000, 2000],
                        help="how many of train/ each run may use")
    parser.add_argument("--minutes", type=float, default=15.0, help="the budget of the label-count runs")
    parser.add_argument("--budgets", type=float, nargs="*", default=[5.0, 10.0],
                        help="shorter budgets for the run with every label, for the curve against minutes")


def quick(args):
    args.labels, args.minutes, args.budgets = [min(args.labels)], 2.0, []


def subset_folder(train, count):
    """A folder holding a seeded `count` of the captchas in `train`, with its own labels.csv."""
    captchas = labelled.read_labelled(train)
    if count > len(captchas):
        raise ValueError(f"{train} holds {len(captchas)} labelled captchas, fewer than {count}.")
    rows = sorted(np.random.default_rng(SUBSET_SEED).permutation(len(captchas))[:count])
    folder = os.path.join(OUT, f"labels-{count}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "labels.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text"])
        for row in rows:
            name = os.path.basename(captchas.names[row])
            shutil.copyfile(os.path.join(train, captchas.names[row]), os.path.join(folder, name))
            writer.writerow([name, captchas.texts[row]])
    return folder


def trained_model(train, labels, minutes):
    """The model of `train.py --data` on `labels` captchas within `minutes`, trained unless kept from before."""
    output = os.path.join(OUT, f"run-{labels}-{minutes:g}min")
    model = os.path.join(output, "model.keras")
    if not os.path.exists(model):
        folder = subset_folder(train, labels)
        started = time.time()
        subprocess.run([sys.executable, "train.py", "--data", folder, "--max-minutes", f"{minutes:g}",
                        "--output", output], cwd=ROOT, check=True, env={**os.environ, "CI": "1"})
        with open(os.path.join(output, "bench.json"), "w") as handle:
            json.dump({"command_seconds": time.time() - started}, handle)
    with open(os.path.join(output, "bench.json")) as handle:
        return model, json.load(handle)["command_seconds"]


def score(model, test, command_seconds, labels, minutes):
    return {"labels": labels, "minutes": minutes, "command_minutes": command_seconds / 60,
            **folder_scored(model, test)}


def plot(by_labels, by_minutes, ddddocr, path):
    figure = Figure(figsize=(10, 3.8))
    left, right = figure.subplots(1, 2, sharey=True)
    for axes, results, key, label in ((left, by_labels, "labels", "labelled captchas used (log scale)"),
                                      (right, by_minutes, "minutes", "training minutes, every label")):
        xs = [result[key] for result in results]
        ys = np.array([result["accuracy"] for result in results])
        errors = np.array([[result["accuracy"] - result["low"], result["high"] - result["accuracy"]]
                           for result in results]).T
        axes.errorbar(xs, ys * 100, yerr=errors * 100, marker="o", capsize=3, label="this project, trained")
        axes.axhline(ddddocr["accuracy"] * 100, color="#d9534f", linestyle="--", label="ddddocr, untrained")
        axes.set_xlabel(label)
        axes.grid(alpha=0.3)
        if key == "labels":
            axes.set_xscale("log")
            axes.minorticks_off()
            axes.set_xticks(xs, [f"{x:,}" for x in xs])
    left.set_ylabel("full-captcha accuracy on test/ (%)")
    left.legend(loc="lower right")
    save_plot(figure, path)


def lines(results):
    by_labels, by_minutes, ddddocr, speeds = (results[key] for key in ("by_labels", "by_minutes", "ddddocr", "speeds"))
    lines = [
        "## A site's own captchas",
        "",
        f"Data: `{results['data']}`: runs train on seeded subsets of `train/` and are scored on `test/`, which "
        "none trains on.",
        "",
        "| labels used | training budget | whole command | accuracy on test/ | per character |",
        "|---|---|---|---|---|",
    ]
    for result in by_labels + [result for result in by_minutes if result not in by_labels]:
        lines.append(f"| {result['labels']:,} | {result['minutes']:g} min | {result['command_minutes']:.1f} min | "
                     f"{percent(result)} | {result['character_accuracy']:.2%} |")
    lines += [
        f"| ddddocr, untrained | | | {percent(ddddocr)} | {ddddocr['character_accuracy']:.2%} |",
        "",
        "Each run is `python train.py --data FOLDER --max-minutes M` with every other setting at its default"
        + (". The load average (1 minute) was {:.1f} before the runs and {:.1f} after them; other work on the "
           "cores slows training, so the same minutes train more on an idle machine.".format(*results["load_average"])
           if "load_average" in results else "."),
        "",
        "![accuracy against labels and minutes](site_captchas.png)",
        "",
        "Reading speed on the same test images (batches, from decoded images, preprocessing included):",
        "",
        "| model | captchas/s | single image, median (p95) |",
        "|---|---|---|",
    ]
    return lines + [f"| {name} | {speed['batch_per_second']:,.0f} | {speed['single_ms']:.1f} ms "
                     f"({speed['single_p95_ms']:.1f} ms) |" for name, speed in speeds.items()]


def measure(bench):
    """Train (or reuse) a model per label count and budget, score each on test/, beside ddddocr; the plot."""
    args = bench.args
    if not os.path.isdir(os.path.join(args.data, "test")):
        raise ValueError(f"{args.data} has no test/ folder; pass --data FOLDER with train/ and test/ folders of "
                         "labelled captchas, or --skip site_captchas.")
    train, test = os.path.join(args.data, "train"), os.path.join(args.data, "test")
    load_before = os.getloadavg()[0]
    runs = [(labels, args.minutes) for labels in args.labels]
    runs += [(max(args.labels), budget) for budget in args.budgets]
    scores = {}
    for labels, minutes in runs:
        model, seconds = trained_model(train, labels, minutes)
        scores[labels, minutes] = score(model, test, seconds, labels, minutes)
        print(f"{labels} labels, {minutes:g} min: {percent(scores[labels, minutes])}", flush=True)
    by_labels = [scores[labels, args.minutes] for labels in args.labels]
    by_minutes = sorted((scores[max(args.labels), minutes] for minutes in {args.minutes, *args.budgets}),
                        key=lambda result: result["minutes"])
    captchas = labelled.read_labelled(test)
    ddddocr = accuracy_of(DdddOcrSolver(), captchas.images, captchas.texts)
    print(f"ddddocr: {percent(ddddocr)}")
    site_model = os.path.join(OUT, f"run-{max(args.labels)}-{args.minutes:g}min", "model.keras")
    readers = {f"site model ({max(args.labels)} labels)": site_model, "bundled ctc": provenance.model_files("ctc")[0]}
    speeds = {name: speed_of(KerasSolver(load_solver(path), name), captchas.images, repeats=3)
              for name, path in readers.items()}
    plot(by_labels, by_minutes, ddddocr, bench.path("site_captchas.png"))
    files = [os.path.join(OUT, f"run-{labels}-{minutes:g}min", "model.keras") for labels, minutes in runs]
    results = {"data": os.path.relpath(args.data, ROOT), "by_labels": by_labels, "by_minutes": by_minutes,
               "ddddocr": ddddocr, "speeds": speeds, "load_average": [load_before, os.getloadavg()[0]]}
    return results, [*files, readers["bundled ctc"]]


if __name__ == "__main__":
    run_alone(sys.modules[__name__], "site_captchas", "one run on the fewest labels for 2 minutes")
