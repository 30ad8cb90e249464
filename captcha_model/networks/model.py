"""The networks: the tutorial's CNN (`seed`) and this project's faster, smaller `default`.

Every architecture is a functional Keras model from uint8 images of the config's input
size. Its outputs are float32 whatever precision the rest computes in (see
`distribute.resolve_settings`), so that losses and decoding never see float16. Two output kinds exist:

- "heads": one softmax per character position (the tutorial's four classifiers);
- "ctc": per-column logits over the charset plus a blank, read with CTC, which shares
  one classifier along the image width and so learns from far fewer samples.

`decoding.decode_outputs` turns either kind into texts with per-character confidences.
"""

import functools

import keras
import numpy as np
from keras import layers, ops

from captcha_model.config import CaptchaConfig, get_architecture
from captcha_model.data import fonts, styles
from captcha_model.networks import inference_copy


def _conv_bn_relu(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_seed(config, batch_norm=False):
    """The tutorial's network in Keras 3: four VGG-style blocks and four softmax heads.

    With `batch_norm` (architecture `seed-bn`), a BatchNorm between each convolution and its
    ReLU: the smallest repair of a network that its own recipe leaves at chance in Keras 3,
    as users reported upstream for Keras 2 (ypwhs/captcha_break issues #4, #5 and #16).
    """
    inputs = keras.Input((config.input_height, config.input_width, config.input_channels), name="image")
    # The tutorial fed raw 0-255 pixels; scaling inside the model is the one addition,
    # so that every architecture takes the same uint8 input from `data.preprocess`.
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for block in range(4):
        filters = 32 * 2**block
        for position in (1, 2):
            name = f"block{block + 1}_conv{position}"
            if batch_norm:
                x = layers.Conv2D(filters, 3, use_bias=False, name=name)(x)
                x = layers.BatchNormalization(name=f"{name}_bn")(x)
                x = layers.ReLU(name=f"{name}_relu")(x)
            else:
                x = layers.Conv2D(filters, 3, activation="relu", name=name)(x)
        x = layers.MaxPooling2D(2, name=f"block{block + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.25, name="dropout")(x)
    outputs = [
        layers.Dense(config.num_classes, activation="softmax", dtype="float32", name=f"c{position + 1}")(x)
        for position in range(config.max_length)
    ]
    return keras.Model(inputs, outputs, name=config.architecture)


def _trunk(config, column_pools):
    """The BatchNorm CNN shared by the CTC architectures: the input image and its feature map.

    Four stages separated by three 2x poolings of the height; `column_pools` of them also
    halve the width, which sets how many columns CTC reads.
    """
    inputs = keras.Input((config.input_height, config.input_width, config.input_channels), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if config.input_pooling > 1:
        x = layers.AveragePooling2D(config.input_pooling, name="input_pool")(x)
    # The two deeper stages, where convolutions are cheap, have two convolutions each.
    convolutions_per_stage = (1, 1, 2, 2)
    for stage, (filters, count) in enumerate(zip(config.trunk_widths, convolutions_per_stage)):
        name = f"stage{stage + 1}"
        for position in range(count):
            x = _conv_bn_relu(x, filters, f"{name}_{position + 1}")
        if stage < len(convolutions_per_stage) - 1:
            x = layers.MaxPooling2D((2, 2 if stage < column_pools else 1), name=f"{name}_pool")(x)
    return inputs, x


def build_default(config):
    """A small BatchNorm CNN whose columns are read by CTC.

    Three poolings shrink the input (40x88 by default) to 5x11; each of the 11 columns,
    with the full image height folded into its features, is classified as a character
    or a blank. Channels stay few at full resolution, where convolutions cost most.
    """
    inputs, x = _trunk(config, column_pools=3)
    x = _columns_to_sequence(x)
    x = layers.Dense(128, activation="relu", name="column_dense")(x)
    x = layers.Dropout(0.2, name="column_dropout")(x)
    outputs = layers.Dense(config.num_classes + 1, dtype="float32", name="ctc_logits")(x)
    return keras.Model(inputs, outputs, name="default")


def build_ctc(config):
    """The default trunk read at twice the column resolution, through a bidirectional GRU.

    Variable-length text needs more columns than the longest text has characters (CTC
    puts a blank between repeated ones), so the last pooling keeps the width: 40x88
    gives 22 columns. The GRU runs along them, so each column's reading sees the whole
    line: where a character starts and ends, and how many there are.
    """
    inputs, x = _trunk(config, column_pools=2)
    x = _columns_to_sequence(x)
    x = layers.Dense(128, activation="relu", name="column_dense")(x)
    x = layers.Dropout(0.2, name="column_dropout")(x)
    x = layers.Bidirectional(layers.GRU(64, return_sequences=True), name="column_gru")(x)
    outputs = layers.Dense(config.num_classes + 1, dtype="float32", name="ctc_logits")(x)
    return keras.Model(inputs, outputs, name="ctc")


def _columns_to_sequence(x):
    """(batch, height, width, channels) -> (batch, width, height * channels)."""
    _, height, width, channels = x.shape
    x = layers.Permute((2, 1, 3), name="columns")(x)
    return layers.Reshape((width, height * channels), name="sequence")(x)


# The function that builds each architecture of `config.ARCHITECTURES`.
BUILDERS = {
    "seed": build_seed,
    "seed-bn": functools.partial(build_seed, batch_norm=True),
    "default": build_default,
    "ctc": build_ctc,
}


def check_config(config):
    """Raise ValueError where `config` asks what its architecture cannot read: checked before a run draws any
    captcha, and by `build_model`."""
    architecture = get_architecture(config.architecture)
    if architecture.output_kind == "heads" and not config.fixed_length:
        raise ValueError(
            f"Architecture {architecture.name!r} reads a fixed number of characters; "
            "use min_length == max_length or a CTC architecture."
        )
    if architecture.name in ("seed", "seed-bn") and config.input_pooling != 1:
        raise ValueError(f"Architecture {config.architecture!r} reads its input as it is: input_pooling must be 1, "
                         f"got {config.input_pooling}.")
    if architecture.name == "ctc":
        # The trunk's two column poolings leave a quarter of the (pooled) input's columns.
        frames = config.input_width // config.input_pooling // 4
        if frames < 2 * config.max_length:
            raise ValueError(
                f"Architecture 'ctc' reads {frames} columns at input width {config.input_width}, too few for "
                f"{config.max_length} characters; use max_length <= {frames // 2} or a wider input."
            )


def build_model(config):
    """An uncompiled model for `config`."""
    check_config(config)
    return BUILDERS[get_architecture(config.architecture).name](config)


@keras.saving.register_keras_serializable(package="captcha_model")
class CTCLoss(keras.losses.Loss):
    """CTC loss on logits; targets are (batch, max_length) class indices padded with -1."""

    def __init__(self, blank_index, name="ctc_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.blank_index = blank_index

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        target_length = ops.sum(ops.cast(y_true >= 0, "int32"), axis=-1)
        batch_size, frames = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        output_length = ops.full((batch_size,), frames, dtype="int32")
        return ops.ctc_loss(
            ops.maximum(y_true, 0), y_pred, target_length, output_length, mask_index=self.blank_index
        )

    def get_config(self):
        return {**super().get_config(), "blank_index": self.blank_index}


def greedy_ctc_matches(y_true, y_pred, blank_index):
    """Per captcha, whether the greedy CTC reading of `y_pred` equals `y_true` (class indices padded with -1).

    Greedy reading takes each column's most probable symbol, merges repeats and drops
    blanks. It is done here with plain array operations rather than `ops.ctc_decode`,
    whose TensorFlow kernel XLA cannot compile (and XLA compiles every training step on
    a GPU): the k-th character read is the k-th column that starts a new non-blank run,
    so it is compared with the k-th target character, and the counts must agree.
    """
    y_true = ops.cast(y_true, "int32")
    best = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    previous = ops.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=blank_index)
    starts = ops.logical_and(ops.not_equal(best, blank_index), ops.not_equal(best, previous))
    read_count = ops.sum(ops.cast(starts, "int32"), axis=1)
    target_count = ops.sum(ops.cast(y_true >= 0, "int32"), axis=1)
    # Where the counts agree, every position read is a valid target position.
    positions = ops.clip(ops.cumsum(ops.cast(starts, "int32"), axis=1) - 1, 0, ops.shape(y_true)[1] - 1)
    expected = ops.take_along_axis(y_true, positions, axis=1)
    characters_agree = ops.all(ops.logical_or(ops.logical_not(starts), ops.equal(best, expected)), axis=1)
    return ops.logical_and(ops.equal(read_count, target_count), characters_agree)


@keras.saving.register_keras_serializable(package="captcha_model")
class CTCExactMatch(keras.metrics.Metric):
    """Share of captchas whose greedy CTC reading equals the whole target text."""

    def __init__(self, blank_index, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.blank_index = blank_index
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        matches = greedy_ctc_matches(y_true, y_pred, self.blank_index)
        self.correct.assign_add(ops.sum(ops.cast(matches, "float32")))
        self.total.assign_add(ops.cast(ops.shape(y_pred)[0], "float32"))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "blank_index": self.blank_index}


def compile_model(model, config, optimizer, **options):
    """Attach the loss and metrics that fit the architecture's output kind.

    `options` go to `Model.compile`, e.g. `jit_compile` or `steps_per_execution`; every
    loss and metric here compiles with XLA.
    """
    if get_architecture(config.architecture).output_kind == "ctc":
        model.compile(optimizer=optimizer, loss=CTCLoss(config.num_classes),
                      metrics=[CTCExactMatch(config.num_classes)], **options)
    else:
        model.compile(optimizer=optimizer, loss=["sparse_categorical_crossentropy"] * config.max_length,
                      metrics=["accuracy"] * config.max_length, **options)


class TrainingTargets:
    """Padded class indices (from `data.encode_batch`) -> what the model's loss expects.

    A class rather than a closure so that worker processes can receive it.
    """

    def __init__(self, config):
        self.config = config
        self.output_kind = get_architecture(config.architecture).output_kind

    def __call__(self, labels, lengths):
        if self.output_kind == "ctc":
            positions = np.arange(labels.shape[1])[None, :]
            return np.where(positions < lengths[:, None], labels, -1).astype(np.int32)
        return tuple(labels[:, position] for position in range(self.config.max_length))


def default_config(architecture="default", family="library", **overrides):
    """The config an architecture is trained with on captchas of `family` unless told otherwise."""
    if family == "general":
        # The general family's charset, lengths and sizes; an input wide enough for 8 characters.
        overrides = {"charset": fonts.GENERAL_CHARSET, "min_length": styles.MIN_LENGTH,
                     "max_length": styles.MAX_LENGTH, "captcha_width_range": styles.WIDTH_RANGE,
                     "captcha_height_range": styles.HEIGHT_RANGE, "captcha_width": 160, "captcha_height": 60,
                     "input_width": 144, "family": family, **overrides}
    if architecture in ("seed", "seed-bn"):
        # The tutorial fed full-size RGB captchas to its network.
        overrides = {"input_height": 80, "input_width": 170, "input_channels": 3, **overrides}
    if architecture == "ctc" and family == "library":
        # Texts of 1 to 8 characters on captchas from 120x50 to 240x100: the sizes sites use.
        overrides = {"min_length": 1, "max_length": 8, "captcha_width_range": (120, 240),
                     "captcha_height_range": (50, 100), **overrides}
    get_architecture(architecture)
    return CaptchaConfig(architecture=architecture, **overrides)


def recalibrate_batch_norm(model, batches):
    """Set every BatchNorm layer's moving statistics to their exact average over `batches`.

    Moving averages lag behind weights that are still changing quickly, and at a high
    learning rate that lag can cost a tenth of the accuracy at inference. Averaging the
    batch statistics of the current weights ("precise BatchNorm") removes it. `batches`
    are model inputs from the training data.
    """
    normalizations = [layer for layer in model._flatten_layers() if isinstance(layer, layers.BatchNormalization)]
    momentums = [layer.momentum for layer in normalizations]
    try:
        for count, batch in enumerate(batches):
            # With momentum count / (count + 1) the moving value becomes the running mean.
            for layer in normalizations:
                layer.momentum = count / (count + 1)
            model(batch, training=True)
    finally:
        for layer, momentum in zip(normalizations, momentums):
            layer.momentum = momentum


class KerasNetwork:
    """A Keras network as the solver runs it (see `runtime.Network`): uint8 inputs -> outputs.

    `model` is the trained network (for its summary, diagram and saliency maps); outputs
    come from `inference_model` (`inference_copy.fold_for_inference`), the same network
    rewritten to compute the same outputs faster. It reads with the weights `model`
    had when this was made.
    """

    runtime = "keras"
    # TensorFlow spreads each call over the cores.
    lanes = 1

    def __init__(self, model):
        self.model = model
        self.inference_model = inference_copy.fold_for_inference(model)
        self.parameters = model.count_params()

    def __call__(self, inputs):
        return self.inference_model.predict_on_batch(inputs)
