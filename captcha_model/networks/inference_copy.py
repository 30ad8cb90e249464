"""The copy of a trained network that reads captchas: the same outputs, to float rounding, in fewer operations.

`fold_for_inference` rewrites three things that are fixed once training ends:

- a BatchNorm after a convolution is a per-channel scale and shift, which the convolution
  applies itself: its kernel scaled, the shift as its bias;
- the input's scaling to 0-1 is applied by the first convolution (through average poolings,
  which are linear), which leaves the `Rescaling` layer a mere cast; otherwise ONNX Runtime
  spends a large share of its time multiplying every full-resolution pixel;
- the Dense that reads each column of the feature map (its height and channels flattened)
  becomes a convolution as tall as the map, so the map is never transposed into columns:
  only the far smaller result is.

Every other layer is copied as it is. The solver's Keras runtime reads with this copy, and
`python -m captcha_model export` exports it.
"""

import collections

import keras
import numpy as np
from keras import layers


def fold_for_inference(model):
    """An inference copy of the functional Keras `model` (see the module docstring)."""
    sole = _sole_readers(model)
    normalizations = _absorbed_normalizations(model, sole)
    input_scales = _input_scales(model, sole)
    casts = {rescaling for rescaling, _ in input_scales.values()}
    columns = _column_readers(model, sole)
    reshapes = {reshape.name: dense for reshape, dense in columns.values()}
    dropped = {layer.name for layer in normalizations.values()} | {dense.name for _, dense in columns.values()}

    def clone(layer):
        if layer.name in normalizations:
            return layers.Conv2D.from_config({**layer.get_config(), "use_bias": True})
        if layer.name in casts:
            return layers.Rescaling.from_config({**layer.get_config(), "scale": 1.0})
        if layer.name in columns:
            dense = columns[layer.name][1]
            return layers.Conv2D(dense.units, (layer.input.shape[1], 1), activation=dense.activation,
                                 dtype=dense.dtype_policy, name=layer.name)
        if layer.name in reshapes:
            return layers.Reshape((layer.output.shape[1], reshapes[layer.name].units), name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    def call(layer, inputs, *args, **kwargs):
        # An absorbed layer drops out of the copy: its input passes straight on.
        return inputs if layer.name in dropped else layer(inputs, *args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for layer in model.layers:
        if layer.name in dropped:
            continue
        weights = layer.get_weights()
        if layer.name in normalizations:
            weights = _absorb(weights, normalizations[layer.name])
        if layer.name in input_scales:
            weights[0] = weights[0] * input_scales[layer.name][1]
        if layer.name in columns:
            _, height, _, channels = layer.input.shape
            kernel, bias = columns[layer.name][1].get_weights()
            weights = [kernel.reshape(height, 1, channels, -1), bias]
        folded.get_layer(layer.name).set_weights(weights)
    return folded


def _sole_readers(model):
    """{id(tensor): the layer} for each tensor of `model` that one layer reads and no other: a step
    that only it reads can be rewritten without changing what other layers see."""
    readers = collections.defaultdict(list)
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer.input):
            readers[id(tensor)].append(layer)
    return {key: found[0] for key, found in readers.items() if len(found) == 1}


def _absorbed_normalizations(model, sole):
    """{convolution name: the BatchNorm it absorbs}: each BatchNorm that is the sole reader of a
    convolution's output."""
    return {
        layer.name: sole[id(layer.output)]
        for layer in model.layers
        if isinstance(layer, layers.Conv2D) and isinstance(sole.get(id(layer.output)), layers.BatchNormalization)
    }


def _input_scales(model, sole):
    """{convolution name: (Rescaling layer name, its scale)} for each scaling without offset that
    reaches a convolution through average poolings only, each step read by nothing else."""
    scales = {}
    for layer in model.layers:
        config = layer.get_config() if isinstance(layer, layers.Rescaling) else {}
        if not config or config["offset"] != 0 or np.ndim(config["scale"]) != 0:
            continue
        reader = sole.get(id(layer.output))
        while isinstance(reader, layers.AveragePooling2D):
            reader = sole.get(id(reader.output))
        if isinstance(reader, layers.Conv2D):
            scales[reader.name] = (layer.name, float(config["scale"]))
    return scales


def _column_readers(model, sole):
    """{Permute name: (its Reshape, the Dense)} where a feature map (batch, height, width, channels)
    becomes columns (batch, width, height * channels) that a Dense reads, nothing else reading either step."""
    found = {}
    for layer in model.layers:
        if not isinstance(layer, layers.Permute) or tuple(layer.dims) != (2, 1, 3):
            continue
        _, height, width, channels = layer.input.shape
        reshape = sole.get(id(layer.output))
        if not isinstance(reshape, layers.Reshape) or tuple(reshape.output.shape[1:]) != (width, height * channels):
            continue
        dense = sole.get(id(reshape.output))
        if isinstance(dense, layers.Dense):
            found[layer.name] = (reshape, dense)
    return found


def _absorb(weights, normalization):
    """A convolution's [kernel, bias] once it applies the BatchNorm `normalization` after it."""
    variance = keras.ops.convert_to_numpy(normalization.moving_variance)
    scale = 1.0 / np.sqrt(variance + normalization.epsilon)
    if normalization.scale:
        scale = scale * keras.ops.convert_to_numpy(normalization.gamma)
    kernel, *bias = weights
    shift = ((bias[0] if bias else 0.0) - keras.ops.convert_to_numpy(normalization.moving_mean)) * scale
    if normalization.center:
        shift = shift + keras.ops.convert_to_numpy(normalization.beta)
    return [kernel * scale, shift]
