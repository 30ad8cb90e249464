"""The "Your captchas" workspace (`captcha_app.your_captchas`): a visitor's zip unpacked within bounds and
pre-labelled least sure first, corrections written as typed labels, workspaces kept apart and deleted, runs
refused, finished or stopped, and the download and push of the model."""

import csv
import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from captcha_app import training_run, your_captchas
from captcha_app.training_run import TrainingPolicy
from captcha_app.your_captchas import Workspace, Workspaces
from captcha_model.config import CaptchaConfig
from captcha_model.data.labelled import read_labelled
from captcha_model.data.rendering import sample_captcha
from captcha_model.reading.decoding import Reading

ON = TrainingPolicy(10, "on")


class GreyReader:
    """A stand-in model: it reads a solid grey image of shade `v` as f"G{v}", with confidence v/255."""

    config = CaptchaConfig()

    def solve(self, images):
        shades = [int(np.asarray(image.convert("L"))[0, 0]) for image in images]
        return [Reading(f"G{shade}", shade / 255, (shade / 255,)) for shade in shades]


def png(shade):
    buffer = io.BytesIO()
    Image.new("L", (60, 20), shade).save(buffer, format="PNG")
    return buffer.getvalue()


def write_zip(path, files, labels=None):
    """A zip of `files` ({name: bytes}), with a labels.csv of `labels` ([(file, text)]) where given."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        if labels is not None:
            archive.writestr("labels.csv", "file,text\n" + "".join(f"{name},{text}\n" for name, text in labels))
    return str(path)


def labels_table(workspace):
    with open(os.path.join(workspace.images, "labels.csv"), newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def workspace():
    made = Workspace()
    yield made
    made.close()


@pytest.fixture
def shades_zip(tmp_path):
    """Six grey images, two of them labelled in labels.csv."""
    files = {f"{shade}.png": png(shade) for shade in (200, 50, 120, 90, 30, 160)}
    return write_zip(tmp_path / "shades.zip", files, [("30.png", "AB12"), ("160.png", "CD34")])


def test_a_zip_is_prelabelled_least_sure_first_with_its_labels_kept_as_typed(workspace, shades_zip):
    summary = workspace.load(shades_zip, GreyReader())
    assert "6 captchas, 2 labelled (kept as typed) and 4 read by the model" in summary
    assert [(row.file, row.text, row.typed) for row in workspace.rows] == [
        ("50.png", "G50", False), ("90.png", "G90", False), ("120.png", "G120", False), ("200.png", "G200", False),
        ("160.png", "CD34", True), ("30.png", "AB12", True)]
    assert sorted(os.listdir(workspace.images)) == sorted(["labels.csv", *(f"{shade}.png" for shade in
                                                                           (200, 50, 120, 90, 30, 160))])
    assert labels_table(workspace)[0] == ["file", "text", "confidence", "typed"]
    assert [row[3] for row in labels_table(workspace)[1:]] == ["no"] * 4 + ["yes"] * 2


def test_corrections_become_typed_labels_that_training_reads(workspace, shades_zip):
    workspace.load(shades_zip, GreyReader())
    row, note = workspace.correct(0, "  XY99 ", GreyReader.config)
    assert (row.file, row.text, row.typed, note) == ("50.png", "XY99", True, "")
    # Enter on a pre-label confirms it as it stands.
    workspace.correct(1, workspace.rows[1].text)
    assert workspace.typed_count() == 4
    typed = read_labelled(workspace.images)
    assert sorted(zip(typed.names, typed.texts)) == [("160.png", "CD34"), ("30.png", "AB12"), ("50.png", "XY99"),
                                                     ("90.png", "G90")]
    assert any("typed=no" in reason for _, reason in typed.skipped)


def test_a_label_with_characters_the_model_lacks_is_kept_with_a_note(workspace, tmp_path):
    archive = write_zip(tmp_path / "odd.zip", {"a.png": png(10), "b.png": png(20)}, [("a.png", "ab€")])
    summary = workspace.load(archive, GreyReader())
    assert "1 typed labels hold characters the model does not read ('ab€')" in summary
    row, note = workspace.correct(0, "X€YX", GreyReader.config)
    assert row.text == "X€YX" and row.typed
    assert note.startswith("The pre-labelling model does not read '€'; a model trained on your labels learns")
    assert sorted(read_labelled(workspace.images).texts) == ["X€YX", "ab€"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "cannot be empty"), ("   ", "cannot be empty"), ("AB CD", "without spaces"), ("AB\x07", "control"),
    ("A" * 33, "at most 32 characters"),
])
def test_a_bad_label_is_refused_and_the_row_kept(workspace, shades_zip, text, message):
    workspace.load(shades_zip, GreyReader())
    before = list(workspace.rows)
    with pytest.raises(ValueError, match=message):
        workspace.correct(0, text)
    assert workspace.rows == before


def test_a_correction_of_a_row_that_is_not_there_is_refused(workspace, shades_zip):
    workspace.load(shades_zip, GreyReader())
    with pytest.raises(ValueError, match="no longer in the grid"):
        workspace.correct(6, "AB12")


def test_an_empty_zip_gets_a_clear_message_and_loses_nothing(workspace, shades_zip, tmp_path):
    workspace.load(shades_zip, GreyReader())
    workspace.correct(0, "XY99")
    rows, files = list(workspace.rows), sorted(os.listdir(workspace.images))
    with pytest.raises(ValueError, match="empty.zip holds no images"):
        workspace.load(write_zip(tmp_path / "empty.zip", {}), GreyReader())
    with pytest.raises(ValueError, match="'notes.zip' is neither a folder nor a .zip"):
        (tmp_path / "notes.zip").write_text("not a zip")
        workspace.load(str(tmp_path / "notes.zip"), GreyReader())
    assert workspace.rows == rows and sorted(os.listdir(workspace.images)) == files


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(workspace, tmp_path, monkeypatch):
    bomb = write_zip(tmp_path / "bomb.zip", {"huge.png": bytes(your_captchas.MAX_UNPACKED_BYTES + 1)})
    assert os.path.getsize(bomb) < 2**20
    with pytest.raises(ValueError, match="bomb.zip unpacks to 50.0 MB; at most 50 MB"):
        workspace.load(bomb, GreyReader())
    assert os.listdir(workspace.folder) == []
    monkeypatch.setattr(your_captchas, "MAX_IMAGES", 3)
    many = write_zip(tmp_path / "many.zip", {f"{shade}.png": png(shade) for shade in range(4)})
    with pytest.raises(ValueError, match="many.zip holds 4 images; at most 3"):
        workspace.load(many, GreyReader())


def test_duplicates_and_unreadable_files_are_skipped_with_their_reasons(workspace, tmp_path):
    archive = write_zip(tmp_path / "mixed.zip", {"a.png": png(10), "copy.png": png(10), "b.png": png(20),
                                                 "broken.png": b"not an image", "../outside.png": png(30)})
    summary = workspace.load(archive, GreyReader())
    assert "duplicate (1, e.g. copy.png)" in summary
    assert "unreadable image (1, e.g. broken.png)" in summary
    assert "a name that leads outside the zip's folder (1, e.g. ../outside.png)" in summary
    assert [row.file for row in workspace.rows] == ["a.png", "b.png"]
    assert sorted(os.listdir(workspace.images)) == ["a.png", "b.png", "labels.csv"]
    assert not os.path.exists(os.path.join(workspace.folder, "outside.png"))


def test_images_without_any_label_are_prelabelled_and_training_asks_for_labels(workspace, tmp_path):
    archive = write_zip(tmp_path / "bare.zip", {f"{shade:04d}.png": png(shade) for shade in range(40)})
    summary = workspace.load(archive, GreyReader())
    assert "0 labelled" in summary and "no labels.csv: every image is pre-labelled" in summary
    with pytest.raises(ValueError, match="at least 30 labels typed or confirmed .*; 0 so far"):
        workspace.start_training(1, ON)
    assert workspace.training is None


def test_file_names_are_labels_when_asked(workspace, tmp_path):
    archive = write_zip(tmp_path / "named.zip", {"7K2P_01.png": png(10), "AB12.png": png(20)})
    workspace.load(archive, GreyReader(), labels_from_names=True)
    assert sorted((row.file, row.text, row.typed) for row in workspace.rows) == [
        ("7K2P_01.png", "7K2P", True), ("AB12.png", "AB12", True)]


def test_two_visitors_never_see_each_others_captchas_and_leaving_deletes_them(shades_zip):
    workspaces = Workspaces()
    first, second = workspaces.of("first"), workspaces.of("second")
    assert workspaces.of("first") is first and first.folder != second.folder
    first.load(shades_zip, GreyReader())
    assert len(first.rows) == 6 and second.rows == [] and not os.path.exists(second.images)
    workspaces.close("first")
    assert not os.path.exists(first.folder) and os.path.exists(second.folder)
    assert workspaces.of("first") is not first
    workspaces.close_all()
    assert not os.path.exists(second.folder) and workspaces.open == {}
    with pytest.raises(ValueError, match="no session"):
        workspaces.of(None)


def test_an_idle_workspace_is_deleted_when_another_visitor_comes(shades_zip):
    workspaces = Workspaces(idle_seconds=0)
    idle = workspaces.of("idle")
    time.sleep(0.01)
    workspaces.of("another")
    assert not os.path.exists(idle.folder) and list(workspaces.open) == ["another"]
    workspaces.close_all()


def test_training_is_refused_when_off_busy_or_too_long(shades_zip):
    busy = Workspace(trainings_running=lambda: training_run.MAX_TRAININGS_AT_ONCE)
    try:
        busy.load(shades_zip, GreyReader())
        with pytest.raises(ValueError, match="switched off"):
            busy.start_training(1, TrainingPolicy(0, "Training is switched off here."))
        with pytest.raises(ValueError, match="already going on on this server"):
            busy.start_training(1, ON)
        busy.trainings_running = lambda: 0
        with pytest.raises(ValueError, match="at most 10 minutes here, not 11"):
            busy.start_training(11, ON)
        assert busy.training is None and not os.path.exists(os.path.join(busy.folder, "runs"))
    finally:
        busy.close()


def fake_run(workspace, failures=()):
    """A finished run's folder, as training writes it, made the workspace's newest model."""
    folder = os.path.join(workspace.folder, "runs", "run-1")
    os.makedirs(folder)
    for name in ("model.keras", "model.onnx", "captcha_config.json", "training_curve.png", "log.txt"):
        with open(os.path.join(folder, name), "w") as handle:
            handle.write(name)
    metrics = {"test": {"accuracy": 0.5, "accuracy_95ci": [0.1, 0.9], "count": 2,
                        "failures": [{"index": 1, "truth": "AB12", "predicted": "A812", "confidence": 0.4},
                                     *failures]},
               "data": {"held_out_files": ["160.png", "30.png"]}}
    with open(os.path.join(folder, "metrics.json"), "w") as handle:
        json.dump(metrics, handle)
    workspace.model_folder = folder
    return folder


def test_the_result_names_the_held_out_captchas_it_misreads(workspace, shades_zip):
    workspace.load(shades_zip, GreyReader())
    assert workspace.result() is None
    fake_run(workspace)
    result = workspace.result()
    assert (result.accuracy, result.interval, result.count) == (0.5, (0.1, 0.9), 2)
    assert result.failures == [(os.path.join(workspace.images, "30.png"), "AB12", "A812")]


def test_the_download_holds_the_labels_and_the_model_with_its_export(workspace, shades_zip):
    workspace.load(shades_zip, GreyReader())
    workspace.correct(0, "XY99")
    with zipfile.ZipFile(workspace.download()) as archive:
        assert archive.namelist() == ["labels.csv"]
        assert "50.png,XY99,0.1961,yes" in archive.read("labels.csv").decode()
    fake_run(workspace)
    with zipfile.ZipFile(workspace.download()) as archive:
        assert sorted(archive.namelist()) == ["captcha_config.json", "labels.csv", "metrics.json", "model.keras",
                                              "model.onnx", "training_curve.png"]


def test_a_push_uses_the_visitors_token_only(workspace, shades_zip, monkeypatch):
    pushes = []
    monkeypatch.setattr(your_captchas.hub, "push", lambda *args, **options: pushes.append((args, options)) or
                        "https://hub.example/owner/site/commit/1")
    monkeypatch.setenv("HF_TOKEN", "the-servers-own-token")
    workspace.load(shades_zip, GreyReader())
    with pytest.raises(ValueError, match="Train a model first"):
        workspace.push("owner/site", "hf_visitor")
    folder = fake_run(workspace)
    with pytest.raises(ValueError, match="Paste a Hugging Face token"):
        workspace.push("owner/site", "  ")
    assert pushes == []
    assert workspace.push(" owner/site ", " hf_visitor ") == "https://hub.example/owner/site/commit/1"
    assert pushes == [((os.path.join(folder, "model.keras"), "owner/site"),
                       {"token": "hf_visitor", "onnx_folder": folder})]
    assert "hf_visitor" not in json.dumps(vars(workspace), default=str)


def captchas_zip(path, config, count, typed):
    """A zip of `count` captchas drawn for `config`, the first `typed` labelled in labels.csv."""
    files, labels = {}, []
    for index in range(count):
        text, image = sample_captcha(config, index)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        files[f"{index:03d}.png"] = buffer.getvalue()
        if index < typed:
            labels.append((f"{index:03d}.png", text))
    return write_zip(path, files, labels)


TINY_RUN = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8"]


@pytest.mark.slow
def test_a_run_that_finishes_gives_the_model_and_a_stopped_one_keeps_it(workspace, solver, tmp_path):
    workspace.load(captchas_zip(tmp_path / "site.zip", solver.config, 40, 35), solver)
    run = workspace.start_training(1, ON, TINY_RUN)
    with pytest.raises(ValueError, match="A training run is going on"):
        workspace.load(str(tmp_path / "site.zip"), solver)
    lines = []
    while not run.wait(0.5):
        lines.append(run.progress()[1])
    assert any(line.startswith("epoch 1:") for line in lines), lines
    assert not any(workspace.folder in line for line in lines)
    assert workspace.end_of_training().startswith("Trained")
    model_folder, result = workspace.model_folder, workspace.result()
    assert result.count == 4 and 0 <= result.accuracy <= 1
    with zipfile.ZipFile(workspace.download()) as archive:
        assert {"model.keras", "model.onnx", "metrics.json", "labels.csv"} <= set(archive.namelist())
    assert "Pre-labelled again: 40 captchas, 35 labelled" in workspace.prelabel_again(solver)
    assert workspace.newest_solver().source.endswith(os.path.join(model_folder, "model.keras"))

    stopped = workspace.start_training(1, ON, TINY_RUN)
    time.sleep(3)
    workspace.stop_training()
    assert not stopped.running() and stopped.stopped
    assert workspace.end_of_training() == ("Training was stopped before it finished. The model of your last "
                                           "finished run stays.")
    assert workspace.model_folder == model_folder and workspace.result() == result
    assert not os.path.exists(stopped.folder)
