"""A second opinion where the main network is least sure: `0` against `O`.

Most of the default model's errors read `0` for `O` or the other way round (the README
says why). A referee is a small CNN that looks at one glyph only: a crop of the network
input, centred on the CTC columns that emitted the character. Where the main network
reads either character of the referee's pair, the referee's logit and the main network's
own margin (log p(second) - log p(first) in those columns, times `main_weight`, fitted on
fresh captchas) are added, and the sign of the sum picks the character.

A referee travels inside its main model's `.keras` file as two extra entries, so a model
with one is still one file, on disk and on the Hub: `attach` writes them, `load_referee`
reads them back with `safe_mode=True`.
"""

import dataclasses
import json
import os
import tempfile
import zipfile

import keras
import numpy as np
from keras import layers

from captcha_model import model as model_lib

MODEL_ENTRY = "referee.keras"
CONFIG_ENTRY = "referee_config.json"


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


def build_referee(config, referee_config):
    """A CNN from one glyph crop (input_height x crop_width) to one logit."""
    inputs = keras.Input((config.input_height, referee_config.crop_width, config.input_channels), name="glyph")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if config.input_pooling > 1:
        # A main model that pools its input keeps that input's detail for the referee: one
        # convolution reads the glyph at full resolution, where `0` and `O` differ by strokes
        # a pixel thinner or thicker, before pooling to the scale of the stages below.
        x = model_lib._conv_bn_relu(x, max(1, referee_config.widths[0] // 2), "stem")
        x = layers.MaxPooling2D(config.input_pooling, name="stem_pool")(x)
    # Two convolutions per stage at the glyph's full resolution, where the strokes that
    # tell `0` from `O` are a pixel or two wide.
    for stage, filters in enumerate(referee_config.widths):
        name = f"stage{stage + 1}"
        for position in range(2 if stage < 2 else 1):
            x = model_lib._conv_bn_relu(x, filters, f"{name}_{position + 1}")
        x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(referee_config.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    outputs = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, outputs, name="referee")


def compile_referee(referee, optimizer, **options):
    """Attach the referee's loss (on its logit) and its accuracy; `options` go to `Model.compile`."""
    referee.compile(optimizer, keras.losses.BinaryCrossentropy(from_logits=True),
                    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")], **options)


def crop_glyphs(inputs, rows, centers, width):
    """Crops `width` pixels wide of `inputs[rows]`, centred on `centers`; white beyond the edges.

    The only path from network input to referee input, shared by training and solving.
    """
    padded = np.pad(inputs, ((0, 0), (0, 0), (width, width), (0, 0)), constant_values=255)
    crops = np.empty((len(rows), inputs.shape[1], width, inputs.shape[3]), dtype=inputs.dtype)
    for position, (row, center) in enumerate(zip(rows, centers)):
        left = int(round(center - width / 2)) + width
        crops[position] = padded[row, :, left : left + width]
    return crops


def column_center(frames, input_width, columns):
    """The input pixel at the middle of the CTC columns `frames` of `columns`."""
    return (float(np.mean(frames)) + 0.5) * input_width / columns


def _pair_indices(config, referee_config):
    return [config.charset.index(character) for character in referee_config.characters]


def _margins(log_probabilities, cases, pair):
    """log p(second) - log p(first), averaged over each case's frames."""
    first, second = pair
    return np.array([
        np.mean([log_probabilities[row, frame, second] - log_probabilities[row, frame, first] for frame in frames])
        for row, frames in cases
    ])


def glyph_examples(model, config, referee_config, inputs, texts, batch_size=512):
    """Training examples from captchas of known text: (crops, labels, main margins).

    Each glyph of the pair becomes a crop, located by the columns where `model` read it
    (captchas it reads with the wrong number of characters are skipped); its label is 1
    for the pair's second character.
    """
    if model_lib.get_architecture(config.architecture).output_kind != "ctc":
        raise ValueError("A referee needs a CTC model, whose columns say where each character is.")
    pair = _pair_indices(config, referee_config)
    crops, labels, margins = [], [], []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        outputs = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
        cases, case_labels = [], []
        for row, (text, characters) in enumerate(zip(texts[start : start + batch_size],
                                                     model_lib.read_characters(outputs, config))):
            if len(characters) != len(text):
                continue
            for truth, (_, frames, _) in zip(text, characters):
                if truth in referee_config.characters:
                    cases.append((row, frames))
                    case_labels.append(float(truth == referee_config.characters[1]))
        if not cases:
            continue
        centers = [column_center(frames, config.input_width, outputs.shape[1]) for _, frames in cases]
        crops.append(crop_glyphs(batch, [row for row, _ in cases], centers, referee_config.crop_width))
        labels.extend(case_labels)
        margins.append(_margins(model_lib._log_softmax(outputs), cases, pair))
    if not labels:
        raise ValueError(f"None of the captchas shows {referee_config.characters[0]!r} or "
                         f"{referee_config.characters[1]!r}; a referee needs examples of both.")
    return np.concatenate(crops), np.array(labels, dtype=np.float32), np.concatenate(margins)


def decision_accuracy(scores, labels):
    """The share of glyphs whose score has the sign of their label (positive: the pair's second)."""
    return float(np.mean((scores > 0) == (labels > 0.5)))


def fit_main_weight(referee_logits, margins, labels, weights=np.linspace(0.0, 3.0, 31)):
    """The weight of the main margin that decides most validation glyphs right (the smallest on ties)."""
    accuracies = [decision_accuracy(referee_logits + weight * margins, labels) for weight in weights]
    best = int(np.argmax(accuracies))
    return float(weights[best]), accuracies[best]


class Referee:
    """A trained referee for a main model: `adjudicate` revises what that model read."""

    def __init__(self, model, config, referee_config, batch_size=512):
        self.model = model
        self.batch_size = batch_size
        self.inference_model = model_lib.fold_batch_norm(model)
        self.config = config
        self.referee_config = referee_config
        self.pair = _pair_indices(config, referee_config)

    def adjudicate(self, inputs, outputs, images_characters):
        """Revise `read_characters` results for `inputs`: each character of the pair is decided again.

        Its confidence becomes the main network's probability of the pair (the sum of the
        two, in the column where that is highest) times the probability that the sum of
        opinions gives the chosen one of the two.
        """
        cases = [(row, position, frames)
                 for row, characters in enumerate(images_characters)
                 for position, (index, frames, _) in enumerate(characters) if index in self.pair]
        if not cases:
            return images_characters
        outputs = np.asarray(outputs, dtype=np.float64)
        log_probabilities = model_lib._log_softmax(outputs)
        centers = [column_center(frames, self.config.input_width, outputs.shape[1]) for _, _, frames in cases]
        crops = crop_glyphs(inputs, [row for row, _, _ in cases], centers, self.referee_config.crop_width)
        logits = np.concatenate([
            np.asarray(self.inference_model.predict_on_batch(crops[start : start + self.batch_size]), dtype=np.float64)
            for start in range(0, len(crops), self.batch_size)
        ])[:, 0]
        margins = _margins(log_probabilities, [(row, frames) for row, _, frames in cases], self.pair)
        scores = logits + self.referee_config.main_weight * margins
        revised = [list(characters) for characters in images_characters]
        for (row, position, frames), score in zip(cases, scores):
            pair_probability = max(float(np.exp(log_probabilities[row, frame, self.pair]).sum()) for frame in frames)
            second_probability = 1.0 / (1.0 + np.exp(-score))
            chosen = self.pair[1] if score > 0 else self.pair[0]
            confidence = pair_probability * (second_probability if score > 0 else 1.0 - second_probability)
            revised[row][position] = (chosen, frames, confidence)
        return revised


def attach(model_path, referee_model, referee_config, output_path=None):
    """Write `model_path` with the referee inside it to `output_path` (default: in place), atomically."""
    output_path = output_path or model_path
    model_lib.read_config(model_path)  # Refuses files that are no captcha_model model.
    # A fresh float32 copy of the network (whatever precision it was trained in) holds the
    # weights without the optimizer's state.
    architecture = referee_model.get_config()
    for layer in architecture["layers"]:
        layer["config"]["dtype"] = "float32"
    bare = keras.Model.from_config(architecture)
    bare.set_weights(referee_model.get_weights())
    with tempfile.TemporaryDirectory() as directory:
        referee_path = os.path.join(directory, MODEL_ENTRY)
        bare.save(referee_path)
        with open(referee_path, "rb") as handle:
            referee_bytes = handle.read()
    partial = f"{output_path}.partial"
    try:
        model_lib.rewrite_archive(
            model_path, partial, {MODEL_ENTRY: referee_bytes, CONFIG_ENTRY: referee_config.to_json()}
        )
        os.replace(partial, output_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load_referee(model_path, config):
    """The `Referee` inside a model file, or None where it has none."""
    with zipfile.ZipFile(model_path) as archive:
        if MODEL_ENTRY not in archive.namelist():
            return None
        referee_bytes = archive.read(MODEL_ENTRY)
        try:
            referee_config = RefereeConfig.from_json(archive.read(CONFIG_ENTRY).decode())
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{model_path} holds a referee without a readable {CONFIG_ENTRY} ({error}).") from None
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, MODEL_ENTRY)
        with open(path, "wb") as handle:
            handle.write(referee_bytes)
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            raise ValueError(f"Could not load the referee in {model_path} as a safe Keras model: {error}") from error
    expected = (None, config.input_height, referee_config.crop_width, config.input_channels)
    if tuple(model.input_shape) != expected:
        raise ValueError(f"{model_path}: the referee reads {model.input_shape}, its config says {expected}.")
    return Referee(model, config, referee_config)
