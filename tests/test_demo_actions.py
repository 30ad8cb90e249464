"""What the demo's buttons do, called without Gradio: answers that name the model and runtime that gave them, the
Model tab with or without training metrics, texts kept across a change of model, and uploads that are not files the
server received refused."""

import os
import shutil

import numpy as np
import pytest

from captcha_app import page_text
from captcha_app.demo_actions import DemoActions, model_input_picture, write_example_uploads
from captcha_app.picture_store import PictureStore
from captcha_app.served_models import ServedModels, load_first
from captcha_model import load_solver
from captcha_model.data import rendering, styles
from captcha_model.reading import solver as solver_lib


def actions_around(tmp_path, solver, notice=None, name=None):
    """The actions app.make_actions makes around `solver`, their folders under `tmp_path`."""
    models = ServedModels(solver, str(tmp_path / "pictures"), notice, name)
    store = PictureStore(str(tmp_path / "answers"), 2**24, 3600)
    return DemoActions(models, store, str(tmp_path / "uploads"))


def test_a_bundled_int8_export_is_served_by_name_on_onnx_runtime(config, tmp_path):
    actions = actions_around(tmp_path, *load_first("default-int8"))
    identity = actions.models.identity()
    assert identity["name"] == "default-int8" and identity["runtime"] == "ONNX Runtime"
    assert "default" in actions.models.names
    text, image = rendering.sample_captcha(config, 91)
    assert actions.models.solver().solve([image])[0].text == text
    # An export has no Keras network: its Model tab says so instead of drawing one.
    summary, diagram = actions.network_tab()
    assert "No Keras summary" in summary and diagram is None


def test_a_model_without_metrics_says_so(tmp_path):
    model_path = tmp_path / "model.keras"
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    captcha_app = actions_around(tmp_path, load_solver(model_path))
    assert "No training metrics" in captcha_app.model_tab()[1]
    assert captcha_app.model_tab()[2] is None
    assert "test accuracy" not in page_text.model_headline(captcha_app.models.solver())


@pytest.mark.parametrize("runtime_name", ["keras", "onnx"])
def test_every_answer_says_which_runtime_read_it(runtime_name, tmp_path):
    captcha_app = actions_around(tmp_path, *load_first(None, runtime_name=runtime_name))
    runtime_words = solver_lib.RUNTIME_NAMES[runtime_name]
    assert captcha_app.models.identity()["runtime"] == runtime_words
    # The other models run on the first one's runtime, and say so too.
    assert captcha_app.models.identity("ctc")["runtime"] == runtime_words
    line = page_text.answered_by(captcha_app.models.identity())
    assert line.endswith(f", run by {runtime_words}.")
    assert line in captcha_app.generate("7K2P", 8)[3]
    summary, _, _, report = captcha_app.evaluate(3, 1)
    assert line in summary and report["model"]["runtime"] == runtime_words


def test_a_text_is_kept_across_a_change_of_model_only_where_the_new_one_reads_it(tmp_path):
    actions = actions_around(tmp_path, load_solver())
    assert actions.kept_text(" 7K2P ", "default") == "7K2P"
    assert actions.kept_text("AB12CD7", "default") == "" and actions.kept_text("AB12CD7", "ctc") == "AB12CD7"
    assert actions.kept_text(None, "ctc") == ""


def test_an_upload_must_be_a_file_the_server_received(tmp_path):
    actions = actions_around(tmp_path, load_solver())
    os.makedirs(tmp_path / "uploads" / "one")
    received = str(tmp_path / "uploads" / "one" / "captcha.png")
    rendering.sample_captcha(actions.models.config(), 5)[1].save(received)
    assert actions.uploaded_path({"path": received}) == received
    assert actions.open_upload({"path": received}).size == (170, 80)
    refusal = "Send the image as an uploaded file; this request names no file the server received."
    for upload in ({"path": str(tmp_path / "answers" / "x.png")}, {"path": str(tmp_path / "uploads/../secret")},
                   {"url": received}, received):
        with pytest.raises(ValueError, match=refusal):
            actions.uploaded_path(upload)
    with pytest.raises(ValueError, match="Upload or paste an image first."):
        actions.open_upload(None)


def test_the_model_input_is_shown_enlarged_by_a_whole_factor_with_square_pixels():
    config = load_solver().config
    pixels = np.zeros((config.input_height, config.input_width, 1), dtype=np.uint8)
    picture = model_input_picture(pixels, config)
    zoom = picture.width // config.input_width
    assert zoom >= 1 and picture.size == (config.input_width * zoom, config.input_height * zoom)


def test_the_example_uploads_are_named_for_their_text_one_per_format(tmp_path):
    config = load_solver().config
    paths = write_example_uploads(config, str(tmp_path))
    assert [os.path.splitext(path)[1] for path in paths] == [".png", ".jpeg", ".gif", ".webp", ".bmp"]
    assert [os.path.basename(path) for path in paths][0] == f"captcha-{rendering.sample_captcha(config, 101)[0]}.png"


def test_an_upload_of_another_size_is_read_by_the_general_model_which_the_details_name(tmp_path):
    actions = actions_around(tmp_path, *load_first(None))
    os.makedirs(tmp_path / "uploads")
    received = str(tmp_path / "uploads" / "captcha.png")
    text, image = rendering.sample_captcha(actions.models.config("ctc").at(130, 55), 8)
    image.save(received)
    reading, _, _, details = actions.solve({"path": received})
    assert "Answered by **general**" in details and "**default** was trained on" in details
    assert "read this one (the picture of what the model sees is its input, 144×40); **default** reads `" in details
    assert reading == actions.models.solver("general").solve([image])[0].text
    # A picture of the chosen model's own size is read by it, and nothing is said of the general model.
    rendering.sample_captcha(actions.models.config(), 8)[1].save(received)
    _, _, _, details = actions.solve({"path": received})
    assert "Answered by **default**" in details and "general" not in details


def test_ignoring_case_gives_the_general_models_reading_in_upper_case(tmp_path):
    actions = actions_around(tmp_path, *load_first("general"))
    os.makedirs(tmp_path / "uploads")
    received = str(tmp_path / "uploads" / "captcha.png")
    styles.draw_general(31, 0, text="Kb7wq")[1].save(received)
    reading = actions.solve({"path": received})[0]
    assert any(character.islower() for character in reading)
    assert actions.solve({"path": received}, None, True)[0] == reading.upper()
