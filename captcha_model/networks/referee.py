"""A second opinion where the main network is least sure: `0` against `O`.

Most of the default model's errors read `0` for `O` or the other way round (docs/zero-and-o.md
says why). A referee is a small CNN that looks at one glyph only: a crop of the network
input, centred on the CTC columns that emitted the character. Where the main network
reads either character of the referee's pair, the referee's logit and the main network's
own margin (log p(second) - log p(first) in those columns, times `main_weight`, fitted on
fresh captchas) are added, and the sign of the sum picks the character.

A referee travels inside its main model's `.keras` file as two extra entries, so a model
with one is still one file, on disk and on the Hub: `attach` writes them, `read_referee`
reads them back with `safe_mode=True`. This module builds, trains and stores referees with
Keras; `captcha_model.reading.adjudication` holds what solving needs, for either runtime.
"""

import json
import os
import tempfile

import keras
from keras import layers

from captcha_model.config import REFEREE_CONFIG_ENTRY, REFEREE_MODEL_ENTRY, RefereeConfig, read_config, read_entry
from captcha_model.networks import model as model_lib, model_file


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


def attach(model_path, referee_model, referee_config, output_path=None):
    """Write `model_path` with the referee inside it to `output_path` (default: in place), atomically."""
    output_path = output_path or model_path
    read_config(model_path)  # Refuses files that are no captcha_model model.
    # A fresh float32 copy of the network (whatever precision it was trained in) holds the
    # weights without the optimizer's state.
    architecture = referee_model.get_config()
    for layer in architecture["layers"]:
        layer["config"]["dtype"] = "float32"
    bare = keras.Model.from_config(architecture)
    bare.set_weights(referee_model.get_weights())
    with tempfile.TemporaryDirectory() as directory:
        referee_path = os.path.join(directory, REFEREE_MODEL_ENTRY)
        bare.save(referee_path)
        with open(referee_path, "rb") as handle:
            referee_bytes = handle.read()
    partial = f"{output_path}.partial"
    try:
        model_file.rewrite_archive(
            model_path, partial, {REFEREE_MODEL_ENTRY: referee_bytes, REFEREE_CONFIG_ENTRY: referee_config.to_json()}
        )
        os.replace(partial, output_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def read_referee(model_path, config):
    """(Keras network, `RefereeConfig`) of the referee inside a model (a file or its unpacked folder), or
    None where it has none."""
    referee_bytes = read_entry(model_path, REFEREE_MODEL_ENTRY)
    if referee_bytes is None:
        return None
    try:
        referee_config = RefereeConfig.from_json(read_entry(model_path, REFEREE_CONFIG_ENTRY).decode())
    except (AttributeError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{model_path} holds a referee without a readable {REFEREE_CONFIG_ENTRY} ({error}).") from None
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, REFEREE_MODEL_ENTRY)
        with open(path, "wb") as handle:
            handle.write(referee_bytes)
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            raise ValueError(f"Could not load the referee in {model_path} as a safe Keras model: {error}") from error
    expected = (None, config.input_height, referee_config.crop_width, config.input_channels)
    if tuple(model.input_shape) != expected:
        raise ValueError(f"{model_path}: the referee reads {model.input_shape}, its config says {expected}.")
    return model, referee_config
