"""Bench: how many labels a person types before a site's model reads its test captchas, least sure first or not.

    python bench/labelling.py [--site ../shared/datasets/site-a] [--start-model ctc] [--per-round 50]
                              [--max-typed 300] [--round-minutes 5] [--all-typed-minutes 15]

A simulated person labels the captchas of the site's `train/` folder round after round, as the
"Your captchas" tab offers them: the newest model pre-labels every captcha (`prelabel.prelabel`,
what `python -m captcha_model label` runs), the person types the true labels of the `--per-round`
least sure captchas not typed yet, and `python -m captcha_model.training --data FOLDER --unlabelled
FOLDER` trains from the newest model on the typed labels and the captchas left untyped. The truth
comes from `train/`'s labels, which no model sees otherwise; every round's model is scored on
`test/`, which nothing trains on. The same person typing in a seeded random order is the
comparison, and every label of `train/` typed is the ceiling. Runs are kept in
bench/out/labelling/SITE/, so a second call only scores them.
"""

import json
import os
import sys

import numpy as np
from common import OUT as BENCH_OUT, ROOT, folder_scored, percent, run_alone, save_plot, trained_once, verdict
from matplotlib.figure import Figure

from captcha_model import load_solver
from captcha_model.data import labelled
from captcha_model.reading import prelabel

OUT = os.path.join(BENCH_OUT, "labelling")
ORDER_SEED = 0
LEAST_SURE, RANDOM = "least sure first", "random order"
# The target: site-a read >= 99% with at most 150 labels typed.
TARGET_TYPED = 150


def add_arguments(parser):
    parser.add_argument("--site", default=os.path.join(ROOT, "..", "shared", "datasets", "site-a"),
                        help="a folder with train/ and test/, each a folder of labelled captchas")
    parser.add_argument("--start-model", default="ctc",
                        help="the model the first pre-labels and training start from")
    parser.add_argument("--per-round", type=int, default=50, help="labels the person types each round")
    parser.add_argument("--max-typed", type=int, default=300, help="the person stops after typing this many")
    parser.add_argument("--round-minutes", type=float, default=5.0, help="the training budget of each round")
    parser.add_argument("--all-typed-minutes", type=float, default=15.0,
                        help="the training budget of the ceiling, every label of train/ typed")
    parser.add_argument("--target-accuracy", type=float, default=0.99,
                        help="the accuracy on test/ that ends the rounds")


def quick(args):
    args.per_round, args.max_typed, args.round_minutes, args.all_typed_minutes = 30, 60, 1.0, 1.0


def write_typed_folder(train, captchas, typed, folder):
    """`folder`: every image of `train` (linked, not copied) and a labels.csv of the `typed` names alone, marked
    typed as the "Your captchas" tab writes them."""
    os.makedirs(folder, exist_ok=True)
    for name in captchas.names:
        if not os.path.exists(os.path.join(folder, name)):
            os.link(os.path.join(train, name), os.path.join(folder, name))
    truth = dict(zip(captchas.names, captchas.texts, strict=True))
    prelabel.write_rows([prelabel.Row(name, truth[name], None, True) for name in sorted(typed)],
                        os.path.join(folder, "labels.csv"))


def score(model, test, typed):
    return {"typed": typed, **folder_scored(model, test), "model": os.path.relpath(model, ROOT)}


def site_runs(args):
    """The folder of this site's runs under OUT, named for the site's folder."""
    return os.path.join(OUT, os.path.basename(os.path.normpath(args.site)))


def rounds(args, order, captchas, train_folder, test):
    """The person's rounds in `order`, each scored on `test`, until the target or --max-typed: [score, ...]."""
    slug = order.replace(" ", "-")
    root = os.path.join(site_runs(args), f"{slug}-from-{os.path.basename(args.start_model)}-{args.per_round}-"
                                         f"{args.round_minutes:g}min")
    folder = os.path.join(root, "captchas")
    shuffled = list(np.random.default_rng(ORDER_SEED).permutation(captchas.names))
    typed, model, results = [], args.start_model, []
    while len(typed) < min(args.max_typed, len(captchas.names)):
        output = os.path.join(root, f"round-{len(results) + 1}")
        chosen_path = os.path.join(output, "typed.json")
        if os.path.exists(chosen_path):
            with open(chosen_path) as handle:
                typed = json.load(handle)
        else:
            write_typed_folder(train_folder, captchas, typed, folder)
            if order == LEAST_SURE:
                candidates = [row.file for row in prelabel.prelabel(folder, load_solver(model)).rows if not row.typed]
            else:
                already = set(typed)
                candidates = [name for name in shuffled if name not in already]
            typed = typed + candidates[: args.per_round]
            os.makedirs(output, exist_ok=True)
            with open(chosen_path, "w") as handle:
                json.dump(typed, handle)
        write_typed_folder(train_folder, captchas, typed, folder)
        model = trained_once(["--data", folder, "--unlabelled", folder, "--init-from", model,
                       "--max-minutes", f"{args.round_minutes:g}"], output)
        results.append(score(model, test, len(typed)))
        print(f"{order}: {len(typed)} typed, {percent(results[-1])}", flush=True)
        if results[-1]["accuracy"] >= args.target_accuracy:
            break
    return results


def typed_to_reach(results, target):
    """The fewest labels typed whose model read at least `target`, or None."""
    return next((result["typed"] for result in results if result["accuracy"] >= target), None)


def plot(results, path):
    figure = Figure(figsize=(6.5, 4))
    axes = figure.subplots()
    for order in (LEAST_SURE, RANDOM):
        scores = results["orders"][order]
        ys = np.array([score["accuracy"] for score in scores]) * 100
        errors = np.array([[score["accuracy"] - score["low"], score["high"] - score["accuracy"]]
                           for score in scores]).T * 100
        axes.errorbar([score["typed"] for score in scores], ys, yerr=errors, marker="o", capsize=3, label=order)
    ceiling = results["all_typed"]
    axes.axhline(ceiling["accuracy"] * 100, color="#5cb85c", linestyle="--",
                 label=f"all {ceiling['typed']:,} typed")
    axes.axhline(results["target"] * 100, color="#999999", linestyle=":", label="target")
    axes.set_xlabel("labels typed")
    axes.set_ylabel("whole captchas read right on test/ (%)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    save_plot(figure, path)


def lines(results):
    lines = [
        "## Few labels: typing the least sure first",
        "",
        f"Data: `{results['data']}`. A simulated person types {results['per_round']} true labels of `train/` a "
        f"round; each round trains from the newest model (the first from `{results['start']}`) for "
        f"{results['minutes']:g} min on the typed labels and the untyped captchas "
        "(`python -m captcha_model.training --data FOLDER --unlabelled FOLDER --init-from MODEL`), and is scored "
        "on `test/`, which nothing trains on.",
        "",
        "| labels typed | " + " | ".join(results["orders"]) + " |",
        "|---|" + "---|" * len(results["orders"]),
    ]
    counts = sorted({score["typed"] for scores in results["orders"].values() for score in scores})
    for count in counts:
        cells = [next((percent(score) for score in scores if score["typed"] == count), "")
                 for scores in results["orders"].values()]
        lines.append(f"| {count:,} | " + " | ".join(cells) + " |")
    ceiling = results["all_typed"]
    reached = results["typed_to_target"]
    least_sure = reached[LEAST_SURE]
    lines += [
        f"| all {ceiling['typed']:,} typed ({results['all_typed_minutes']:g} min) | {percent(ceiling)} |"
        + " |" * (len(results["orders"]) - 1),
        "",
        "![accuracy against labels typed](labelling.png)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| >= {results['target']:.0%} of test/ with <= {TARGET_TYPED} labels typed | "
        + (f"{least_sure} typed" if least_sure else f"not reached with {max(counts)} typed")
        + f" | {verdict(bool(least_sure) and least_sure <= TARGET_TYPED)} |",
    ]
    return lines


def measure(bench):
    args = bench.args
    train_folder, test = os.path.join(args.site, "train"), os.path.join(args.site, "test")
    if not (os.path.isdir(train_folder) and os.path.isdir(test)):
        raise ValueError(f"{args.site} needs train/ and test/ folders of labelled captchas.")
    captchas = labelled.read_labelled(train_folder)
    orders = {order: rounds(args, order, captchas, train_folder, test) for order in (LEAST_SURE, RANDOM)}
    ceiling_model = trained_once(["--data", train_folder, "--init-from", args.start_model,
                           "--max-minutes", f"{args.all_typed_minutes:g}"],
                          os.path.join(site_runs(args), f"all-typed-from-{os.path.basename(args.start_model)}-"
                                                        f"{args.all_typed_minutes:g}min"))
    target = args.target_accuracy
    results = {"data": os.path.relpath(args.site, ROOT), "start": args.start_model, "per_round": args.per_round,
               "minutes": args.round_minutes, "all_typed_minutes": args.all_typed_minutes, "target": target,
               "orders": orders, "all_typed": score(ceiling_model, test, len(captchas.names)),
               "typed_to_target": {order: typed_to_reach(scores, target) for order, scores in orders.items()}}
    plot(results, bench.path("labelling.png"))
    models = [score["model"] for scores in orders.values() for score in scores] + [results["all_typed"]["model"]]
    return results, [os.path.join(ROOT, model) for model in models]

if __name__ == "__main__":
    run_alone(sys.modules[__name__], "labelling", "30 labels a round up to 60, one minute each")
