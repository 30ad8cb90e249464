"""Train captcha solvers: python train.py --help.

`python train.py` alone runs the recipe of the bundled default model (recipes/default.json),
every stage of it, referee included; `--recipe NAME` (or a .json path) runs another,
`--output` says where, and `--resume` carries on after a crash or `kill -9` (see
captcha_model/recipes.py). `python train.py referee --help` is the referee stage
(train_referee.py). Any other flag makes one run of the network, described below.

One run uses every visible GPU (mirrored when there are several; a cluster of machines
with TF_CONFIG), else the CPU, and says which, with the precision and batch size (see
captcha_model/distribute.py). Each epoch ends with validation on fresh captchas, one log
line and an atomic checkpoint, so `--resume` after a crash or `kill -9` loses at most the
epoch in progress. At the end the model is evaluated on fresh captchas and written with a
metrics JSON and a training-curve PNG beside it.
"""

import argparse
import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import time

import keras

from captcha_model import config as config_lib
from captcha_model.config import parse_size
from captcha_model.data import augment, labelled, preprocessing, rendering, seeds
from captcha_model.networks import model as model_lib
from captcha_model.networks import model_file
from captcha_model.publishing import hub
from captcha_model.reading import evaluation
from captcha_model.reading.solver import BUNDLED_MODELS, Solver, load_solver
from captcha_model.training import cluster_loop, distribute, pipeline, recipes, referee_stage, site_training, warm_start

CHECKPOINT = "checkpoint.keras"
STATE = "state.json"
OPTIMIZERS = {"adam": keras.optimizers.Adam, "adadelta": keras.optimizers.Adadelta}

# Seeds of the captcha streams. Training, validation and the final test never share a
# stream, so no accuracy figure is measured on a captcha the model trained on.

# The flags of a run on the library's captchas unless the command line says otherwise (batch
# size, learning rate and steps per epoch follow the devices: see distribute.resolve_settings);
# `train.py --data` has a recipe of its own (`site_training.RECIPE`).
LIBRARY_RECIPE = {
    "epochs": 30,
    "warmup_epochs": 1,
    "max_minutes": 0.0,
    "patience": 8,
    # Training batches averaged to set the BatchNorm statistics before each validation.
    "calibration_batches": 50,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="A recipe run takes only --recipe NAME (default: default), --output, --resume, --cache-dir and "
               "--workers; recipes/ holds the recipes of the bundled models.")
    parser.add_argument("--arch", default="default", help=f"architecture: one of {sorted(config_lib.ARCHITECTURES)}")
    parser.add_argument("--lengths", metavar="MIN-MAX", type=parse_lengths,
                        help="text lengths to train on, e.g. 4 or 1-8 (default: the architecture's)")
    parser.add_argument("--size", metavar="WxH", type=parse_size_option,
                        help="the captcha size, e.g. 170x80: all of them, or the most frequent within --size-range "
                             "(default: the architecture's)")
    parser.add_argument("--size-range", metavar="WxH-WxH", type=parse_size_range,
                        help="also train on sizes from the first to the second, e.g. 120x50-240x100 "
                             "(default: the architecture's)")
    parser.add_argument("--trunk-widths", metavar="A,B,C,D", type=parse_widths,
                        help="channels of the four stages of the convolutional trunk, e.g. 32,64,64,128 "
                             "(default: the architecture's)")
    parser.add_argument("--input-pooling", metavar="N", type=int, default=1,
                        help="take the input at N times the architecture's input size and average N x N blocks "
                             "before the trunk, so that a referee (train_referee.py) sees finer detail")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="a bundled model's name or a .keras file (with --data, default: "
                             f"{site_training.BASE_MODEL}); start from the weights of this model's layers that have the same names, or the same "
                             "names and fewer channels (the extra channels start so that the network computes "
                             "what that model did)")
    def recipes_default(name):
        return f"(default: {LIBRARY_RECIPE[name]}; with --data, {site_training.RECIPE[name]})"

    parser.add_argument("--epochs", type=int, help="number of epochs " + recipes_default("epochs"))
    parser.add_argument("--steps-per-epoch", type=int,
                        help="batches per epoch (default: 64,000 captchas' worth, 1000 batches of 64; with --data, "
                             f"{site_training.RECIPE['steps_per_epoch']})")
    parser.add_argument("--batch-size", type=int,
                        help="captchas per batch over all devices (default: 512 per GPU, else 64; with --data, "
                             f"{site_training.RECIPE['batch_size']})")
    parser.add_argument("--learning-rate", type=float,
                        help="peak learning rate of the cosine schedule (default: 2e-3 times the square root of "
                             f"the batch size over 64; with --data, {site_training.RECIPE['learning_rate']})")
    parser.add_argument("--steps-per-execution", type=int,
                        help="batches per call into the device; must divide --steps-per-epoch "
                             "(default: up to 32 on a GPU, else 1)")
    parser.add_argument("--precision", choices=distribute.PRECISIONS, default="auto",
                        help="float32, or mixed_float16 (float16 compute, float32 weights and logits); "
                             "auto: mixed_float16 on a GPU, else float32")
    parser.add_argument("--warmup-epochs", type=int,
                        help="epochs of linear learning-rate warm-up " + recipes_default("warmup_epochs"))
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                        help="the learning rate after the warm-up: a cosine decay to 0 over --epochs, or constant")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="adam, or adadelta (the tutorial's, with --learning-rate 1.0)")
    parser.add_argument("--patience", type=int,
                        help="stop after this many epochs without a better validation accuracy; 0: never "
                             + recipes_default("patience"))
    parser.add_argument("--max-minutes", type=float,
                        help="stop after the first epoch that ends past this much training time, the learning "
                             "rate annealed to fit; 0: no limit " + recipes_default("max_minutes"))
    parser.add_argument("--data", metavar="FOLDER",
                        help="train for a site's own captchas: a folder or .zip of labelled images (a labels.csv "
                             "with columns file,text, or images named for their text like 7K2P.png or 7K2P_01.png)")
    parser.add_argument("--validation-data", metavar="FOLDER",
                        help="with --data: score on these labelled captchas instead of a held-out share of --data")
    parser.add_argument("--holdout", type=float, default=0.1,
                        help="with --data: the seeded share held out to validate and test on")
    parser.add_argument("--uppercase", action="store_true",
                        help="with --data: read labels without regard to case (for sites that ignore it)")
    parser.add_argument("--charset", help="with --data: the characters to read (default: those of the labels)")
    parser.add_argument("--input-size", metavar="WxH", type=parse_size_option,
                        help="with --data: the network's input size (default: the images' aspect ratio at the "
                             "base model's input height)")
    parser.add_argument("--train-size", type=int, default=400_000,
                        help="render this many captchas once (kept in --cache-dir) and cycle through them; "
                             "0: render every batch afresh, which costs CPU but never repeats a captcha")
    parser.add_argument("--emphasize", metavar="CHARS",
                        help="draw these characters more often in training texts, e.g. 0O, the pair most "
                             "errors confuse (validation and test texts stay uniform)")
    parser.add_argument("--emphasis-share", type=float, default=0.3,
                        help="with --emphasize: the chance that a training character is one of CHARS")
    parser.add_argument("--workers", type=int, default=distribute.usable_cores(), help="processes rendering captchas")
    parser.add_argument("--validation-size", type=int, default=2000, help="fresh captchas checked after each epoch")
    parser.add_argument("--test-size", type=int, default=10000, help="fresh captchas in the final evaluation (0: skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training, validation and test streams")
    parser.add_argument("--output", default="runs/default", help="directory for the model, checkpoint and metrics")
    parser.add_argument("--cache-dir", default="cache", help="where rendered training pools are kept")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output")
    parser.add_argument("--cluster-timeout", type=float, default=300,
                        help="with TF_CONFIG (several machines): seconds to wait for every worker to join, and for "
                             "any one exchange between them, before giving up with an error")
    parser.add_argument("--cpu-devices", type=int, default=0,
                        help="split the CPU into this many logical devices and mirror over them (for testing)")
    parser.add_argument("--push-to-hub", metavar="OWNER/NAME", help="push the trained model to this Hub repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    args = parser.parse_args(argv)
    for name, value in (site_training.RECIPE if args.data else LIBRARY_RECIPE).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.validation_data and not args.data:
        raise ValueError("--validation-data goes with --data FOLDER, the captchas to train on.")
    if args.data and not args.init_from:
        args.init_from = site_training.BASE_MODEL
    args.init_from = BUNDLED_MODELS.get(args.init_from, args.init_from)
    config_lib.get_architecture(args.arch)
    training_emphasis(args)
    for name in ("epochs", "steps_per_epoch", "batch_size", "steps_per_execution", "workers", "validation_size",
                 "input_pooling"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")
    return args


def parse_lengths(text):
    """'4' -> {min_length: 4, max_length: 4}; '1-8' -> {min_length: 1, max_length: 8}."""
    try:
        low, _, high = text.partition("-")
        return {"min_length": int(low), "max_length": int(high or low)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a length like 4 or a range like 1-8, got {text!r}") from None


def parse_size_option(text):
    """'170x80' -> {captcha_width: 170, captcha_height: 80}."""
    try:
        width, height = parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return {"captcha_width": width, "captcha_height": height}


def parse_size_range(text):
    """'120x50-240x100' -> the width and height ranges that training draws sizes from."""
    try:
        (width, height), (largest_width, largest_height) = [parse_size(size) for size in text.split("-")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected two sizes like 120x50-240x100, got {text!r} ({error})") from None
    return {"captcha_width_range": (width, largest_width), "captcha_height_range": (height, largest_height)}


def parse_widths(text):
    """'32,64,64,128' -> (32, 64, 64, 128)."""
    try:
        widths = tuple(int(width) for width in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected four positive channel counts like 32,64,64,128, got {text!r}")
    return {"trunk_widths": widths}


def check_output_directory(path, needed_megabytes=100, purpose="training"):
    """Fail now, not after an hour of training, if `path` cannot be written or lacks room for `purpose`."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write-test")
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4 * 1024 * 1024)
        # The workers of a cluster on one machine may check the same folder at once.
        with contextlib.suppress(FileNotFoundError):
            os.remove(probe)
    except OSError as error:
        raise ValueError(f"Cannot write to output directory {path!r}: {error.strerror or error}.") from error
    free_megabytes = shutil.disk_usage(path).free // 2**20
    if free_megabytes < needed_megabytes:
        raise ValueError(
            f"Only {free_megabytes:,} MB free under {path!r}; {purpose} needs at least {needed_megabytes:,} MB."
        )


def training_emphasis(args):
    """The `data.Emphasis` that --emphasize and --emphasis-share ask for, or None."""
    return rendering.Emphasis(args.emphasize, args.emphasis_share) if args.emphasize else None


def network_config(args):
    """The `CaptchaConfig` that a fresh run's flags ask for."""
    config = model_lib.default_config(args.arch, **(args.lengths or {}), **(args.size or {}),
                                      **(args.size_range or {}), **(args.trunk_widths or {}))
    return config.pooled(args.input_pooling)


def check_recipe_caches(recipe_args):
    """Fail now, not hours into a recipe, if the pool of one of its network stages has no room in --cache-dir."""
    shared = {"cache-dir": recipe_args.cache_dir, "workers": recipe_args.workers}
    for stage in recipes.load(recipe_args.recipe)["stages"]:
        if stage["kind"] == "train":
            args = parse_args(recipes.stage_arguments(stage, recipe_args.output, shared))
            check_cache_directory(args, network_config(args), training_emphasis(args))


def check_cache_directory(args, config, emphasis):
    """Fail now if the training pool is to be rendered but `--cache-dir` has no room to keep it.

    Rendering a large pool takes many minutes, and the pool is written only after that.
    """
    path = rendering.cache_path(config, args.seed, args.train_size, args.cache_dir, emphasis)
    if not args.train_size or os.path.exists(path):
        return
    check_output_directory(
        args.cache_dir, math.ceil(rendering.cache_bytes(config, args.train_size) / 2**20),
        f"the cache of {args.train_size:,} rendered captchas (--train-size)",
    )


def learning_rate_schedule(args, state):
    """The learning rate of each epoch: a linear warm-up, then --schedule: constant, or a cosine down to
    zero at the last epoch or, with --max-minutes, at the time limit if that comes first (training
    time so far is `state["wall_seconds"]`)."""
    total = args.epochs

    def learning_rate(epoch, _current=None):
        if epoch < args.warmup_epochs:
            return args.learning_rate * (epoch + 1) / (args.warmup_epochs + 1)
        if args.schedule == "constant":
            return args.learning_rate
        progress = (epoch - args.warmup_epochs) / max(1, total - args.warmup_epochs)
        if args.max_minutes:
            progress = max(progress, state["wall_seconds"] / (args.max_minutes * 60))
        return args.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return learning_rate


class Checkpoint(keras.callbacks.Callback):
    """After each epoch: precise BatchNorm statistics, validation, one log line, an atomic checkpoint."""

    def __init__(self, args, config, state, devices, calibration_batches, validation_inputs, validation_texts):
        super().__init__()
        self.args, self.config, self.state, self.devices = args, config, state, devices
        self.calibration_batches = calibration_batches
        self.validation_inputs, self.validation_texts = validation_inputs, validation_texts
        self.epoch_started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        state = self.state
        limit = self.args.max_minutes * 60
        state["samples_seen"] += self.args.steps_per_epoch * self.args.batch_size
        state["epoch"] = epoch + 1
        model_lib.recalibrate_batch_norm(self.model, self.calibration_batches)
        # Measured here rather than by fit(), so that it sees the recalibrated statistics, and
        # as whole captchas read right, which per-position heads do not report on their own.
        logs["val_accuracy"] = self.whole_captcha_accuracy()
        # Every worker of a cluster saves (saving may read variables across workers); the chief keeps it.
        model_file.save_model(self.model, self.config, self.devices.output_path(os.path.join(self.args.output, CHECKPOINT)),
                             include_optimizer=True)
        # The time of the whole epoch, its validation and checkpoint included, counts against --max-minutes.
        state["wall_seconds"] += time.time() - self.epoch_started
        record = {key: float(value) for key, value in logs.items()}
        record.update(epoch=epoch + 1, samples_seen=state["samples_seen"], wall_seconds=round(state["wall_seconds"], 1))
        state["history"].append(record)
        if self.devices.chief:
            recipes.write_json(os.path.join(self.args.output, STATE), state)
        # Keras ends its progress bar's line only after every callback has run, so this line
        # starts with a newline of its own rather than trailing the bar.
        print(
            f"\nepoch {epoch + 1}: loss {record.get('loss', float('nan')):.4f} "
            f"val_accuracy {record['val_accuracy']:.4f} "
            f"lr {record.get('learning_rate', float('nan')):.2e} "
            f"samples {state['samples_seen']} time {state['wall_seconds'] / 60:.1f} min",
            flush=True,
        )
        if self.devices.any_worker(bool(limit) and state["wall_seconds"] >= limit):
            print(f"Stopping: {state['wall_seconds'] / 60:.1f} minutes of training reached --max-minutes.")
            self.model.stop_training = True

    def whole_captcha_accuracy(self):
        solver = Solver(model_lib.KerasNetwork(self.model), self.config, "the model in training")
        return evaluation.evaluate_arrays(solver, self.validation_inputs, self.validation_texts, "validation").accuracy


def site_data(args, config=None):
    """For --data: the config (unless resuming with one), the training pool and the held-out captchas
    as (inputs, texts), and what to record of the data in the model's config and metrics."""
    captchas = labelled.read_labelled(args.data, uppercase=args.uppercase, min_count=site_training.MIN_LABELLED)
    print(captchas.summary())
    if args.validation_data:
        training, held_out = captchas, labelled.read_labelled(args.validation_data, uppercase=args.uppercase)
        print(held_out.summary())
    else:
        training, held_out = site_training.split(captchas, args.holdout, args.seed)
    if config is None:
        base_config = config_lib.read_config(args.init_from)
        config = site_training.site_config(
            training, base_config, charset=args.charset, input_size=args.input_size and tuple(args.input_size.values()),
            lengths=args.lengths and (args.lengths["min_length"], args.lengths["max_length"]), source=args.data)
    unreadable = set(site_training.unreadable_texts(training, config))
    if unreadable:
        print(f"Left out of training: {len(unreadable)} captchas whose text has a character outside "
              f"{config.charset!r} or a length outside {config.min_length}-{config.max_length}.")
        training = training.subset([row for row in range(len(training)) if row not in unreadable])
    print(f"Training on {len(training):,} of them; {held_out.source}.")
    record = {
        "source": args.data,
        "labelled": len(captchas),
        "training": len(training),
        "held_out": len(held_out),
        "uppercase": args.uppercase,
        "held_out_source": args.validation_data or f"a seeded {args.holdout:.0%} of the data (seed {args.seed})",
    }
    details = {"held_out_files": held_out.names, "skipped": captchas.skipped}
    pool = preprocessing.preprocess(training.images, config), training.texts
    return config, pool, (preprocessing.preprocess(held_out.images, config), held_out.texts), record, details


def parse_recipe_args(argv):
    """The flags of a recipe run, or None where `argv` asks for something else (one run, or a referee)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--output")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--workers", type=int, default=distribute.usable_cores())
    args, others = parser.parse_known_args(argv)
    if others or argv[:1] == ["referee"]:
        return None
    args.output = args.output or os.path.join("runs", f"recipe-{os.path.basename(args.recipe).removesuffix('.json')}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["referee"]:
        return referee_stage.main(argv[1:])
    recipe_args = parse_recipe_args(argv)
    if recipe_args is not None:
        check_output_directory(recipe_args.output)
        check_recipe_caches(recipe_args)
        return recipes.run(recipe_args.recipe, recipe_args.output, recipe_args.resume,
                           {"cache-dir": recipe_args.cache_dir, "workers": recipe_args.workers})
    args = parse_args(argv)
    if args.push_to_hub:
        # Fail now, not after hours of training, when the push at the end could not succeed.
        hub.check_repo_id(args.push_to_hub)
        hub.check_token()
    check_output_directory(args.output)
    devices = distribute.choose_devices(args.cpu_devices, args.cluster_timeout)
    strategy = devices.strategy
    distribute.resolve_settings(args, devices)
    checkpoint_path = os.path.join(args.output, CHECKPOINT)
    state_path = os.path.join(args.output, STATE)

    if args.resume:
        if not os.path.exists(checkpoint_path):
            raise ValueError(f"--resume needs {checkpoint_path}, which does not exist; drop --resume to start afresh.")
        config = config_lib.read_config(checkpoint_path)
        with open(state_path) as handle:
            state = json.load(handle)
        print(f"Resuming {config.architecture!r} after epoch {state['epoch']} ({state['samples_seen']} samples seen).")
    else:
        config = None if args.data else network_config(args)
        state = {"epoch": 0, "samples_seen": 0, "wall_seconds": 0.0, "history": [], "args": vars(args)}
    if args.data:
        config, pool, (validation_inputs, validation_texts), site, site_details = site_data(args, config)
    emphasis = training_emphasis(args)
    if emphasis:
        emphasis.check(config)
    if not args.data:
        check_cache_directory(args, config, emphasis)

    with strategy.scope():
        if args.resume:
            model = keras.saving.load_model(checkpoint_path, safe_mode=True)
            optimizer = model.optimizer
        else:
            model = model_lib.build_model(config)
            if args.init_from:
                warm_start.warm_start(model, args.init_from, config)
            optimizer = OPTIMIZERS[args.optimizer](args.learning_rate)
        # Compiled afresh on resume too, so that this run's --steps-per-execution applies.
        model_lib.compile_model(model, config, optimizer, steps_per_execution=args.steps_per_execution)

    targets = model_lib.TrainingTargets(config)
    if not args.data:
        pool = None
        if args.train_size:
            pool = rendering.cached_dataset(config, args.seed, args.train_size, args.cache_dir, workers=args.workers,
                                       emphasis=emphasis)
        validation_inputs, validation_texts = rendering.render_dataset(
            config, args.seed + seeds.VALIDATION_SEED_OFFSET, args.validation_size, workers=args.workers
        )
    start_batch = state["epoch"] * args.steps_per_epoch
    plain = pipeline.source(config, targets, args.seed, start_batch, pool, args.workers, emphasis)
    # A site's few labelled captchas are seen many times, each time distorted anew.
    build = pipeline.source(config, targets, args.seed, start_batch, pool, args.workers, emphasis,
                            augment=augment.augment) if args.data else plain
    train_data = pipeline.training_dataset(strategy, args.batch_size, build)
    # The BatchNorm statistics come from undistorted batches: the captchas as they will be read.
    first_batches = pipeline.first_batches(plain(pipeline.Slices(args.batch_size)), args.calibration_batches)
    calibration_batches = [inputs for inputs, _ in first_batches]

    # Checkpoint adds the whole-captcha val_accuracy to the logs before EarlyStopping reads it.
    callbacks = [
        keras.callbacks.LearningRateScheduler(learning_rate_schedule(args, state)),
        Checkpoint(args, config, state, devices, calibration_batches, validation_inputs, validation_texts),
    ]
    if args.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=args.patience))
    if state["epoch"] < args.epochs:
        schedule = dict(steps_per_epoch=args.steps_per_epoch, epochs=args.epochs, initial_epoch=state["epoch"],
                        callbacks=callbacks, verbose=2 if os.environ.get("CI") else 1)
        if devices.workers > 1:
            cluster_loop.fit(model, train_data, first_batches[0], **schedule)
        else:
            # The pipeline orders the captchas itself, reproducibly.
            model.fit(train_data, shuffle=False, **schedule)

    final_path = os.path.join(args.output, "model.keras")
    model_file.save_model(model, config, devices.output_path(final_path))
    if not devices.chief:
        print("Trained; the chief writes the model and its reports.")
        return final_path
    metrics = {
        "architecture": config.architecture,
        "epochs": state["epoch"],
        "samples_seen": state["samples_seen"],
        "wall_seconds": round(state["wall_seconds"], 1),
        "device": devices.description,
        "precision": args.precision,
        # The flags of the run's first start: the recipe, --emphasize and --init-from included.
        "args": state["args"],
        "history": state["history"],
    }
    if args.data:
        # Validation took no decision (no early stopping, no choice of epoch), so the held-out
        # captchas still give an unbiased test figure.
        report = evaluation.evaluate_arrays(load_solver(final_path), validation_inputs, validation_texts,
                                            f"{len(validation_texts)} held-out captchas of {args.data}")
        print(report.summary())
        site.update(test_accuracy=report.accuracy, test_interval=list(report.interval), test_count=report.count)
        model_file.save_model(model, dataclasses.replace(config, site=site), final_path)
        metrics.update(test=report.to_dict(include_failures=True), data={**site, **site_details})
    elif args.test_size:
        report = evaluation.evaluate_stream(load_solver(final_path), count=args.test_size, seed=args.seed + seeds.TEST_SEED_OFFSET)
        print(report.summary())
        metrics["test"] = report.to_dict(include_failures=False)
    recipes.write_json(os.path.join(args.output, "metrics.json"), metrics)
    evaluation.plot_training_curve(state["history"], os.path.join(args.output, "training_curve.png"))
    print(f"Wrote {final_path}, metrics.json and training_curve.png.")
    if args.push_to_hub:
        commit = hub.push(final_path, args.push_to_hub, private=args.private)
        print(f"Pushed to {commit.repo_url} at revision {commit.oid}.")
    return final_path


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        sys.exit(f"error: {error}")
