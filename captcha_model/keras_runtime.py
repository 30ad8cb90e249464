"""The Keras runtime (see `captcha_model.runtime`): a `.keras` model file loaded as a network the solver runs."""

from captcha_model import model_file, referee as referee_lib
from captcha_model.model import KerasNetwork


def load(path):
    """(network, config, referee or None) of the `.keras` file at `path`."""
    model, config = model_file.load_model(path)
    return KerasNetwork(model), config, referee_lib.load_referee(path, config)
