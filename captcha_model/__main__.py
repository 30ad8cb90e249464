"""Command line: python -m captcha_model {solve,evaluate,generate,label,export,push,deploy} --help.

Solving, evaluating, generating and pre-labelling work in the light install (no TensorFlow, see
`captcha_model.reading.runtime`); export and push need the full one.
"""

import argparse
import csv
import json
import os
import sys
import tempfile

from captcha_model.config import CaptchaConfig, parse_size
from captcha_model.data import rendering
from captcha_model.data.labelled import describe_skipped
from captcha_model.environment import MODEL_VARIABLE, STRICT_VARIABLE
from captcha_model.image_input import open_image
from captcha_model.publishing import deploy as deploy_lib, hub
from captcha_model.reading import evaluation, prelabel, runtime
from captcha_model.reading.solver import (
    BUNDLED_EXPORTS,
    BUNDLED_MODELS,
    GENERAL_MODEL,
    goes_to_general,
    load_solver,
    load_solver_with_fallback,
)

BUNDLED_NAMES = ", ".join(BUNDLED_MODELS)
READABLE_NAMES = ", ".join([*BUNDLED_MODELS, *BUNDLED_EXPORTS])


def load_chosen_solver(args):
    """The solver --model names; with --fallback, the bundled one when that cannot be loaded.

    The fallback's notice is logged as a warning, which reaches stderr.
    """
    if args.fallback:
        return load_solver_with_fallback(args.model, args.runtime)[0]
    return load_solver(args.model, args.runtime)


def solve(args):
    solver = load_chosen_solver(args)
    # Without --model, a picture of a size the default model never read goes to the general model, as in the app.
    readers = {None: solver}
    routed = args.model is None and GENERAL_MODEL in BUNDLED_MODELS
    failed, by_general = False, 0
    for path in args.images:
        try:
            image = open_image(path)
            name = GENERAL_MODEL if routed and goes_to_general(solver.config, image.size) else None
            if name not in readers:
                readers[name] = load_solver(name, args.runtime)
            reading = readers[name].solve([image])[0]
        except ValueError as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed = True
            continue
        by_general += name == GENERAL_MODEL
        text = reading.text.upper() if args.ignore_case else reading.text
        print(f"{path}\t{text}\t{reading.confidence:.4f}")
    if by_general:
        print(f"The general model read {by_general} of the images: the default model never read captchas of their "
              "size. --model picks one model for all.", file=sys.stderr)
    return 1 if failed else 0


def evaluate(args):
    solver = load_chosen_solver(args)
    solvers = [solver] + ([load_solver(args.against, args.runtime)] if args.against else [])
    # Every model reads the same captchas: those of the first model's config.
    if args.folder:
        captchas = evaluation.read_test_captchas(solver.config, args.folder)
        # None: ignored where the model reads both cases and the labels have one (evaluation.labels_ignore_case).
        ignore_case = True if args.ignore_case else None
        reports = [evaluation.evaluate_labelled(each, captchas, ignore_case) for each in solvers]
    else:
        captchas = chosen_captchas(solver.config, args)
        reports = [evaluation.evaluate_stream(each, args.count, args.seed, captchas=captchas) for each in solvers]
    names = [args.model or "default", args.against]
    for name, report in zip(names, reports):
        print(f"{name}: {report.summary()}" if args.against else report.summary())
        for truth, predicted, times in report.confusions[:5]:
            print(f"  {truth} read as {predicted}: {times}x")
    values = reports[0].to_dict()
    if args.against:
        difference = evaluation.paired(*reports)
        print(f"On the same {reports[0].count} captchas, {names[0]} reads {difference['first_only']} that "
              f"{names[1]} gets wrong, and {names[1]} reads {difference['second_only']} that {names[0]} gets wrong "
              f"(exact McNemar p {p_value_text(difference['p_value'])}).")
        values["against"] = {**reports[1].to_dict(), "model": args.against, "paired": difference}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(values, handle, indent=2)
    return 0


def p_value_text(p_value):
    return "< 0.0001" if p_value < 1e-4 else f"= {p_value:.2g}"


def chosen_captchas(config, args):
    """`config` narrowed to the --size and --length given, e.g. to measure one size."""
    width, height = parse_size(args.size) if args.size else (None, None)
    return config.at(width, height, args.length)


def generate(args):
    # Without a model: the captchas of the default config (charset 0-9A-Z, length 4, 170x80).
    config = chosen_captchas(load_solver(args.model).config if args.model else CaptchaConfig(), args)
    if config.site:
        raise ValueError(f"--model {args.model} reads the captchas of a site ({config.site['source']}); "
                         "generate draws the captcha library's, which it was not trained for.")
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}.")
    os.makedirs(args.out, exist_ok=True)
    digits = len(str(args.count - 1))
    with open(os.path.join(args.out, "labels.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text"])
        for index in range(args.count):
            text, image = rendering.sample_captcha(config, args.seed, index)
            name = f"{index:0{digits}d}.png"
            image.save(os.path.join(args.out, name))
            writer.writerow([name, text])
    print(f"Wrote {args.count} captchas and labels.csv to {args.out}")
    return 0


def label(args):
    # Checked before the model loads and the images are read: a refusal costs nothing.
    prelabel.check_output(args.out, args.source, args.force)
    args.model = args.model or prelabel.default_model()
    solver = load_chosen_solver(args)
    result = prelabel.prelabel(args.source, solver, args.labels_from_names, progress=True)
    for name, reason in result.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if result.skipped:
        print(describe_skipped(result.skipped), file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    prelabel.write_prelabels(result.rows, args.out, args.source, args.force)
    typed = (f"then {result.typed_count:,} typed (labels from {result.labels_from})" if result.typed_count else
             "none typed" + ("" if result.labels_from != "nothing" else
                             " (no labels.csv; file names count as labels only with --labels-from-names)"))
    print(f"Wrote {len(result.rows):,} rows to {args.out}: {result.read_count:,} read by {args.model}, the least "
          f"sure first, {typed}.")
    return 0


def export(args):
    with runtime.full_install_needed():
        from captcha_model.publishing import export as exporter
    files, keras_solver = exporter.export(args.model, args.out_dir, args.format, args.quantize)
    print(f"Wrote {', '.join(os.path.basename(path) for path in files)} to {args.out_dir}")
    if args.check_count:
        same, count, difference = exporter.agreement(keras_solver, load_solver(args.out_dir, runtime.ONNX),
                                                     args.check_count)
        print(f"ONNX Runtime reads {same} of {count} fresh captchas as Keras does "
              f"(largest logit difference {difference:.2g}).")
    return 0


def push(args):
    model = BUNDLED_MODELS.get(args.model or "default", args.model)
    with tempfile.TemporaryDirectory() as scratch:
        if args.onnx:
            with runtime.full_install_needed():
                from captcha_model.publishing import export as exporter
            exporter.export(model, scratch)
        commit = hub.push(model, args.repo, private=args.private, base_model=args.base_model,
                          onnx_folder=scratch if args.onnx else None)
    print(f"Pushed {model}{' and its ONNX export' if args.onnx else ''} to {commit.repo_url} "
          f"at revision {commit.oid}")
    return 0


def deploy(args):
    commit = deploy_lib.deploy(args.space, model=args.model, strict=args.strict, private=args.private)
    print(f"Deployed the app to {commit.repo_url} at revision {commit.oid}")
    return 0


def add_captcha_options(command):
    command.add_argument("--size", metavar="WxH", help="draw every captcha at this size, e.g. 160x60 "
                                                      "(default: the model's size, or its range of sizes)")
    command.add_argument("--length", type=int, help="draw every captcha with this many characters "
                                                    "(default: the model's length, or its range)")


def add_model_options(command, default="the bundled default model"):
    command.add_argument("--model", help=f"a bundled model ({READABLE_NAMES}), a .keras file or a Hub repo "
                                         f"OWNER/NAME[@REVISION] (default: {default})")
    command.add_argument("--fallback", action="store_true",
                         help="use the bundled model, with a warning, when --model cannot be loaded")
    command.add_argument("--runtime", choices=runtime.RUNTIMES, help=runtime.RUNTIME_HELP)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m captcha_model",
                                     description="Solve, evaluate, generate and pre-label captchas; push models "
                                                 "and the app to the Hub.")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("solve", help="read captcha images: prints path<TAB>text<TAB>confidence")
    command.add_argument("images", nargs="+", help="image files (PNG, JPEG, GIF, WebP, BMP, TIFF)")
    command.add_argument("--ignore-case", action="store_true",
                         help="print readings in upper case, for sites that ignore case (the general model reads both)")
    add_model_options(command, default="the bundled default model, and the general one for pictures of sizes the "
                                       "default model never read")
    command.set_defaults(run=solve)

    command = commands.add_parser("evaluate", help="measure accuracy on fresh captchas or a labelled folder")
    command.add_argument("--count", type=int, default=1000, help="number of fresh captchas")
    command.add_argument("--seed", type=int, default=0, help="seed of the captcha stream")
    command.add_argument("--folder", help="a folder or .zip of labelled captchas (a labels.csv with columns "
                                          "file,text, or images named for their text), instead of fresh captchas")
    command.add_argument("--ignore-case", action="store_true",
                         help="with --folder: score without regard to case (the default where the model reads both "
                              "cases and the labels have one)")
    add_captcha_options(command)
    add_model_options(command)
    command.add_argument("--against", metavar="MODEL",
                         help="a second model to read the same captchas (those of --model): how many each reads that "
                              "the other gets wrong, and whether that difference is more than chance (exact McNemar "
                              "test)")
    command.add_argument("--json", help="also write the full report, failures included, to this file")
    command.set_defaults(run=evaluate)

    command = commands.add_parser("generate", help="write seeded captcha PNGs and labels.csv (file,text)")
    command.add_argument("--count", type=int, required=True, help="number of captchas")
    command.add_argument("--seed", type=int, required=True, help="seed of the captcha stream")
    command.add_argument("--out", required=True, help="output folder")
    command.add_argument("--model", help="draw captchas of this model's config (default: charset 0-9A-Z, "
                                         "length 4, 170x80)")
    add_captcha_options(command)
    command.set_defaults(run=generate)

    command = commands.add_parser(
        "label", help="pre-label captchas: a model's readings, least sure first, in a CSV to correct",
        description="Reads every image in FOLDER_OR_ZIP with a model and writes a CSV with the columns "
                    "file,text,confidence,typed: first the model's readings (typed=no), the least sure first, "
                    "since those are the ones to check; then the labels a person already typed (typed=yes), "
                    "which need no correcting. The typed labels are the rows of the folder's labels.csv; without "
                    "one, file names count as labels only with --labels-from-names, so that numbered files "
                    "(0001.png) are read by the model. The same image twice is read once, and unreadable images "
                    "are listed as skipped. Nothing in FOLDER_OR_ZIP is changed, and the CSV is written outside "
                    "it. As the folder's labels.csv, its rows marked typed=yes are the labels train.py --data trains "
                    "on and typed=no rows stay unlabelled (train.py --unlabelled learns from them): mark each row you "
                    "check or correct typed=yes.")
    command.add_argument("source", metavar="FOLDER_OR_ZIP", help="a folder (with its subfolders) or .zip of captcha "
                                                                 "images, with or without a labels.csv (file,text)")
    add_model_options(command, default="the bundled general reader of unseen sites' captchas where this version has "
                                       "it, else the bundled ctc model")
    command.add_argument("--out", default="prelabels.csv",
                         help="the CSV to write, outside FOLDER_OR_ZIP (default: prelabels.csv in the current folder)")
    command.add_argument("--force", action="store_true", help="replace --out where it exists")
    command.add_argument("--labels-from-names", action="store_true",
                         help="without a labels.csv, take images named for their text (7K2P.png, 7K2P_0001.png) "
                              "as typed, as train.py --data does")
    command.set_defaults(run=label)

    command = commands.add_parser("export", help="export a model for ONNX Runtime, which reads captchas without "
                                                 "TensorFlow")
    command.add_argument("model", nargs="?", metavar="MODEL",
                         help=f"a bundled model ({BUNDLED_NAMES}), a .keras file or a Hub repo OWNER/NAME[@REVISION] "
                              "(default: the bundled default model)")
    command.add_argument("out_dir", metavar="OUT_DIR", help="the folder to write model.onnx, captcha_config.json and, "
                                                            "where the model has a referee, its files to")
    command.add_argument("--format", default="onnx", choices=["onnx"], help="the export format (default: onnx)")
    command.add_argument("--quantize", action="store_true",
                         help="int8 weights and activations for the network and its referee")
    command.add_argument("--check-count", type=int, default=200,
                         help="fresh captchas read with both runtimes after the export, to compare (0: none)")
    command.set_defaults(run=export)

    command = commands.add_parser("push", help="upload a model, its metrics and a model card to the Hugging Face Hub",
                                  description="The token comes from HF_TOKEN or `hf auth login`.")
    command.add_argument("model", nargs="?", metavar="MODEL",
                         help=f"a bundled model's name ({BUNDLED_NAMES}) or a .keras file; metrics.json and "
                              "training_curve.png beside it go along (default: the bundled default model)")
    command.add_argument("repo", metavar="OWNER/NAME", help="the model repo, created if it does not exist")
    command.add_argument("--private", action="store_true", help="create the repo as private")
    command.add_argument("--onnx", action="store_true",
                         help="also upload the model's ONNX export, which a pull reads without TensorFlow")
    command.add_argument("--base-model", metavar="OWNER/NAME",
                         help="the Hub repo the model was fine-tuned from, for the card's base_model (default: "
                              "train.py's --init-from, where that names a repo)")
    command.set_defaults(run=push)

    command = commands.add_parser("deploy", help="upload the web app to a Hugging Face Space",
                                  description="Uploads exactly the files the Space runs, storing binaries as the "
                                              "Hub requires. The token comes from HF_TOKEN or `hf auth login`.")
    command.add_argument("space", metavar="OWNER/SPACE", help="the Space, created if it does not exist")
    command.add_argument("--model", metavar="OWNER/NAME@COMMIT",
                         help=f"set the Space's {MODEL_VARIABLE} variable: the model it serves (pin a commit)")
    command.add_argument("--strict", action="store_true",
                         help=f"set {STRICT_VARIABLE}=1: the Space fails to start rather than serve the bundled "
                              "model when --model cannot be loaded")
    command.add_argument("--private", action="store_true", help="create the Space as private")
    command.set_defaults(run=deploy)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
