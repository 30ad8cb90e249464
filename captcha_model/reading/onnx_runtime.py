"""Reading captchas with ONNX Runtime: loading the folders `python -m captcha_model export` writes.

An export folder holds `model.onnx` (the network's inference copy, uint8 input) and
`captcha_config.json` (its `CaptchaConfig`); where the model has a referee, also `referee.onnx`
and `referee_config.json`; and the `metrics.json` of its training run where there was one.
Nothing here imports TensorFlow or Keras.
"""

import os

import onnxruntime

from captcha_model import config as config_lib
from captcha_model.config import RefereeConfig
from captcha_model.reading import adjudication, runtime
from captcha_model.reading.runtime import (
    EXPORT_COMMAND,
    ONNX_CONFIG_FILE as CONFIG_FILE,
    ONNX_MODEL_FILE,
    ONNX_REFEREE_CONFIG_FILE as REFEREE_CONFIG_FILE,
    ONNX_REFEREE_FILE as REFEREE_FILE,
)

# Metadata the export writes into each network: how many parameters the trained network had and,
# in the main network, the digest of the Keras weights it was made from (see solver.weights_digest).
PARAMETERS_KEY = "parameters"
KERAS_WEIGHTS_KEY = "keras_weights"
SPINNING_KEY = "session.intra_op.allow_spinning"


def available_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxNetwork:
    """A network in an `.onnx` file run by ONNX Runtime (see `runtime.Network`).

    `input_shape` is the (height, width, channels) its config promises and `outputs` how many
    outputs it must have; a file that does not fit is refused with a ValueError. `threads` is
    how many threads compute each call, 0 for ONNX Runtime's choice (one per core).
    """

    runtime = runtime.ONNX
    model = None

    def __init__(self, path, input_shape, outputs, threads=0):
        self.path, self.input_shape, self.outputs = path, input_shape, outputs
        # A batch is read fastest in chunks side by side, each computed on one thread: one call
        # keeps several threads less than fully busy (int8 convolutions least of all), and the
        # preprocessing and crops around it run on one core.
        self.lanes = 1 if threads == 1 else available_cores()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # Idle worker threads sleep instead of spinning: spinning ones take the cores from the
        # other session (main network and referee alternate) and from whatever shares the machine.
        options.add_session_config_entry(SPINNING_KEY, "0")
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own exception types, one per failure.
            raise ValueError(f"Could not load {path} as an ONNX network: {error}. Export one with "
                             f"{EXPORT_COMMAND}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(uint8)" or tuple(inputs[0].shape[1:]) != tuple(input_shape):
            found = ", ".join(f"{item.type} {item.shape}" for item in inputs)
            raise ValueError(f"{path} reads {found}; its config needs one uint8 input of (batch, "
                             f"{', '.join(map(str, input_shape))}).")
        if len(self.session.get_outputs()) != outputs:
            raise ValueError(f"{path} has {len(self.session.get_outputs())} outputs; its config needs {outputs}.")
        self.input_name = inputs[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.parameters = int(metadata.get(PARAMETERS_KEY, 0))
        self.keras_weights = metadata.get(KERAS_WEIGHTS_KEY)

    def one_thread_copy(self):
        return OnnxNetwork(self.path, self.input_shape, self.outputs, threads=1)

    def __call__(self, inputs):
        outputs = self.session.run(None, {self.input_name: inputs})
        return outputs[0] if len(outputs) == 1 else outputs


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError as error:
        raise ValueError(f"Could not read {path} ({error}); an ONNX export holds {ONNX_MODEL_FILE} and "
                         f"{CONFIG_FILE} made by {EXPORT_COMMAND}") from None


def model_file(path):
    """The main network's file of an export: `path` itself if it is a .onnx file, else its model.onnx."""
    path = os.fspath(path)
    return path if path.endswith(runtime.ONNX_SUFFIX) else os.path.join(path, ONNX_MODEL_FILE)


def load(path):
    """(network, config, referee or None) of the ONNX export at `path` (its folder or its model.onnx)."""
    network_path = model_file(path)
    if not os.path.isfile(network_path):
        raise ValueError(f"No ONNX network at {network_path!r}; make one with {EXPORT_COMMAND}")
    folder = os.path.dirname(os.path.abspath(network_path))
    config_path = os.path.join(folder, CONFIG_FILE)
    config = config_lib.parse_config(_read_text(config_path), config_path, CONFIG_FILE)
    heads = config_lib.get_architecture(config.architecture).output_kind == "heads"
    image = (config.input_height, config.input_width, config.input_channels)
    network = OnnxNetwork(network_path, image, outputs=config.max_length if heads else 1)
    referee_path = os.path.join(folder, REFEREE_FILE)
    if not os.path.isfile(referee_path):
        return network, config, None
    try:
        referee_config = RefereeConfig.from_json(_read_text(os.path.join(folder, REFEREE_CONFIG_FILE)))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{folder} holds a referee without a readable {REFEREE_CONFIG_FILE} ({error}).") from None
    glyph = (config.input_height, referee_config.crop_width, config.input_channels)
    referee = adjudication.Referee(OnnxNetwork(referee_path, glyph, outputs=1), config, referee_config)
    return network, config, referee
