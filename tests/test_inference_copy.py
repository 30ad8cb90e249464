"""The inference copy: the same outputs as the trained network, with its fixed scalings and column reading rewritten."""

import keras
import numpy as np
import pytest

from captcha_model.config import RefereeConfig
from captcha_model.networks import inference_copy, model as model_lib, referee


def trained_looking(network):
    """`network` with BatchNorm statistics and affine parameters far from their initial 0 and 1, so that
    folding has work to do."""
    random = np.random.default_rng(0)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([random.uniform(0.5, 2.0, channels), random.normal(0, 1, channels),
                               random.normal(0, 1, channels), random.uniform(0.2, 3.0, channels)])
    return network


def layer_types(network):
    return [type(layer).__name__ for layer in network.layers]


@pytest.mark.parametrize("architecture", ["default", "ctc", "seed", "referee"])
def test_the_copy_computes_the_same_outputs(architecture):
    if architecture == "referee":
        # A referee of a pooled model, whose stem convolution reads the glyph at full resolution.
        network = referee.build_referee(model_lib.default_config(input_pooling=2), RefereeConfig())
    else:
        network = model_lib.build_model(model_lib.default_config(architecture))
    network = trained_looking(network)
    folded = inference_copy.fold_for_inference(network)
    inputs = np.random.default_rng(1).integers(0, 256, (3, *network.input_shape[1:]), dtype=np.uint8)
    for expected, actual in zip(keras.tree.flatten(network.predict_on_batch(inputs)),
                                keras.tree.flatten(folded.predict_on_batch(inputs))):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
    assert "BatchNormalization" not in layer_types(folded)
    # The first convolution applies the scaling to 0-1 itself, which leaves the Rescaling a cast.
    assert [layer.scale for layer in folded.layers if isinstance(layer, keras.layers.Rescaling)] == [1.0]


@pytest.mark.parametrize("architecture", ["default", "ctc"])
def test_columns_are_read_by_a_convolution_as_tall_as_the_map(architecture):
    network = trained_looking(model_lib.build_model(model_lib.default_config(architecture)))
    folded = inference_copy.fold_for_inference(network)
    assert "Permute" in layer_types(network) and "Permute" not in layer_types(folded)
    reader = folded.get_layer("columns")
    assert isinstance(reader, keras.layers.Conv2D)
    assert reader.kernel_size == (network.get_layer("columns").input.shape[1], 1)
    assert reader.filters == network.get_layer("column_dense").units
    # The Dense it replaces is gone; what read the Dense reads the convolution's columns.
    assert "column_dense" not in [layer.name for layer in folded.layers]
    assert folded.get_layer("sequence").output.shape == network.get_layer("column_dense").output.shape


def test_a_scaling_with_an_offset_or_read_twice_stays_where_it_is():
    inputs = keras.Input((8, 8, 1), dtype="uint8", name="image")
    shifted = keras.layers.Rescaling(1 / 127.5, offset=-1, name="shifted")(inputs)
    shared = keras.layers.Rescaling(1 / 255, name="shared")(inputs)
    first = keras.layers.Conv2D(2, 3, padding="same", name="first")(shifted)
    second = keras.layers.Conv2D(2, 3, padding="same", name="second")(shared)
    third = keras.layers.Conv2D(2, 3, padding="same", name="third")(shared)
    network = keras.Model(inputs, keras.layers.Concatenate()([first, second, third]))
    folded = inference_copy.fold_for_inference(network)
    # An offset would change what the convolution's zero padding means; two readers would both need the scale.
    assert [layer.scale for layer in folded.layers if isinstance(layer, keras.layers.Rescaling)] == [1 / 127.5, 1 / 255]
    batch = np.random.default_rng(2).integers(0, 256, (2, 8, 8, 1), dtype=np.uint8)
    np.testing.assert_allclose(folded.predict_on_batch(batch), network.predict_on_batch(batch), rtol=1e-5, atol=1e-5)
