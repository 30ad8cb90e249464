"""What a bench section measured: the command, the date, the machine and the model files with a short sha256.

Every section records this beside its figures (bench/results/NAME.json) and says it under
its heading in bench/RESULTS.md, so that each figure can be traced to the command that
measured it and to the very files it read.
"""

import datetime
import hashlib
import importlib.metadata
import os
import platform
import shlex
import sys

# Every section imports this module: run as a script (python bench/NAME.py), bench/ is on the path and the
# project is not.
if os.path.dirname(os.path.dirname(os.path.abspath(__file__))) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from captcha_model.reading.runtime import ONNX_MODEL_FILE, ONNX_REFEREE_FILE
from captcha_model.reading.solver import BUNDLED_MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Hex digits of the sha256 kept: enough to tell two model files apart, short enough to read.
DIGITS = 12


def command(script, arguments):
    """The command line of a bench script, as typed from the project's root."""
    return shlex.join(["python", f"bench/{script}", *arguments])


def short_hash(path):
    """The first DIGITS hex digits of the sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:DIGITS]


def model_files(source=None, runtime="keras"):
    """The files a model is read from, for `load_solver(source, runtime)`'s sources.

    A Keras model is its .keras file, which holds its referee as an entry of its own; an
    ONNX export is its model.onnx and, where it has one, its referee.onnx. A source that is
    no local file (a Hub repo) is given as it is.
    """
    path = BUNDLED_MODELS.get("default" if source is None else source, source)
    if runtime == "onnx" or os.path.isdir(path) or path.endswith(".onnx"):
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        return [os.path.join(folder, name) for name in (ONNX_MODEL_FILE, ONNX_REFEREE_FILE)
                if os.path.isfile(os.path.join(folder, name))]
    return [path]


def describe_file(path):
    """{"path": relative to the project where it lies inside it, "sha256": short hash, or None if no local file}."""
    if not os.path.isfile(path):
        return {"path": path, "sha256": None}
    relative = os.path.relpath(os.path.abspath(path), ROOT)
    return {"path": path if relative.startswith("..") else relative, "sha256": short_hash(path)}


def hardware():
    model_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model_name = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model_name}, {os.cpu_count()} cores, no GPU"


def versions():
    """Python and the libraries that set the figures, those installed here."""
    found = {"Python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "onnxruntime", "ddddocr", "gradio"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(f"{name} {version}" for name, version in found.items())


def record(command_line, files):
    """The provenance of a section measured now by `command_line`, which read the model `files`."""
    unique = list(dict.fromkeys(os.fspath(path) for path in files))
    return {"command": command_line, "date": datetime.date.today().isoformat(), "hardware": hardware(),
            "versions": versions(), "model_files": [describe_file(path) for path in unique]}


def lines(provenance):
    """The Markdown lines under a section's heading that say what measured it."""
    files = provenance.get("model_files")
    if files is None:
        models = "model files not recorded"
    elif not files:
        models = "model files: none (the section reads no saved model)"
    else:
        models = "model files: " + ", ".join(
            f"`{item['path']}` (sha256 {item['sha256'] or 'not a local file'})" for item in files)
    took = f" ({provenance['minutes']:g} minutes)" if "minutes" in provenance else ""
    where = f" on {provenance['hardware']}" if provenance.get("hardware") else ""
    measured = [f"- measured by `{provenance['command']}`{took}, {provenance['date']}{where}", f"- {models}"]
    if provenance.get("versions"):
        measured.append(f"- versions: {provenance['versions']}")
    return measured
