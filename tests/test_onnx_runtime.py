"""ONNX Runtime's networks: sessions whose idle threads sleep, and export folders that are not whole or not of their
config refused with what is wrong."""

import os
import re
import shutil

import pytest

from captcha_model import load_solver
from captcha_model.config import read_config
from captcha_model.reading import onnx_runtime
from captcha_model.reading.solver import BUNDLED_MODELS


def test_idle_onnx_threads_sleep_rather_than_spin():
    solver = load_solver(runtime="onnx")
    for network in (solver.network, solver.referee.network):
        options = network.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.fixture(scope="module")
def bundled_export(tmp_path_factory):
    """A copy of the bundled default model's export, for tests that break it."""
    folder = tmp_path_factory.mktemp("bundled") / "default"
    shutil.copytree(os.path.dirname(BUNDLED_MODELS["default"]), folder)
    os.remove(folder / "model.keras")
    return folder


def broken_copy(source, target, breakage):
    shutil.copytree(source, target)
    breakage(target)
    return target


@pytest.mark.parametrize("breakage, message", [
    (lambda folder: (folder / "model.onnx").write_bytes(b"not a network"), "Could not load .* as an ONNX network"),
    (lambda folder: (folder / "model.onnx").write_bytes(b""), "Could not load .* as an ONNX network"),
    (lambda folder: os.remove(folder / "captcha_config.json"), "Could not read .*captcha_config.json"),
    (lambda folder: (folder / "captcha_config.json").write_text("{"), "holds a malformed captcha_config.json"),
    # Another model's config: an input the network does not read.
    (lambda folder: shutil.copy(os.path.join(os.path.dirname(BUNDLED_MODELS["ctc"]), "captcha_config.json"), folder),
     r"reads tensor\(uint8\) .*its config needs one uint8 input of \(batch, 40, 88, 1\)"),
    # A referee network in the main network's place: one input of the wrong width.
    (lambda folder: shutil.copy(folder / "referee.onnx", folder / "model.onnx"), "its config needs one uint8 input"),
    (lambda folder: os.remove(folder / "referee_config.json"), "referee without a readable referee_config.json"),
])
def test_broken_exports_are_refused_with_what_is_wrong(bundled_export, tmp_path, breakage, message):
    folder = broken_copy(bundled_export, tmp_path / "broken", breakage)
    with pytest.raises(ValueError, match=message):
        load_solver(folder)


def test_an_export_is_named_by_its_folder_or_its_network_file(tmp_path):
    assert onnx_runtime.model_file(tmp_path) == os.path.join(tmp_path, "model.onnx")
    assert onnx_runtime.model_file(tmp_path / "int8.onnx") == os.path.join(tmp_path, "int8.onnx")
    with pytest.raises(ValueError, match="No ONNX network at .*model.onnx'; make one with python -m captcha_model "
                                         "export"):
        onnx_runtime.load(tmp_path)


def test_a_network_of_another_shape_than_its_config_says_is_refused():
    config = read_config(BUNDLED_MODELS["default"])
    path = os.path.join(os.path.dirname(BUNDLED_MODELS["default"]), "model.onnx")
    image = (config.input_height, config.input_width, config.input_channels)
    wider = (config.input_height, config.input_width + 2, config.input_channels)
    expected = re.escape(f"its config needs one uint8 input of (batch, {', '.join(map(str, wider))})")
    with pytest.raises(ValueError, match=expected):
        onnx_runtime.OnnxNetwork(path, wider, outputs=1)
    with pytest.raises(ValueError, match="has 1 outputs; its config needs 4"):
        onnx_runtime.OnnxNetwork(path, image, outputs=4)
    assert onnx_runtime.OnnxNetwork(path, image, outputs=1).parameters > 0
