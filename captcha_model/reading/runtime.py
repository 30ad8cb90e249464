"""Which runtime runs the networks: Keras (TensorFlow) or ONNX Runtime.

A solver hands its network a uint8 batch and decodes what comes back with
`captcha_model.reading.decoding`, so readings are the same code whichever runtime computed the
logits. A runtime's network is a `Network`; each runtime lives in a module of its own,
imported only when it is chosen (in `solver.load_network`, where the layout test sees it), so that
reading captchas with ONNX Runtime never imports TensorFlow or Keras (`requirements-light.txt`
installs neither).
"""

import contextlib
import importlib.util
import logging
import os
import typing

from captcha_model.config import CONFIG_ENTRY, REFEREE_CONFIG_ENTRY

logger = logging.getLogger(__name__)

KERAS = "keras"
ONNX = "onnx"
RUNTIMES = (KERAS, ONNX)
# Packages an install may lack: the light one has no TensorFlow, Keras or exporter, and an
# install made by hand may have no ONNX Runtime.
OPTIONAL_PACKAGES = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")
ONNX_SUFFIX = ".onnx"
# The files of an ONNX export (see `captcha_model.onnx_runtime`), the referee's only where there is one.
ONNX_MODEL_FILE = "model.onnx"
# The same names as the entries of a `.keras` file and of a Hub repo, so that one repo serves both runtimes.
ONNX_CONFIG_FILE = CONFIG_ENTRY
ONNX_REFEREE_FILE = "referee.onnx"
ONNX_REFEREE_CONFIG_FILE = REFEREE_CONFIG_ENTRY
EXPORT_COMMAND = "python -m captcha_model export MODEL OUT_DIR --format onnx"
FULL_INSTALL = "pip install -r requirements.txt"
RUNTIME_HELP = ("read with Keras or ONNX Runtime (default: ONNX Runtime wherever the model has its ONNX export, "
                "as the bundled models and those train.py writes do; else Keras)")


class Network(typing.Protocol):
    """What a solver needs of a network, in either runtime."""

    runtime: str  # KERAS or ONNX
    parameters: int  # of the trained network, as Keras counts them
    model: object  # the Keras model, for its summary, diagram and saliency; None in ONNX Runtime
    # How many chunks of a batch the solver reads side by side, each with `one_thread_copy()`;
    # 1 where the runtime spreads each call over the cores itself.
    lanes: int

    def __call__(self, inputs):
        """uint8 inputs (batch, height, width, channels) -> the network's outputs as NumPy arrays."""

    def one_thread_copy(self):
        """The same network computing each call on one thread (needed where `lanes` > 1)."""


def keras_installed():
    """Whether TensorFlow and Keras can be imported, found without importing them (which takes seconds)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "keras"))
    except (ImportError, ValueError):
        return False


def is_onnx_export(path):
    """Whether `path` names an ONNX export: a .onnx file, or a folder that holds model.onnx."""
    path = os.fspath(path)
    return path.endswith(ONNX_SUFFIX) or os.path.isfile(os.path.join(path, ONNX_MODEL_FILE))


def check_runtime(runtime):
    """`runtime` itself if it is None or one of RUNTIMES; ValueError otherwise."""
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}; accepted runtimes are {', '.join(RUNTIMES)}.")
    return runtime


def onnx_installed():
    """Whether ONNX Runtime can be imported, found without importing it."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


def export_folder(path):
    """The folder of the ONNX export that `path` names or sits beside (a model.keras with model.onnx in
    its folder, as train.py writes them), or None where there is none."""
    path = os.fspath(path)
    if is_onnx_export(path):
        return path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    folder = os.path.dirname(os.path.abspath(path))
    return folder if os.path.isfile(os.path.join(folder, ONNX_MODEL_FILE)) else None


def choose_runtime(runtime=None, path=None):
    """The runtime to read the model at `path` with: `runtime` if given; else ONNX Runtime where the model
    has its export and ONNX Runtime is installed, else Keras where TensorFlow is installed, else ONNX
    Runtime, with a warning that says so."""
    if check_runtime(runtime) is not None:
        return runtime
    if path is not None and export_folder(path) is not None and onnx_installed():
        return ONNX
    if keras_installed():
        return KERAS
    logger.warning("TensorFlow is not installed, so captchas are read with the ONNX runtime "
                   "(training and saliency maps need TensorFlow: %s).", FULL_INSTALL)
    return ONNX


@contextlib.contextmanager
def full_install_needed():
    """Around an import of a module that needs packages not every install has: ValueError naming the
    missing one, where one is missing."""
    try:
        yield
    except ImportError as error:
        if error.name not in OPTIONAL_PACKAGES:
            raise
        raise ValueError(f"This needs {error.name}, which is not installed here; the light install "
                         f"(requirements-light.txt) reads captchas only. Install everything with: "
                         f"{FULL_INSTALL}") from None
