"""The Keras runtime (see `captcha_model.reading.runtime`): a `.keras` model file loaded as a network the
solver runs."""

from captcha_model.networks import model_file, referee as referee_lib
from captcha_model.networks.model import KerasNetwork
from captcha_model.reading.adjudication import Referee


def load_referee(path, config):
    """The `Referee` inside the model at `path` (a file or its unpacked folder), or None where it has none."""
    found = referee_lib.read_referee(path, config)
    return None if found is None else Referee(KerasNetwork(found[0]), config, found[1])


def load(path):
    """(network, config, referee or None) of the `.keras` file at `path`."""
    model, config = model_file.load_model(path)
    return KerasNetwork(model), config, load_referee(path, config)
