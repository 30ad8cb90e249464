"""The settings of one training run: its command line parsed and resolved once into a frozen `Settings`.

Flags left out take the defaults of the run's recipe: `LIBRARY_RECIPE` for the library's
captchas, `site_training.RECIPE` with `--data`. The settings that follow the devices (batch
size, learning rate, steps per epoch and per call, precision) stay None or "auto" here and
are resolved by `distribute.resolve_settings` once the devices are known.
"""

import argparse
import dataclasses

import keras

from captcha_model import config as config_lib
from captcha_model.config import parse_size
from captcha_model.data import rendering
from captcha_model.networks import model as model_lib
from captcha_model.reading.solver import BUNDLED_MODELS
from captcha_model.training import distribute, site_training

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adadelta": keras.optimizers.Adadelta}

# The flags of a run on the library's captchas unless the command line says otherwise (batch
# size, learning rate and steps per epoch follow the devices: see distribute.resolve_settings);
# `--data` has a recipe of its own (`site_training.RECIPE`).
LIBRARY_RECIPE = {
    "epochs": 30,
    "warmup_epochs": 1,
    "max_minutes": 0.0,
    "patience": 8,
    # Training batches averaged to set the BatchNorm statistics before each validation.
    "calibration_batches": 50,
}
# Flags that count something and so must be at least 1 where given.
COUNTS = ("epochs", "steps_per_epoch", "batch_size", "steps_per_execution", "workers", "validation_size",
          "input_pooling", "rounds")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every flag of one run, defaults filled in; `dataclasses.asdict` of it is what metrics record as "args"."""

    arch: str
    family: str
    lengths: dict | None
    size: dict | None
    size_range: dict | None
    trunk_widths: dict | None
    input_pooling: int
    init_from: str | None
    epochs: int
    steps_per_epoch: int | None
    batch_size: int | None
    learning_rate: float | None
    steps_per_execution: int | None
    precision: str
    warmup_epochs: int
    schedule: str
    optimizer: str
    patience: int
    max_minutes: float
    data: str | None
    validation_data: str | None
    unlabelled: str | None
    rounds: int
    holdout: float
    uppercase: bool
    charset: str | None
    input_size: dict | None
    train_size: int
    emphasize: str | None
    emphasis_share: float
    workers: int
    validation_size: int
    test_size: int
    seed: int
    output: str
    cache_dir: str
    resume: bool
    cluster_timeout: float
    cpu_devices: int
    push_to_hub: str | None
    private: bool
    calibration_batches: int

    def emphasis(self):
        """The `rendering.Emphasis` that --emphasize and --emphasis-share ask for, or None."""
        return rendering.Emphasis(self.emphasize, self.emphasis_share) if self.emphasize else None

    def network_config(self):
        """The `CaptchaConfig` that a fresh run on the library's captchas asks for."""
        config = model_lib.default_config(self.arch, self.family, **(self.lengths or {}), **(self.size or {}),
                                          **(self.size_range or {}), **(self.trunk_widths or {}))
        return config.pooled(self.input_pooling)

    def make_optimizer(self):
        """A fresh optimizer of --optimizer at the peak --learning-rate (the schedule sets each epoch's)."""
        return OPTIMIZERS[self.optimizer](self.learning_rate)


def parser():
    """The command line of one run (`python train.py --help`)."""
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train a captcha solver: one run of the network (see train.py's docstring).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="A recipe run takes only --recipe NAME (default: default), --output, --resume, --cache-dir and "
               "--workers; recipes/ holds the recipes of the bundled models.")
    parser.add_argument("--arch", default="default", help=f"architecture: one of {sorted(config_lib.ARCHITECTURES)}")
    parser.add_argument("--family", choices=config_lib.FAMILIES, default="library",
                        help="the captchas to train on: the captcha library's, or the project's general family of "
                             "many styles (docs/general-captchas.md), which reads sites it never saw")
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
                             "before the trunk, so that a referee (train.py referee) sees finer detail")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="a bundled model's name or a .keras file (with --data, default: "
                             f"{site_training.BASE_MODEL}); start from the weights of this model's layers that have "
                             "the same names, or the same names and fewer channels (the extra channels start so that "
                             "the network computes what that model did)")

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
    parser.add_argument("--unlabelled", metavar="FOLDER",
                        help="with --data: also learn from the images of this folder or .zip that have no typed "
                             "label (it may be the --data folder itself): each round labels the ones it reads "
                             "surely and trains on them too; held-out figures come from typed labels only")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --unlabelled: rounds of labelling the unlabelled images and training again, "
                             "after the first training on typed labels alone; --max-minutes covers them all")
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
    parser.add_argument("--output", default="runs/default",
                        help="directory for the model, its ONNX export, the checkpoint and metrics")
    parser.add_argument("--cache-dir", default="cache", help="where rendered training pools are kept")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output")
    parser.add_argument("--cluster-timeout", type=float, default=300,
                        help="with TF_CONFIG (several machines): seconds to wait for every worker to join, and for "
                             "any one exchange between them, before giving up with an error")
    parser.add_argument("--cpu-devices", type=int, default=0,
                        help="split the CPU into this many logical devices and mirror over them (for testing)")
    parser.add_argument("--push-to-hub", metavar="OWNER/NAME",
                        help="push the trained model (and its ONNX export) to this Hub repo")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser


def parse(argv=None):
    """The `Settings` of the command line `argv`; ValueError naming a flag that is out of range."""
    flags = vars(parser().parse_args(argv))
    recipe = site_training.RECIPE if flags["data"] else LIBRARY_RECIPE
    resolved = {name: recipe[name] if flags.get(name) is None and name in recipe else flags.get(name)
                for name in (field.name for field in dataclasses.fields(Settings))}
    for flag in ("validation_data", "unlabelled"):
        if flags[flag] and not flags["data"]:
            raise ValueError(f"--{flag.replace('_', '-')} goes with --data FOLDER, the labelled captchas to train on.")
    init_from = flags["init_from"] or (site_training.BASE_MODEL if flags["data"] else None)
    resolved["init_from"] = BUNDLED_MODELS.get(init_from, init_from)
    for name in COUNTS:
        if resolved[name] is not None and resolved[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {resolved[name]}.")
    settings = Settings(**resolved)
    config_lib.get_architecture(settings.arch)
    settings.emphasis()
    return settings


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
