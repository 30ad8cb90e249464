"""The models a server offers: the one it was started with and the bundled ones, each loaded once.

`ServedModels` lists them by name, knows what each reads from its file's config
without loading it, loads each on its first request (once, however many ask at once),
warms it up, draws its pictures for the Model tab, and says which model answered and
whether it stands in for one that could not be loaded. A model's Keras network (for its
saliency maps, summary and diagram) is loaded only when first asked for: ONNX Runtime reads
without it, and TensorFlow takes seconds to start. Nothing here needs Gradio.
"""

import dataclasses
import hashlib
import os
import shutil
import threading

from captcha_app.shared_reader import SharedReader
from captcha_model import config as config_lib
from captcha_model.data import rendering, seeds
from captcha_model.reading import evaluation, runtime, solver as solver_lib
from captcha_model.reading.solver import GENERAL_MODEL

# The bundled model chosen when no other is named.
DEFAULT_MODEL = "default"
# The seed of the captchas that warm a model up before its first visitor.
WARM_UP_SEED = 7


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A loaded model, its shared reader, the folder of its pictures and its training curve (the one training drew
    beside the model, or else drawn on loading)."""

    solver: solver_lib.Solver
    reader: SharedReader
    pictures: str
    training_curve: str | None


def load_first(source, strict=False, runtime_name=None):
    """(solver, notice, name): the model to serve first, a note for visitors or None, and its name.

    `source` is a bundled model's name, a .keras path, a Hub repo OWNER/NAME[@REVISION],
    or None for the bundled default model; one that cannot be had is replaced by the bundled
    default one, and the notice says why (see `solver.load_solver_with_fallback`). The name
    is how the page lists it: the source as given, or the bundled model's name.
    """
    solver, notice = solver_lib.load_solver_with_fallback(source, strict, runtime_name)
    return solver, notice, DEFAULT_MODEL if notice or not source else source


class ServedModels:
    """The first model, `solver` (listed as `name`, default: its source), then the bundled ones.

    `pictures` is a folder for the pictures of each model; `notice` says why the first
    model stands in for another, or is None. Every model runs on the runtime of the first.
    """

    def __init__(self, solver, pictures, notice=None, name=None):
        self.name = name or solver.source
        self.notice = notice
        self.runtime = solver.runtime
        self.pictures = pictures
        self.names = [self.name, *(name for name in solver_lib.BUNDLED_MODELS if name != self.name)]
        # What each model reads comes from its file's config, so that the page can describe
        # every choice, and refuse a text a model cannot have, without loading its network.
        self.configs = {
            name: solver.config if name == self.name else config_lib.read_config(solver_lib.BUNDLED_MODELS[name])
            for name in self.names
        }
        # Training metrics too: the seeds each model drew from say which captchas are new to all of them.
        metrics = {
            name: solver.metrics if name == self.name else solver_lib.read_metrics(solver_lib.BUNDLED_MODELS[name])
            for name in self.names
        }
        self.stage_seeds = sorted({seed for name in self.names for seed in seeds.stage_seeds(metrics[name] or {})})
        self.seeds_drawn = set(seeds.streams_of(self.stage_seeds))
        # One lock per model: two first requests for the same model load it once, while
        # the models already loaded keep serving.
        self.locks = {name: threading.Lock() for name in self.names}
        self.loaded = {self.name: self.prepare(self.name, solver)}
        self.diagrams = {}

    def check(self, name):
        """The name of a model on offer: `name`, or the first model's when empty; ValueError for others."""
        name = name or self.name
        if name not in self.configs:
            choices = ", ".join(repr(known) for known in self.names)
            raise ValueError(f"Unknown model {name!r}; the models are {choices}.")
        return name

    def config(self, name=None):
        """The config of the model `name`, without loading it."""
        return self.configs[self.check(name)]

    def config_if_known(self, name=None):
        """`config(name)`, or None for a name not on offer: for checks that report unknown names themselves."""
        return self.configs.get(name or self.name)

    def reader_of(self, size, name=None):
        """The name of the model that reads a picture of `size` (width, height) for a visitor who chose `name`: that
        model, or the general one where the chosen model reads the captcha library's images and none of this size."""
        name, config = self.check(name), self.config(name)
        if solver_lib.goes_to_general(config, size) and GENERAL_MODEL in self.names:
            return GENERAL_MODEL
        return name

    def get(self, name=None):
        """The `ServedModel` named `name`, loaded on first use."""
        name = self.check(name)
        with self.locks[name]:
            if name not in self.loaded:
                try:
                    solver = solver_lib.load_solver(name, self.runtime)
                except ValueError as error:
                    raise ValueError(f"Could not load the model {name!r}: {error}") from None
                self.loaded[name] = self.prepare(name, solver)
        return self.loaded[name]

    def solver(self, name=None):
        return self.get(name).solver

    def prepare(self, name, solver):
        """A `ServedModel` for a freshly loaded `solver`, warmed up for its first visitor."""
        # Readings before serving build the model's prediction function, so the first visitor
        # does not wait for it and concurrent first requests cannot race; a second batch size
        # makes it take any size, as shared readings come in batches of every size.
        for count in (1, 2):
            solver.solve([rendering.sample_captcha(solver.config, WARM_UP_SEED, index)[1] for index in range(count)])
        folder = os.path.join(self.pictures, "model-" + hashlib.sha256(name.encode()).hexdigest()[:16])
        os.makedirs(folder)
        history = (solver.metrics or {}).get("history")
        curve = os.path.join(folder, "training_curve.png") if history else None
        # Training draws the curve beside the model it writes; drawing it again takes most of a second.
        drawn = solver.keras_source and os.path.join(os.path.dirname(solver.keras_source), "training_curve.png")
        if curve and drawn and os.path.exists(drawn):
            shutil.copyfile(drawn, curve)
        elif curve:
            evaluation.plot_training_curve(history, curve)
        return ServedModel(solver, SharedReader(solver), folder, curve)

    def keras_solver(self, name=None):
        """Model `name` read by Keras, loaded the first time it is asked for (saliency maps need its gradients,
        the Model tab its layers); None where TensorFlow is not installed or the model has no Keras file."""
        solver = self.solver(name)
        if solver.model is None and not (solver.keras_source and runtime.keras_installed()):
            return None
        return solver.with_keras()

    def network_diagram(self, name=None):
        """The path of a picture of model `name`'s network, drawn the first time it is asked for; None where its
        Keras model cannot be had (see `keras_solver`)."""
        name = self.check(name)
        keras_solver, folder = self.keras_solver(name), self.get(name).pictures
        with self.locks[name]:
            if name not in self.diagrams:
                self.diagrams[name] = keras_solver and draw_network(keras_solver.model, folder)
        return self.diagrams[name]

    def identity(self, name=None):
        """Which model answers for `name`: its name, source, revision, the runtime that runs it ('Keras' or
        'ONNX Runtime', as `solver.RUNTIME_NAMES` names them), and the fallback notice or None."""
        name = self.check(name)
        solver = self.solver(name)
        return {"name": name, "source": solver.source, "revision": solver.revision,
                "runtime": solver_lib.RUNTIME_NAMES[solver.runtime],
                "fallback": self.notice if name == self.name else None}


def draw_network(model, folder):
    """The path of a picture of the Keras `model`'s network, drawn into `folder`."""
    with runtime.full_install_needed():
        from captcha_model.networks import diagram

    path = os.path.join(folder, "network.png")
    diagram.plot_network(model).savefig(path, dpi=110, bbox_inches="tight")
    return path
