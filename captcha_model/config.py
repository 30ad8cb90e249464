"""The configuration that travels with every model.

A `CaptchaConfig` names everything that training and inference must agree on: the
alphabet, the range of text lengths, the size of the captchas the library draws (one
size, or a range of sizes to train on), the size of the image the network sees and the
architecture. It is written into the model file, so a
loaded model rebuilds exactly what training used and nothing is typed twice.

Nothing here needs TensorFlow: the ONNX runtime reads configs and architectures too.
"""

import dataclasses
import json
import os
import string
import zipfile

DEFAULT_CHARSET = string.digits + string.ascii_uppercase
# The entry of a `.keras` file that holds its config (see `model_file.save_model`).
CONFIG_ENTRY = "captcha_config.json"
# Where Keras keeps a model's weights, in its .keras files and its model folders.
WEIGHTS_ENTRY = "model.weights.h5"
# The training metrics train.py writes beside a model, and a Hub repo holds beside its files.
METRICS_FILE = "metrics.json"


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What an architecture is called, what its outputs are and how to describe it; `model` builds it."""

    name: str
    output_kind: str  # "heads" or "ctc"
    description: str


ARCHITECTURES = {
    "seed": Architecture("seed", "heads", "the tutorial's VGG-style CNN with four softmax heads"),
    "seed-bn": Architecture("seed-bn", "heads",
                            "the tutorial's CNN with a BatchNorm after each convolution, as its author advises"),
    "default": Architecture("default", "ctc", "a compact BatchNorm CNN read with CTC"),
    "ctc": Architecture("ctc", "ctc", "the default CNN with a GRU over 22 columns, for 1-8 characters of any size"),
}


# The captchas a model's streams draw (`data.rendering.sample_captcha`): the `captcha` library's,
# or the project's general family of many styles (`data.styles`), which the general reader learns.
FAMILIES = ("library", "general")


def get_architecture(name):
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; accepted architectures are {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name]


def parse_size(text):
    """'160x60' -> (160, 60); ValueError for anything else."""
    width, separator, height = str(text).strip().lower().partition("x")
    if not (separator and width.isdigit() and height.isdigit()):
        raise ValueError(f"A captcha size is WIDTHxHEIGHT in pixels, e.g. 160x60; got {text!r}.")
    return int(width), int(height)


@dataclasses.dataclass(frozen=True)
class CaptchaConfig:
    charset: str = DEFAULT_CHARSET
    min_length: int = 4
    max_length: int = 4
    captcha_width: int = 170
    captcha_height: int = 80
    # Sizes drawn in training besides captcha_width x captcha_height, as (smallest, largest);
    # empty means that one size only.
    captcha_width_range: tuple = ()
    captcha_height_range: tuple = ()
    input_height: int = 40
    input_width: int = 88
    input_channels: int = 1
    # The trunk architectures first average each input_pooling x input_pooling block of their
    # input: the input keeps detail (a stroke a pixel thinner) for a referee to read, while
    # the trunk runs at the resolution it needs. Models saved before this field existed had 1.
    input_pooling: int = 1
    architecture: str = "default"
    # Channels of the four stages of the convolutional trunk (architectures default and ctc).
    # Models saved before this field existed had these widths, so they load unchanged.
    trunk_widths: tuple = (16, 32, 64, 128)
    # None for the `captcha` library's captchas. For a model of a site's own captchas
    # (`train.py --data`): where its labelled captchas came from, how many trained it, whether
    # case was ignored and the held-out figure; see `captcha_model.site_training`.
    site: dict = None
    # Which captchas the streams of this config draw: one of FAMILIES.
    family: str = "library"

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}.")
        for name, size in (("captcha_width", self.captcha_width), ("captcha_height", self.captcha_height)):
            span = tuple(getattr(self, f"{name}_range")) or (size, size)
            if len(span) != 2 or not 8 <= span[0] <= span[1]:
                raise ValueError(f"{name}_range must be (smallest, largest) with 8 <= smallest <= largest, got {span}.")
            # Stored as a tuple of ints whatever it was given as (JSON gives lists).
            object.__setattr__(self, f"{name}_range", (int(span[0]), int(span[1])))
        widths = tuple(int(width) for width in self.trunk_widths)
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError("trunk_widths must be four positive channel counts, e.g. (16, 32, 64, 128); "
                             f"got {widths}.")
        object.__setattr__(self, "trunk_widths", widths)
        if not self.charset:
            raise ValueError("charset must hold at least one character, e.g. '0123456789'.")
        if len(set(self.charset)) != len(self.charset):
            raise ValueError(f"charset must not repeat characters, got {self.charset!r}.")
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(
                "lengths must satisfy 1 <= min_length <= max_length, "
                f"got min_length={self.min_length}, max_length={self.max_length}."
            )
        if self.input_channels not in (1, 3):
            raise ValueError(f"input_channels must be 1 (grayscale) or 3 (RGB), got {self.input_channels}.")
        for name in ("captcha_width", "captcha_height", "input_height", "input_width"):
            if getattr(self, name) < 8:
                raise ValueError(f"{name} must be at least 8 pixels, got {getattr(self, name)}.")
        if self.input_pooling < 1 or self.input_height % self.input_pooling or self.input_width % self.input_pooling:
            raise ValueError(f"input_pooling must be a positive divisor of input_height and input_width "
                             f"({self.input_height}x{self.input_width}), got {self.input_pooling}.")

    @property
    def num_classes(self):
        return len(self.charset)

    @property
    def fixed_size(self):
        """True when every training captcha has the size captcha_width x captcha_height."""
        return self.captcha_width_range == (self.captcha_width,) * 2 and self.captcha_height_range == (
            self.captcha_height,
        ) * 2

    def at(self, width=None, height=None, length=None):
        """This config restricted to captchas of one size and/or one length, e.g. to measure them apart."""
        changes = {}
        if width is not None or height is not None:
            width, height = width or self.captcha_width, height or self.captcha_height
            changes.update(captcha_width=width, captcha_height=height,
                           captcha_width_range=(width, width), captcha_height_range=(height, height))
        if length is not None:
            changes.update(min_length=length, max_length=length)
        return dataclasses.replace(self, **changes)

    def covers(self, width, height, length=None):
        """Whether captchas of this size (and, if given, this length) lie in the ranges this config draws."""
        return (self.captcha_width_range[0] <= width <= self.captcha_width_range[1]
                and self.captcha_height_range[0] <= height <= self.captcha_height_range[1]
                and (length is None or self.min_length <= length <= self.max_length))

    def pooled(self, pooling):
        """This config with an input `pooling` times larger each way, averaged back before the trunk."""
        return dataclasses.replace(self, input_height=self.input_height * pooling,
                                   input_width=self.input_width * pooling, input_pooling=self.input_pooling * pooling)

    @property
    def fixed_length(self):
        """True when every captcha has the same number of characters."""
        return self.min_length == self.max_length

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown config keys {unknown}; accepted keys are {sorted(known)}.")
        return cls(**values)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))


def read_entry(path, name):
    """The bytes of entry `name` of a model, or None where it has none.

    A model is a `.keras` file written by `model_file.save_model`, or a folder holding that file's
    entries unpacked, as a Hub repo does so that Keras's own loader reads it.
    """
    try:
        if os.path.isdir(path):
            entry = os.path.join(path, name)
            if not os.path.isfile(entry):
                return None
            with open(entry, "rb") as handle:
                return handle.read()
        with zipfile.ZipFile(path) as archive:
            return archive.read(name) if name in archive.namelist() else None
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path} is not a readable .keras model file or folder ({error}).") from error


def read_config(path):
    """The `CaptchaConfig` stored in a model written by `model_file.save_model` (a `.keras` file or its
    unpacked folder)."""
    text = read_entry(path, CONFIG_ENTRY)
    if text is None:
        raise ValueError(f"{path} has no {CONFIG_ENTRY}; only models saved by captcha_model are accepted.")
    try:
        text = text.decode()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} holds a malformed {CONFIG_ENTRY} ({error}).") from None
    return parse_config(text, path, CONFIG_ENTRY)


def parse_config(text, path, name):
    """The `CaptchaConfig` in JSON `text`, read from entry or file `name` of `path`; ValueError when malformed."""
    try:
        return CaptchaConfig.from_json(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} holds a malformed {name} ({error}).") from None


# The entries of a model file (and the files of a Hub repo or an ONNX export's folder) that
# hold the referee's Keras network and its config.
REFEREE_MODEL_ENTRY = "referee.keras"


REFEREE_CONFIG_ENTRY = "referee_config.json"


@dataclasses.dataclass(frozen=True)
class RefereeConfig:
    """What a referee decides between and how it looks: saved beside its weights."""

    # The two characters it tells apart; its logit is positive for the second.
    characters: str = "0O"
    # Width of the crop in network-input pixels: 24 for a 40x88 input, whose 11 columns are
    # 8 pixels wide; twice that for an input twice as large (see CaptchaConfig.input_pooling).
    crop_width: int = 24
    # Channels of its three convolutional stages, and units of the dense layer after them:
    # small enough that a model file with its referee stays within 2 MB.
    widths: tuple = (32, 48, 64)
    dense_units: int = 48
    # Weight of the main network's margin in the sum that decides.
    main_weight: float = 1.0

    def __post_init__(self):
        if len(self.characters) != 2 or self.characters[0] == self.characters[1]:
            raise ValueError(f"A referee tells two different characters apart, e.g. '0O'; got {self.characters!r}.")
        if self.crop_width < 8:
            raise ValueError(f"crop_width must be at least 8 pixels, got {self.crop_width}.")
        widths = tuple(int(width) for width in self.widths)
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths must be three positive channel counts, e.g. (32, 48, 64); got {widths}.")
        object.__setattr__(self, "widths", widths)
        if self.dense_units < 1:
            raise ValueError(f"dense_units must be positive, got {self.dense_units}.")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))
