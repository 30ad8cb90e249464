"""The model file: one `.keras` archive that holds a network and the config it was trained with.

`save_model` writes it atomically, as a float32 network without optimizer unless asked
otherwise; `load_model` reads it back with `safe_mode=True` and refuses a file whose
weights do not fit its config; `rewrite_archive` adds entries to an archive (the config,
a referee).
"""

import contextlib
import glob
import os
import tempfile
import zipfile

import keras

from captcha_model.config import CONFIG_ENTRY, read_config
from captcha_model.networks.model import build_model


@contextlib.contextmanager
def float32_policy():
    """Build layers in float32 within this block, whatever precision training uses.

    The model files that are shipped and served compute in float32: a network trained in
    mixed precision keeps float32 weights, and the CPUs that serve it run float16 slowly.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def save_model(model, config, path, include_optimizer=False):
    """Write `model` with its config inside one `.keras` file, atomically.

    The file is written beside its destination and renamed into place, so a crash
    mid-write never replaces a good file with a broken one. Without the optimizer
    the file holds a fresh, uncompiled float32 copy of the network: inference needs nothing more.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(f"Model paths must end in '.keras', got {str(path)!r}.")
    if not include_optimizer:
        weights = model.get_weights()
        with float32_policy():
            model = build_model(config)
        model.set_weights(weights)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # The partial file is hidden and named after its destination (Keras insists on the
    # .keras ending), so that one left behind by a save that was killed is recognised,
    # and removed, by the next save to the same place.
    prefix = f".{os.path.basename(path)}.partial-"
    for leftover in glob.glob(glob.escape(os.path.join(directory, prefix)) + "*.keras"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)
    handle, partial = tempfile.mkstemp(prefix=prefix, suffix=".keras", dir=directory)
    os.close(handle)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            keras_path = os.path.join(scratch, "model.keras")
            model.save(keras_path)
            rewrite_archive(keras_path, partial, {CONFIG_ENTRY: config.to_json()})
        # mkstemp creates private files; a model is meant to be shared like any other file.
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def rewrite_archive(source_path, target_path, entries):
    """Copy the `.keras` archive at `source_path` to `target_path`, `entries` (name -> content) added or replaced.

    Keras stores its entries uncompressed; every entry here is deflated, which shrinks the
    weights by about a tenth and the JSON configs by most of their size. Keras reads
    deflated entries as it reads stored ones.
    """
    with zipfile.ZipFile(source_path) as source, \
            zipfile.ZipFile(target_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename not in entries:
                target.writestr(item.filename, source.read(item.filename))
        for name, content in entries.items():
            target.writestr(name, content)


def load_model(path, compile=False):
    """Load a model and its config with `safe_mode=True`; refuse models that do not fit their config."""
    config = read_config(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:
        raise ValueError(f"Could not load {path} as a safe Keras model: {error}") from error
    expected = keras.Input((config.input_height, config.input_width, config.input_channels)).shape
    if tuple(model.input_shape) != tuple(expected):
        raise ValueError(f"{path}: model input {model.input_shape} does not match its config {expected}.")
    reference = build_model(config)
    actual_shapes = [tuple(weight.shape) for weight in model.weights]
    expected_shapes = [tuple(weight.shape) for weight in reference.weights]
    if actual_shapes != expected_shapes:
        raise ValueError(
            f"{path}: the weights do not fit architecture {config.architecture!r} with "
            f"charset of {config.num_classes} characters and lengths {config.min_length}-{config.max_length}."
        )
    return model, config
