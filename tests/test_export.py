"""Exports for ONNX Runtime (`python -m captcha_model export`): each architecture, its referee included, reads as
Keras does; quantized networks are int8 and a third the size; formats other than ONNX are refused."""

import os

import onnx
import pytest

from captcha_model import load_solver
from captcha_model.config import RefereeConfig
from captcha_model.data import rendering
from captcha_model.networks import model as model_lib, model_file, referee as referee_lib
from captcha_model.publishing.export import export as export_model
from captcha_model.reading import runtime

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("architecture", ["seed", "default", "ctc"])
def test_each_architecture_exports_and_reads_as_keras_does(tmp_path, architecture, tiny_model, export,
                                                             assert_same_readings):
    path = tiny_model(tmp_path, architecture, with_referee=architecture == "default")
    out_dir = export(path, tmp_path / "export")
    keras_solver, onnx_solver = load_solver(path), load_solver(out_dir)
    assert (keras_solver.runtime, onnx_solver.runtime) == ("keras", "onnx")
    assert onnx_solver.model is None and onnx_solver.config == keras_solver.config
    assert onnx_solver.network.parameters == keras_solver.network.parameters
    assert (onnx_solver.referee is not None) == (architecture == "default")
    inputs, _ = rendering.render_range(keras_solver.config, 31, 0, 24, rendering.Emphasis("0O"))
    assert_same_readings(keras_solver, onnx_solver, inputs)
    assert "ONNX Runtime" in onnx_solver.describe()


@pytest.mark.slow
def test_a_quantized_export_has_int8_networks_a_third_the_size(tmp_path, export):
    config = model_lib.default_config()
    path = tmp_path / "full.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    referee_config = RefereeConfig()
    referee_lib.attach(path, referee_lib.build_referee(config, referee_config), referee_config)
    float_folder, int8_folder = export(path, tmp_path / "float"), export(path, tmp_path / "int8", "--quantize")
    for name in (runtime.ONNX_MODEL_FILE, runtime.ONNX_REFEREE_FILE):
        assert os.path.getsize(int8_folder / name) < os.path.getsize(float_folder / name) / 3
        assert "QuantizeLinear" in {node.op_type for node in onnx.load(int8_folder / name).graph.node}
    readings = load_solver(int8_folder).solve([rendering.sample_captcha(config, 3)[1]])
    assert len(readings) == 1 and len(readings[0].character_confidences) == len(readings[0].text)


def test_a_format_other_than_onnx_is_refused_before_the_model_is_loaded(tmp_path):
    with pytest.raises(ValueError, match="Unknown export format 'tflite'; accepted formats are onnx"):
        export_model(tmp_path / "no-such-model.keras", tmp_path / "out", format="tflite")
    assert not (tmp_path / "out").exists()
