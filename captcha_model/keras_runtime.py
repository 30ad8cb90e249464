"""Loading a `.keras` model file for the Keras runtime (see `captcha_model.runtime`)."""

from captcha_model import model as model_lib, referee as referee_lib


def load(path):
    """(network, config, referee or None) of the `.keras` file at `path`."""
    model, config = model_lib.load_model(path)
    return model_lib.KerasNetwork(model), config, referee_lib.load_referee(path, config)
