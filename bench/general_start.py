"""Bench: the general reader as the start of a site's model, against the bundled ctc model.

    python bench/general_start.py [--start-data ../shared/datasets/site-a] [--start-labels 100]
                                  [--start-epochs 2 5 10 40] [--start-from general]

Each run is `python train.py --data FOLDER --init-from START --epochs E --max-minutes 0` on the same
seeded subset of the site's `train/` folder (that of bench/site_captchas.py), so both starts
see the same labels and the same number of augmented samples; each model is then scored on the
site's `test/` folder, which no run trains on. The general model never saw the site: what it
brings is what it learnt from the project's own captchas. Runs are kept in bench/out/general-start/,
so a second call only scores them.
"""

import json
import os
import sys

from common import OUT as BENCH_OUT, ROOT, folder_scored, percent, run_alone, trained_once, verdict
from site_captchas import subset_folder

OUT = os.path.join(BENCH_OUT, "general-start")
BASELINE = "ctc"


def add_arguments(parser):
    parser.add_argument("--start-data", default=os.path.join(ROOT, "..", "shared", "datasets", "site-a"),
                        help="a folder with train/ and test/, each a folder of labelled captchas")
    parser.add_argument("--start-labels", type=int, default=100, help="how many of train/ each run may use")
    parser.add_argument("--start-epochs", type=int, nargs="+", default=[2, 5, 10, 40],
                        help="the training lengths compared, in epochs of train.py --data's recipe")
    parser.add_argument("--start-from", default="general",
                        help="the general reader to start from: a bundled name or a .keras file")


def quick(args):
    args.start_labels, args.start_epochs = 50, [2]


def started_model(train, start, labels, epochs):
    """The model of `train.py --data` on `labels` captchas of `train`, from `start`, for `epochs`; kept once trained."""
    # A model file is named by its folder, as train.py writes it: runs/NAME/model.keras.
    name = os.path.basename(os.path.dirname(os.path.abspath(start))) if start.endswith(".keras") else start
    output = os.path.join(OUT, f"{name}-{labels}-labels-{epochs}-epochs")
    model = os.path.join(output, "model.keras")
    # The subset of labels is written only for a run still to train.
    return model if os.path.exists(model) else trained_once(
        ["--data", subset_folder(train, labels), "--init-from", start, "--epochs", str(epochs), "--max-minutes", "0"],
        output)


def measure(bench):
    args = bench.args
    train, test = os.path.join(args.start_data, "train"), os.path.join(args.start_data, "test")
    if not os.path.isdir(test):
        raise ValueError(f"{args.start_data} has no test/ folder; pass --start-data FOLDER with train/ and test/ "
                         "folders of labelled captchas, or --skip general_start.")
    starts = {BASELINE: BASELINE, "general": args.start_from}
    runs, files = [], []
    for epochs in args.start_epochs:
        for name, start in starts.items():
            model = started_model(train, start, args.start_labels, epochs)
            with open(os.path.join(os.path.dirname(model), "metrics.json")) as handle:
                minutes = json.load(handle)["wall_seconds"] / 60
            runs.append({"start": name, "epochs": epochs, "training_minutes": minutes, **folder_scored(model, test)})
            files.append(model)
            print(f"from {name}, {epochs} epochs: {percent(runs[-1])}", flush=True)
    return {"data": os.path.relpath(os.path.abspath(args.start_data), ROOT), "labels": args.start_labels,
            "runs": runs}, files


def general_is_ahead(runs):
    """Whether the general start reads more of test/ than the baseline's at every training length."""
    by_start = {(run["start"], run["epochs"]): run["accuracy"] for run in runs}
    return all(by_start["general", epochs] > by_start[BASELINE, epochs] for epochs in {run["epochs"] for run in runs})


def lines(results):
    runs = results["runs"]
    return [
        "## The general reader as a start",
        "",
        f"`python train.py --data` on the same {results['labels']:,} labelled captchas of `{results['data']}/train`, "
        f"from the bundled `{BASELINE}` model or from the general reader, for the same epochs; scored on its "
        "`test/`, which no run trains on.",
        "",
        "| start | epochs | training | accuracy on test/ | per character |",
        "|---|---|---|---|---|",
        *[f"| {run['start']} | {run['epochs']} | {run['training_minutes']:.1f} min | {percent(run)} | "
          f"{run['character_accuracy']:.2%} |" for run in runs],
        "",
        f"Target: the general start reads more than the `{BASELINE}` start at every length: "
        f"{verdict(general_is_ahead(runs))}.",
    ]


if __name__ == "__main__":
    run_alone(sys.modules[__name__], "general_start", "50 labels, 2 epochs")
