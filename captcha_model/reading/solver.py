"""Reading captchas with a trained model: `load_solver()` and `Solver.solve(images)`.

`load_solver()` with no argument uses the model that ships inside this package, so
solving works offline with nothing to download; `load_solver("ctc")` the other bundled
model, which reads 1-8 characters on captchas of any size; `load_solver("OWNER/NAME")`
pulls a model pushed to the Hugging Face Hub (see `captcha_model.publishing.hub`). Its `runtime`
picks Keras or ONNX Runtime (see `captcha_model.reading.runtime`); readings are the same code either way.
"""

import concurrent.futures
import functools
import hashlib
import json
import logging
import os
import threading

import numpy as np
from PIL import Image

from captcha_model import config as config_lib
from captcha_model.data import preprocessing
from captcha_model.environment import STRICT_VARIABLE
from captcha_model.image_input import open_image
from captcha_model.reading import decoding, hub_download, runtime as runtime_lib

logger = logging.getLogger(__name__)

# Each bundled model's folder also holds the metrics.json and training_curve.png of its
# run, laid out as train.py writes them and as a Hub repo holds them, and its ONNX export.
_BUNDLED_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bundled")
BUNDLED_MODELS = {
    name: os.path.join(_BUNDLED_FOLDER, name, "model.keras")
    for name in sorted(os.listdir(_BUNDLED_FOLDER))
    if os.path.isfile(os.path.join(_BUNDLED_FOLDER, name, "model.keras"))
}
BUNDLED_MODEL = BUNDLED_MODELS["default"]
# The bundled model that reads captchas of any site: pictures of a size a library model never read go to it.
GENERAL_MODEL = "general"
KERAS_FILE = "model.keras"
# Int8 exports of the bundled models (`export --quantize`), read by ONNX Runtime only: faster, and
# they read a few texts otherwise than the float models (bench/RESULTS.md counts them).
INT8_SUFFIX = "-int8"
BUNDLED_EXPORTS = {
    name + INT8_SUFFIX: os.path.join(os.path.dirname(path), "int8")
    for name, path in BUNDLED_MODELS.items()
    if os.path.isfile(os.path.join(os.path.dirname(path), "int8", "model.onnx"))
}
RUNTIME_NAMES = {runtime_lib.KERAS: "Keras", runtime_lib.ONNX: "ONNX Runtime"}
# Batches smaller than twice this are read whole on all cores: starting threads would cost more than it saves.
SMALLEST_CHUNK = 16


def goes_to_general(config, size):
    """Whether a picture of `size` (width, height) is better read by the general model than by a model of
    `config`: one that reads the captcha library's images, none of this size, and was made for no site."""
    return config.family == "library" and not config.site and not config.covers(*size)


class Solver:
    """A loaded network, its config, where it came from and its training metrics (or None).

    `network` runs the network (a `runtime.Network`: Keras or ONNX Runtime); `model` is the
    trained Keras model, for its summary, diagram and saliency maps, or None in ONNX Runtime.
    A `referee` (see `captcha_model.reading.adjudication`), where the model file holds one, decides
    again each character of its pair that the network reads.
    """

    def __init__(self, network, config, source, metrics=None, batch_size=256, referee=None, revision=None,
                 keras_source=None):
        self.network = network
        self.model = network.model
        self.config = config
        self.source = source
        # Which version of the model this is: a Hub commit, or a digest of the model's weights.
        self.revision = revision
        self.metrics = metrics
        self.batch_size = batch_size
        self.referee = referee
        # What `load_solver` loads this model's Keras network from (a .keras file, or the Hub repo), or None.
        self.keras_source = keras_source
        self._keras_lock = threading.Lock()

    @property
    def runtime(self):
        return self.network.runtime

    @functools.cached_property
    def keras_weights(self):
        """The digest of the weights of this model's .keras file (see `weights_digest`), or None."""
        if self.keras_source is None or not os.path.exists(self.keras_source):
            return None
        return weights_digest(self.keras_source, runtime_lib.KERAS)

    def with_keras(self):
        """This model read by Keras: itself where Keras reads it, else its .keras file loaded the first time
        it is asked for (saliency maps need its gradients, and its diagram its layers)."""
        if self.runtime == runtime_lib.KERAS:
            return self
        if self.keras_source is None:
            raise ValueError(f"The model from {self.source} has no Keras file: saliency maps and the network's "
                             f"layers need one (ONNX Runtime reads only the export).")
        with self._keras_lock:
            if "_keras_twin" not in self.__dict__:
                twin = load_solver(self.keras_source, runtime_lib.KERAS)
                self._keras_twin = Solver(twin.network, self.config, self.source, self.metrics, self.batch_size,
                                          twin.referee, self.revision, self.keras_source)
            return self._keras_twin

    def solve(self, images):
        """Read a list of images (PIL images, bytes or paths): one `Reading` per image."""
        if isinstance(images, (Image.Image, bytes, str)):
            raise ValueError("solve takes a list of images; wrap a single image in a list.")
        images = list(images)
        if not images:
            raise ValueError("solve needs at least one image, got an empty list.")
        return self._side_by_side(images, Solver._read_images)

    def solve_inputs(self, inputs):
        """Read already preprocessed inputs (from `data.preprocess`)."""
        return self._side_by_side(inputs, Solver._read_inputs)

    def _side_by_side(self, items, read):
        """`read(solver, items)`, or where the network has lanes and `items` are many, the same over chunks
        of them read side by side, one per lane, by a copy of this solver whose networks use one thread each."""
        if self.network.lanes == 1 or len(items) < 2 * SMALLEST_CHUNK:
            return read(self, items)
        chunks = lane_chunks(items, self.network.lanes, self.batch_size)
        with concurrent.futures.ThreadPoolExecutor(self.network.lanes) as pool:
            parts = pool.map(functools.partial(read, self._one_thread_copy), chunks)
            return [reading for part in parts for reading in part]

    @functools.cached_property
    def _one_thread_copy(self):
        """This solver with one-thread copies of its networks (made once, on its first batch read in lanes)."""
        referee = self.referee and self.referee.with_network(self.referee.network.one_thread_copy())
        return Solver(self.network.one_thread_copy(), self.config, self.source, self.metrics, self.batch_size,
                      referee, self.revision, self.keras_source)

    def _read_images(self, images):
        return self._read_inputs(preprocessing.preprocess([open_image(image) for image in images], self.config))

    def _read_inputs(self, inputs):
        if not len(inputs):
            return []
        outputs = concatenate_outputs([self.network(inputs[start : start + self.batch_size])
                                       for start in range(0, len(inputs), self.batch_size)])
        # The whole batch is decoded at once, and the referee sees all the glyphs it decides in one call.
        characters = decoding.read_characters(outputs, self.config)
        if self.referee is not None:
            characters = self.referee.adjudicate(inputs, outputs, characters)
        return decoding.readings(characters, self.config)

    def describe(self):
        """A one-line description of the model, for logs and the app."""
        return (
            f"{self.config.architecture} model from {self.source}, run by {RUNTIME_NAMES[self.runtime]}: "
            f"{self.network.parameters:,} parameters, input {self.config.input_height}x{self.config.input_width}"
            + (f" pooled by {self.config.input_pooling}" if self.config.input_pooling > 1 else "")
            + f", {self.config.min_length}-{self.config.max_length} characters of {self.config.charset!r}"
            + (f", for the captchas of {self.config.site['source']}" if self.config.site else "")
            + (f", with a {self.referee.referee_config.characters[0]}/{self.referee.referee_config.characters[1]} "
               f"referee of {self.referee.network.parameters:,} parameters" if self.referee else "")
        )


def lane_chunks(items, lanes, batch_size):
    """`items` cut into chunks to read side by side: one a lane where that makes none longer than `batch_size`,
    and none shorter than SMALLEST_CHUNK (but the last)."""
    size = max(SMALLEST_CHUNK, min(batch_size, -(-len(items) // lanes)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def concatenate_outputs(outputs):
    """A network's outputs for successive chunks of a batch -> its outputs for the whole batch."""
    if len(outputs) == 1:
        return outputs[0]
    if isinstance(outputs[0], (list, tuple)):
        return [np.concatenate(heads) for heads in zip(*outputs)]
    return np.concatenate(outputs)


def load_network(path, runtime):
    """(network, config, referee or None) of the model at `path`, loaded by `runtime`.

    Each runtime's loader is imported only when chosen, so that ONNX Runtime never imports TensorFlow.
    """
    with runtime_lib.full_install_needed():
        if runtime == runtime_lib.KERAS:
            from captcha_model.reading import keras_runtime as loader
        else:
            from captcha_model.reading import onnx_runtime as loader
    return loader.load(path)


def load_solver(source=None, runtime=None):
    """A `Solver` for a model: the bundled default (`source=None`), another bundled model
    by name (`"ctc"`, see `BUNDLED_MODELS`), a bundled int8 export (`"default-int8"`, see
    `BUNDLED_EXPORTS`), a `.keras` file, an ONNX export (its folder or model.onnx) or a Hub repo
    "OWNER/NAME[@REVISION]".

    `runtime` is "keras" or "onnx". By default ONNX Runtime reads wherever the model has its
    export (the bundled models, a .keras file with the export train.py writes beside it, a Hub repo
    that holds one), else Keras where TensorFlow is installed, else ONNX Runtime (with a warning).
    """
    name = "default" if source is None else source
    runtime_lib.check_runtime(runtime)
    revision = None
    if name in BUNDLED_MODELS:
        path, description = BUNDLED_MODELS[name], f"bundled {name} model"
    elif name in BUNDLED_EXPORTS:
        path, description = BUNDLED_EXPORTS[name], f"bundled {name} export"
    else:
        path = description = os.fspath(source)
    if not os.path.exists(path):
        path, description, revision = hub_download.fetch(path, runtime)
    keras_source = keras_file(path) or (name if revision else None)
    chosen = runtime_lib.choose_runtime(runtime, path)
    if chosen == runtime_lib.ONNX:
        folder = runtime_lib.export_folder(path)
        if folder is None:
            raise ValueError(f"{path} is a Keras model file with no ONNX export beside it; make one with "
                             f"python -m captcha_model export {path} {os.path.dirname(path) or '.'} --format onnx")
        path = folder
    network, config, referee = load_network(path, chosen)
    solver = Solver(network, config, description, metrics=read_metrics(path), referee=referee,
                    revision=revision or weights_digest(path, chosen), keras_source=keras_source)
    if chosen == runtime_lib.ONNX and not revision and keras_source and network.keras_weights != solver.keras_weights:
        # An export beside a .keras file serves it only if it was made from that very file.
        problem = (f"The ONNX export in {path} was not made from {keras_source} (or records no digest of it); "
                   f"export it again with python -m captcha_model export {keras_source} {path} --format onnx")
        if runtime is not None:
            raise ValueError(problem)
        logger.warning("%s. Reading with Keras meanwhile.", problem)
        return load_solver(source, runtime_lib.KERAS)
    return solver


def keras_file(path):
    """The .keras file of the model at `path` (a .keras file, or a folder holding model.keras or the
    unpacked entries of one), or None where it has none."""
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = os.path.join(path, KERAS_FILE)
        if os.path.isfile(inside):
            return inside
        return path if os.path.isfile(os.path.join(path, config_lib.WEIGHTS_ENTRY)) else None
    return path if path.endswith(".keras") else None


def weights_digest(model_path, runtime):
    """'sha256:' and the start of the digest of a model's weights: the revision of a model that is a file."""
    if runtime == runtime_lib.ONNX:
        folder = model_path if os.path.isdir(model_path) else os.path.dirname(model_path)
        with open(os.path.join(folder, runtime_lib.ONNX_MODEL_FILE), "rb") as handle:
            weights = handle.read()
    else:
        weights = config_lib.read_entry(model_path, config_lib.WEIGHTS_ENTRY) or b""
    return "sha256:" + hashlib.sha256(weights).hexdigest()[:12]


def read_metrics(model_path):
    """The metrics.json that train.py (or the export) wrote beside a model (or inside its folder), or None
    where there is none."""
    folder = model_path if os.path.isdir(model_path) else os.path.dirname(os.path.abspath(model_path))
    path = os.path.join(folder, config_lib.METRICS_FILE)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def load_solver_with_fallback(source, strict=False, runtime=None):
    """(solver, notice): the model `source` names, or the bundled model and a notice saying why.

    For the app and the CLI's --fallback: serving the bundled model beats serving nothing, but
    whoever reads its answers must learn that it is not the model asked for. The notice is
    also logged as a warning. No `source` (None or "") means the bundled model, without notice.
    With `strict`, a model that cannot be loaded raises ValueError instead. Either runs on
    `runtime` (see `load_solver`).
    """
    runtime_lib.check_runtime(runtime)
    if not source:
        return load_solver(runtime=runtime), None
    try:
        return load_solver(source, runtime), None
    except ValueError as error:
        if strict:
            raise ValueError(f"Could not load the model {source!r}, and {STRICT_VARIABLE} (or --strict) forbids "
                             f"falling back to the bundled model: {error}") from None
        notice = f"Could not load the model {source!r}, so the bundled model is used instead: {error}"
        logger.warning(notice)
        return load_solver(runtime=runtime), notice
