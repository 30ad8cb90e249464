"""The ONNX export that training writes beside its model: copied whole, or removed, so that no file of an earlier
export is read with a newer model, and skipped with a note where the exporter is not installed."""

import os
import sys

from captcha_model import publishing
from captcha_model.training import onnx_export


def contents(folder):
    return {name: (folder / name).read_text() for name in os.listdir(folder)}


def test_copying_an_export_leaves_no_file_of_an_earlier_one(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / "model.onnx").write_text("network")
    (source / "captcha_config.json").write_text("config")
    for name in onnx_export.EXPORT_FILES:
        (target / name).write_text("earlier")
    (target / "model.keras").write_text("model")
    onnx_export.copy_export(source, target)
    # The earlier referee goes: the new model has none.
    assert contents(target) == {"model.onnx": "network", "captcha_config.json": "config", "model.keras": "model"}


def test_without_the_exporter_the_model_stays_alone_and_the_note_says_how_to_export(tmp_path, monkeypatch, capsys):
    model = tmp_path / "model.keras"
    model.write_text("model")
    for name in onnx_export.EXPORT_FILES:
        (tmp_path / name).write_text("earlier")
    # The export module cannot be imported, as where onnx or tf2onnx is missing.
    monkeypatch.setitem(sys.modules, "captcha_model.publishing.export", None)
    monkeypatch.delattr(publishing, "export", raising=False)
    assert onnx_export.export_beside(model) is None
    assert contents(tmp_path) == {"model.keras": "model"}
    note = capsys.readouterr().out
    assert note.startswith(f"No ONNX export beside {model}: ")
    assert "(pip install -r requirements.txt, then python -m captcha_model export MODEL OUT_DIR --format onnx)" in note
