"""Benchmarks: this project's model against the tutorial's network and ddddocr, and every section of RESULTS.md.

    python bench/run.py            # every section (hours on 2 CPU cores: the site section trains for 75 minutes)
    python bench/run.py --quick    # small samples
    python bench/run.py --help     # pick sections and sample sizes
    python bench/run.py --quick --skip comparison training generation throughput load runtimes site_captchas
    python bench/run.py --quick --skip ... --output /tmp/bench   # results and plots in another folder

Each section lives in a module of its own, which measures it and writes its Markdown and
plots: the comparison (comparison.py) and the training cost (training.py) against the
tutorial's network and ddddocr; why the tutorial's network does not learn on its own
recipe (tutorial_plateau.py); every model on the same captchas, per size and per length
(accuracy.py); rendering and training throughput (training_throughput.py); the saliency
test (saliency_honesty.py); the app under load (load.py); Keras against ONNX Runtime
(runtimes.py); a site's own captchas (site_captchas.py); the general reader zero-shot
(general_reader.py) and as the start of a site's model (general_start.py); labels typed least
sure first (labelling.py). Each saves its figures with the command, date and model files
(with their sha256) behind them in results/NAME.json and results/NAME.md of the output folder,
and RESULTS.md is assembled from every saved section (sections.py): sections that a run skips
keep the text, figures and plots of the run that measured them, which their provenance lines name.
"""

import argparse
import os
import sys
import time

import accuracy
import common  # noqa: F401 - first: it puts the project on the path
import comparison
import general_reader
import general_start
import labelling
import load
import provenance
import runtimes
import saliency_honesty
import sections
import site_captchas
import training
import training_throughput
import tutorial_plateau

# Each section: (measure(bench) -> (results, model files read), lines(results) -> its Markdown), in the
# order they run: training first, since the comparison reads the tutorial's network it trains.
SECTIONS = {
    "training": (training.measure, training.lines),
    "tutorial_plateau": (tutorial_plateau.measure, tutorial_plateau.lines),
    "comparison": (comparison.measure, comparison.lines),
    "models": (accuracy.measure_models, accuracy.model_lines),
    "generation": (training_throughput.measure_generation, training_throughput.generation_lines),
    "throughput": (training_throughput.measure, training_throughput.lines),
    "sizes": (accuracy.measure_sizes, accuracy.size_lines),
    "lengths": (accuracy.measure_lengths, accuracy.length_lines),
    "saliency": (saliency_honesty.measure, saliency_honesty.lines),
    "load": (load.measure, load.lines),
    "runtimes": (runtimes.measure, runtimes.lines),
    "site_captchas": (site_captchas.measure, site_captchas.lines),
    "general_reader": (general_reader.measure, general_reader.lines),
    "general_start": (general_start.measure, general_start.lines),
    "labelling": (labelling.measure, labelling.lines),
}
# Sections whose scripts also run alone, with options of their own.
SCRIPTS = {"load": load, "runtimes": runtimes, "site_captchas": site_captchas, "tutorial_plateau": tutorial_plateau,
           "general_reader": general_reader, "general_start": general_start, "labelling": labelling}
# Parts of sections that --skip also names: ddddocr in the comparison, the tutorial's network in training.
SKIP_CHOICES = ["comparison", "models", "training", "tutorial_plateau", "ddddocr", "seed", "generation", "throughput",
                "sizes", "lengths", "saliency", "load", "runtimes", "site_captchas", "general_reader",
                "general_start", "labelling"]


def parse_args(arguments):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small samples: ends in a few minutes")
    parser.add_argument("--model", help="our model (default: the bundled one); "
                        "the size and saliency sections measure it beside the bundled models")
    parser.add_argument("--ctc-model", help="the ctc model of the size, length and saliency sections "
                        "(default: the bundled one)")
    parser.add_argument("--count", type=int, default=10000,
                        help="fresh captchas for our accuracy, and for each model in each runtime")
    parser.add_argument("--frozen-count", type=int, default=2000, help="captchas in the frozen PNG set")
    parser.add_argument("--baseline-count", type=int, default=2000,
                        help="fresh captchas for the baselines' accuracy (ddddocr takes ~40 ms each)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each speed measurement")
    parser.add_argument("--budget-minutes", type=float, default=15,
                        help="training budget for the tutorial network and for ours in the same-budget comparison")
    parser.add_argument("--tutorial-model",
                        help="the tutorial's network trained with its own recipe (python train.py --recipe seed "
                        "--output runs/recipe-seed): the comparison reads it beside the others")
    parser.add_argument("--cell-count", type=int, default=2000,
                        help="fresh captchas per size and per length in the size and length sections")
    parser.add_argument("--saliency-count", type=int, default=200, help="captchas per model in the saliency section")
    parser.add_argument("--skip", nargs="*", default=[], choices=SKIP_CHOICES,
                        help="sections to leave out; 'comparison' is the accuracy and speed of ours against "
                        "the baselines")
    parser.add_argument("--output", default=common.BENCH,
                        help="the folder of RESULTS.md, its plots and results/ (default: bench/)")
    for name, script in SCRIPTS.items():
        script.add_arguments(parser.add_argument_group(f"the {name} section (bench/{name}.py)"))
    args = parser.parse_args(arguments)
    if args.quick:
        args.count, args.frozen_count, args.baseline_count, args.repeats = 1000, 300, 200, 1
        args.cell_count, args.saliency_count = 200, 30
        args.budget_minutes = min(args.budget_minutes, 2)
        for script in SCRIPTS.values():
            script.quick(args)
    return args


def main(arguments=None):
    arguments = sys.argv[1:] if arguments is None else arguments
    args = parse_args(arguments)
    os.makedirs(common.OUT, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    bench = common.Bench(args, provenance.command("run.py", arguments), args.output)
    started = time.time()
    for name, (measure, lines) in SECTIONS.items():
        if name not in args.skip:
            sections.run(bench, name, measure, lines)
    path = sections.assemble(args.output)
    print(f"Wrote {path} in {(time.time() - started) / 60:.1f} minutes.")


if __name__ == "__main__":
    main()
