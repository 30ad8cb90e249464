"""Choosing the runtime: runtimes named or refused, exports found by their files, the runtime picked where none is
asked for, and an import of a package the light install lacks turned into a message saying what to install."""

import pytest

from captcha_model.reading import runtime


def test_a_runtime_is_keras_onnx_or_none():
    assert runtime.check_runtime(None) is None and runtime.check_runtime("onnx") == "onnx"
    with pytest.raises(ValueError, match="Unknown runtime 'tflite'; accepted runtimes are keras, onnx."):
        runtime.check_runtime("tflite")


def test_an_export_is_a_onnx_file_or_a_folder_holding_model_onnx(tmp_path):
    model = tmp_path / "model.keras"
    assert not runtime.is_onnx_export(tmp_path) and runtime.export_folder(model) is None
    (tmp_path / "model.onnx").write_bytes(b"")
    assert runtime.is_onnx_export(tmp_path) and runtime.is_onnx_export(tmp_path / "int8.onnx")
    # A .keras file's export lies beside it; an export's folder is itself, or the folder of its file.
    assert runtime.export_folder(model) == runtime.export_folder(tmp_path) == str(tmp_path)
    assert runtime.export_folder(tmp_path / "model.onnx") == str(tmp_path)


def test_unasked_the_export_is_read_where_it_can_be_then_keras_then_onnx_with_a_warning(tmp_path, monkeypatch,
                                                                                        caplog):
    model = tmp_path / "model.keras"
    (tmp_path / "model.onnx").write_bytes(b"")
    monkeypatch.setattr(runtime, "keras_installed", lambda: True)
    monkeypatch.setattr(runtime, "onnx_installed", lambda: True)
    assert runtime.choose_runtime(None, model) == "onnx" and runtime.choose_runtime("keras", model) == "keras"
    monkeypatch.setattr(runtime, "onnx_installed", lambda: False)
    assert runtime.choose_runtime(None, model) == "keras"
    assert "TensorFlow is not installed" not in caplog.text
    monkeypatch.setattr(runtime, "keras_installed", lambda: False)
    assert runtime.choose_runtime(None, model) == "onnx"
    assert "TensorFlow is not installed, so captchas are read with the ONNX runtime" in caplog.text


def test_a_missing_optional_package_says_what_to_install_and_other_import_errors_pass():
    with pytest.raises(ValueError, match="This needs tf2onnx, which is not installed here; .*pip install -r "
                                         "requirements.txt"), runtime.full_install_needed():
        raise ModuleNotFoundError("No module named 'tf2onnx'", name="tf2onnx")
    with pytest.raises(ModuleNotFoundError, match="captcha_extras"), runtime.full_install_needed():
        raise ModuleNotFoundError("No module named 'captcha_extras'", name="captcha_extras")
