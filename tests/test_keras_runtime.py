"""The Keras runtime: a `.keras` model file loaded as the network, config and referee a solver runs."""

import numpy as np

from captcha_model.config import RefereeConfig
from captcha_model.networks import model_file, referee as referee_lib
from captcha_model.reading import keras_runtime


def test_a_model_file_loads_as_a_network_that_computes_what_the_saved_model_does(small_model):
    path, config = small_model
    network, loaded_config, referee = keras_runtime.load(path)
    assert loaded_config == config and referee is None
    assert (network.runtime, network.lanes) == ("keras", 1)
    saved, _ = model_file.load_model(path)
    assert network.parameters == saved.count_params() > 0
    inputs = np.random.default_rng(2).integers(0, 256, (3, config.input_height, config.input_width, 1), dtype=np.uint8)
    np.testing.assert_allclose(network(inputs), saved.predict_on_batch(inputs), atol=1e-4)


def test_the_referee_inside_a_model_comes_ready_to_adjudicate_its_pair(small_model):
    path, config = small_model
    referee_config = RefereeConfig(characters="5S", widths=(4, 8, 8))
    referee_lib.attach(path, referee_lib.build_referee(config, referee_config), referee_config)
    _, _, referee = keras_runtime.load(path)
    assert referee.referee_config == referee_config and referee.network.runtime == "keras"
    # The pair as indices of the model's charset: "5" is the sixth character, "S" the 29th.
    assert referee.pair == [5, 28]
