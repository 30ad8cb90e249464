"""The Gradio app, served in-process and driven through its named endpoints with gradio_client.

Every request goes through the real server, queue and components, on captchas drawn by
the same generator as training. Hostile uploads, many visitors at once and secrets are
in test_reliability.py. The bundled ctc model is checked for doing what it is asked
(the right captcha drawn, its own reading returned), not for reading well: that is
measured where it is trained. The app's parts are tested on their own in
test_demo_actions.py, test_served_models.py, test_page_text.py and test_visitor_input.py.
"""

import gc
import json
import os
import re
import shutil
import sys

import httpx
import pytest
from app_server import serving_program
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image

import app
from captcha_app import demo_actions, page_text
from captcha_model import load_solver
from captcha_model.data import rendering
from captcha_model.reading import saliency, solver as solver_lib
from captcha_model.reading.evaluation import wilson_interval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# How a refusal lists the models the app offers.
OFFERED = "'default', 'ctc', 'ctc-170x80', 'general'"

# Gradio's queue calls a pandas API that pandas 3 deprecates; nothing here can act on it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def save_captcha(config, path, seed, file_format="PNG", convert=None):
    """Write the captcha of `seed` to `path`; returns its true text."""
    text, image = rendering.sample_captcha(config, seed)
    (convert(image) if convert else image).save(path, format=file_format)
    return text


@pytest.fixture(scope="module")
def ctc_solver():
    return load_solver("ctc")


def test_the_four_endpoints_are_named_and_documented(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/generate", "/solve", "/explain", "/evaluate"} <= set(endpoints)
    assert [parameter["component"] for parameter in endpoints["/solve"]["parameters"]] == ["Image", "Radio", "Checkbox"]
    assert endpoints["/solve"]["returns"][0]["component"] == "Textbox"
    assert [item["component"] for item in endpoints["/explain"]["returns"]] == ["Gallery"]
    # Every endpoint takes the model after what it reads, defaulting to the one served before models could be
    # chosen; /solve then takes ignore_case, off unless asked for.
    for endpoint in ("/generate", "/solve", "/explain", "/evaluate"):
        model = endpoints[endpoint]["parameters"][-2 if endpoint == "/solve" else -1]
        assert (model["parameter_name"], model["parameter_has_default"], model["parameter_default"]) == (
            "model", True, "default")
    ignore_case = endpoints["/solve"]["parameters"][-1]
    assert (ignore_case["parameter_name"], ignore_case["parameter_has_default"], ignore_case["parameter_default"]) == (
        "ignore_case", True, False)
    generate = {parameter["parameter_name"]: parameter for parameter in endpoints["/generate"]["parameters"]}
    assert list(generate) == ["text", "seed", "length", "size", "model"]
    assert (generate["length"]["parameter_default"], generate["size"]["parameter_default"]) == (4, None)


def test_the_page_offers_every_bundled_model(client):
    choice = next(component for component in client.config["components"]
                  if component["props"].get("elem_id") == "model-choice")
    assert sorted(solver_lib.BUNDLED_MODELS) == ["ctc", "ctc-170x80", "default", "general"]
    assert [value for _, value in choice["props"]["choices"]] == ["default", "ctc", "ctc-170x80", "general"]
    assert choice["props"]["value"] == "default"
    assert "ctc: 1 to 8 characters of 0-9, A-Z, drawn 120×50 to 240×100" in choice["props"]["info"]


def test_generate_draws_the_requested_text_and_reads_it(client, config):
    image_path, truth, reading, verdict, confidences = client.predict("7K2P", 8, api_name="/generate")
    assert truth == "7K2P"
    assert reading == "7K2P", verdict
    assert verdict.startswith("✓ **Right**")
    assert [item["token"] for item in confidences] == list("7K2P")
    with Image.open(image_path) as image:
        assert image.format == "PNG"
        assert image.size == (config.captcha_width, config.captcha_height)
        # The image served is exactly the one the training generator draws for this text and seed.
        assert image.convert("RGB").tobytes() == rendering.sample_captcha(config, 8, text="7K2P")[1].tobytes()


def test_generate_without_text_draws_the_seeds_random_text(client, config):
    _, truth, reading, _, _ = client.predict("", 2, api_name="/generate")
    assert truth == rendering.sample_captcha(config, 2)[0]
    assert len(truth) == config.max_length and set(truth) <= set(config.charset)
    assert reading == truth


@pytest.mark.parametrize(
    "text, message",
    [("ABC", "exactly 4 characters"), ("abcd", "outside the charset"), ("AB!D", "outside the charset")],
)
def test_generate_explains_invalid_text(client, text, message):
    with pytest.raises(ValidationError, match=f"text: Captcha text .*{message}"):
        client.predict(text, 1, api_name="/generate")


def test_generate_draws_a_6_character_200x70_captcha_for_the_ctc_model(client, ctc_solver):
    image_path, truth, reading, verdict, confidences = client.predict("", 3, 6, "200x70", "ctc", api_name="/generate")
    expected_text, expected_image = rendering.sample_captcha(ctc_solver.config.at(200, 70, 6), 3)
    assert truth == expected_text and len(truth) == 6
    with Image.open(image_path) as image:
        assert image.size == (200, 70)
        assert image.convert("RGB").tobytes() == expected_image.tobytes()
    # The reading is the ctc model's own, whatever it is worth.
    assert reading == ctc_solver.solve([expected_image])[0].text
    assert "".join(item["token"] for item in confidences) == reading
    assert verdict.startswith("✓ **Right**" if reading == truth else "✗ **Wrong**")


def test_a_typed_text_sets_the_length_and_an_empty_size_is_the_models_own(client, ctc_solver):
    image_path, truth, *_ = client.predict("AB12CD7", 5, 3, "", "ctc", api_name="/generate")
    assert truth == "AB12CD7"
    config = ctc_solver.config
    with Image.open(image_path) as image:
        assert image.size == (config.captcha_width, config.captcha_height)
        expected = rendering.sample_captcha(config.at(config.captcha_width, config.captcha_height), 5, text=truth)[1]
        assert image.convert("RGB").tobytes() == expected.tobytes()


@pytest.mark.slow
def test_each_request_is_read_by_the_model_it_names(client, solver, ctc_solver, tmp_path):
    path = tmp_path / "captcha.png"
    save_captcha(solver.config, path, seed=21)
    expected = {
        name: [f"{item.character} · {page_text.floor_percent(item.confidence, 1)}"
               for item in saliency.explain(model, [str(path)])[0]]
        for name, model in (("default", solver), ("ctc", ctc_solver))
    }
    # The two models explain this captcha differently, so the answers tell which one read it.
    assert expected["default"] != expected["ctc"]
    for name in ("ctc", "default", "ctc"):
        shown = client.predict(handle_file(str(path)), name, api_name="/explain")
        assert [item["caption"] for item in shown] == expected[name]
        reading = client.predict(handle_file(str(path)), name, api_name="/solve")[0]
        assert reading == "".join(caption[0] for caption in expected[name])


def test_explain_returns_one_overlay_per_character_read(client, config, tmp_path):
    path = tmp_path / "captcha.png"
    truth = save_captcha(config, path, seed=2)
    reading = client.predict(handle_file(str(path)), api_name="/solve")[0]
    assert reading == truth
    shown = client.predict(handle_file(str(path)), api_name="/explain")
    assert len(shown) == len(reading)
    pictures = set()
    for item, character in zip(shown, reading, strict=False):
        assert re.fullmatch(rf"{character} · \d{{1,3}}\.\d%", item["caption"]), item["caption"]
        with Image.open(item["image"]) as overlay:
            assert overlay.size == (config.captcha_width, config.captcha_height)
            pictures.add(overlay.tobytes())
    # Each character has a map of its own.
    assert len(pictures) == len(reading)


def test_explain_without_an_image_asks_for_one(client):
    with pytest.raises(AppError, match="Upload or paste an image"):
        client.predict(None, api_name="/explain")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("", 1, 4, "39x80", "default"), "size: Captchas are drawn from 40x20 to 400x200 pixels (width from 40 to "
                                          "400, height from 20 to 200), not 39x80"),
        (("", 1, 4, "170x201", "default"), "size: Captchas are drawn from 40x20 to 400x200 pixels"),
        (("", 1, 4, "170 by 80", "default"), "size: A captcha size is WIDTHxHEIGHT in pixels, e.g. 160x60; got "
                                             "'170 by 80'. Sizes from 40x20 to 400x200 are drawn."),
        (("", 1, 6, "", "default"), "length: This model reads 4 characters: the length must be 4, not 6"),
        (("", 1, 9, "", "ctc"), "length: This model reads 1 to 8 characters: the length must be from 1 to 8, not 9"),
        (("", 1, 2.5, "", "ctc"), "length: The length must be a whole number, got 2.5"),
        (("ABCDEFGHJ", 1, 4, "", "ctc"), "text: Captcha text must have 1 to 8 characters, got 9"),
        (("", 1, 4, "", "nope"), f"model: Unknown model 'nope'; the models are {OFFERED}"),
    ],
    ids=["narrow", "tall", "not-a-size", "length-default", "length-ctc", "fractional", "text-ctc", "model"],
)
def test_generate_explains_bad_sizes_lengths_and_models(client, arguments, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        client.predict(*arguments, api_name="/generate")
    # The server goes on drawing and reading.
    assert client.predict("7K2P", 8, api_name="/generate")[2] == "7K2P"


@pytest.mark.parametrize("endpoint", ["/solve", "/explain"])
def test_readings_refuse_an_unknown_model_with_the_names_accepted(client, config, tmp_path, endpoint):
    path = tmp_path / "captcha.png"
    truth = save_captcha(config, path, seed=2)
    refusal = f"Unknown model 'ctc2'; the models are {OFFERED}."
    with pytest.raises(AppError, match=re.escape(refusal)):
        client.predict(handle_file(str(path)), "ctc2", api_name=endpoint)
    assert client.predict(handle_file(str(path)), api_name="/solve")[0] == truth


def test_solve_reads_an_uploaded_png(client, config, tmp_path):
    path = tmp_path / "captcha.png"
    truth = save_captcha(config, path, seed=2)
    reading, confidences, model_input, details = client.predict(handle_file(str(path)), api_name="/solve")
    assert reading == truth
    assert "".join(item["token"] for item in confidences) == truth
    assert f"from a {config.captcha_width}×{config.captcha_height} PNG image" in details
    with Image.open(model_input) as picture:
        # What the model sees: its input, enlarged by a whole factor with square pixels.
        assert picture.width % config.input_width == 0
        assert picture.size[0] * config.input_height == picture.size[1] * config.input_width


@pytest.mark.parametrize(
    "file_format, convert",
    [
        ("JPEG", None),
        ("GIF", lambda image: image.convert("P")),
        ("WEBP", lambda image: image.resize((680, 320))),
        ("BMP", lambda image: image.convert("L")),
        ("PNG", lambda image: image.convert("RGBA").resize((85, 40))),
    ],
    ids=["jpeg", "gif-palette", "webp-enlarged", "bmp-grayscale", "png-rgba-shrunk"],
)
def test_solve_reads_other_formats_sizes_and_modes(client, config, tmp_path, file_format, convert):
    path = tmp_path / f"captcha.{file_format.lower()}"
    truth = save_captcha(config, path, seed=7, file_format=file_format, convert=convert)
    assert client.predict(handle_file(str(path)), api_name="/solve")[0] == truth


def test_solve_without_an_image_asks_for_one(client):
    with pytest.raises(AppError, match="Upload or paste an image"):
        client.predict(None, api_name="/solve")


def test_a_small_evaluation_reports_plausible_accuracy(client):
    summary, plot, failures, report = client.predict(50, 424242, api_name="/evaluate")
    assert report["count"] == 50
    # The interval is the Wilson interval of what was counted (a bare "contains the estimate" could not fail).
    assert report["accuracy_95ci"] == pytest.approx(wilson_interval(report["correct"], report["count"]))
    # The default model reads all 50 of these; a reading or two may differ on another machine's arithmetic.
    assert report["accuracy"] >= 0.96, summary
    assert report["character_accuracy"] >= report["accuracy"]
    assert report["images_per_second"] > 0
    assert f"of {report['count']:,} captchas read right" in summary and "95% interval" in summary
    assert plot["type"] == "matplotlib"


def test_an_evaluation_shows_its_failures_with_their_captchas(client, config):
    # The default model reads 170x80 captchas; at 140x60 it fails on about half of them.
    summary, _, failures, report = client.predict(50, 424242, "", "140x60", "default", api_name="/evaluate")
    assert 0 < len(report["failures"]) == report["count"] - report["correct"]
    assert len(failures) == min(len(report["failures"]), demo_actions.MAX_FAILURES_SHOWN)
    assert f"| Failures | {len(report['failures']):,}" in summary
    for shown, failure in zip(failures, report["failures"], strict=False):
        assert shown["caption"].startswith(f"#{failure['index']}: {failure['truth']} → {failure['predicted']}")
        with Image.open(shown["image"]) as image:
            assert image.size == (140, 60)


def test_an_evaluation_at_a_chosen_size_and_length(client, ctc_solver):
    # Seed 2's stream holds captchas the ctc model misreads, whose texts must be that stream's.
    summary, _, failures, report = client.predict(20, 2, "6", "200x70", "ctc", api_name="/evaluate")
    assert report["count"] == 20
    assert report["source"] == "20 fresh 200x70 captchas of 6 characters (seed 2)"
    assert f"| Captchas | {report['source']} |" in summary
    # The captchas read are those of the stream at that size and length.
    expected = rendering.draw_range(ctc_solver.config.at(200, 70, 6), 2, 0, 20)[1]
    assert report["failures"] and failures
    for failure in report["failures"]:
        assert failure["truth"] == expected[failure["index"]]
    for shown in failures:
        with Image.open(shown["image"]) as image:
            assert image.size == (200, 70)


def test_an_evaluation_with_empty_boxes_draws_the_models_own_captchas(client):
    report = client.predict(10, 1, "", "", "ctc", api_name="/evaluate")[3]
    assert report["source"] == "10 fresh captchas of 1-8 characters, 120x50 to 240x100 (seed 1)"


@pytest.mark.parametrize(
    "arguments, message",
    [((10, 1, "0", "", "ctc"), "length: This model reads 1 to 8 characters: the length must be from 1 to 8, not 0"),
     ((10, 1, "six", "", "ctc"), "length: The length must be a whole number, got 'six'"),
     ((10, 1, "", "401x100", "ctc"), "size: Captchas are drawn from 40x20 to 400x200 pixels"),
     ((10, 1, "", "", "none"), f"model: Unknown model 'none'; the models are {OFFERED}")],
    ids=["length", "not-a-length", "size", "model"],
)
def test_evaluations_refuse_bad_sizes_lengths_and_models(client, arguments, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        client.predict(*arguments, api_name="/evaluate")


@pytest.mark.parametrize(
    "count, message",
    [(0, "Evaluate between 1 and 2,000 captchas at a time, not 0"),
     (demo_actions.MAX_EVALUATION_COUNT + 1, "Evaluate between 1 and 2,000 captchas at a time, not 2,001"),
     (2.5, "The number of captchas must be a whole number, got 2.5")],
)
def test_evaluation_counts_are_capped_before_they_queue(client, count, message):
    with pytest.raises(ValidationError, match=f"count: {message}"):
        client.predict(count, 1, api_name="/evaluate")


def test_choosing_a_model_moves_the_length_slider_into_its_lengths():
    captcha_app = app.make_actions(*app.load_first(None))
    headline, text, length, size, model_input, *_ = app.choose_model(captcha_app, "ctc", "7K2P", 4)
    assert headline.startswith("**Model:** bundled ctc model")
    assert (length["minimum"], length["maximum"], length["value"], length["visible"]) == (1, 8, 4, True)
    assert text["value"] == "7K2P" and text["info"].startswith("1 to 8 characters")
    ctc_config = captcha_app.models.config("ctc")
    assert size["placeholder"] == f"{ctc_config.captcha_width}x{ctc_config.captcha_height}"
    # Back on the model of one length, a text it cannot have is cleared and the slider hidden at that length.
    _, text, length, *_ = app.choose_model(captcha_app, "default", "AB12CD7", 7)
    assert text["value"] == "" and text["info"].startswith("4 characters")
    assert (length["minimum"], length["value"], length["visible"]) == (4, 4, False)
    with pytest.raises(ValueError, match=f"Unknown model 'x'; the models are {OFFERED}."):
        app.choose_model(captcha_app, "x", "", 4)
    # The model of one size and several lengths: a slider of its lengths, its size in the size box.
    _, text, length, size, *_ = app.choose_model(captcha_app, "ctc-170x80", "AB12CD7", 7)
    assert text["value"] == "" and text["info"].startswith("3 to 6 characters")
    assert (length["minimum"], length["maximum"], length["value"], length["visible"]) == (3, 6, 6, True)
    assert size["placeholder"] == "170x80"
    assert page_text.evaluation_placeholders(captcha_app.models.config("ctc-170x80")) == ("every length: 3 to 6",
                                                                                "every size: 170x80")


def test_model_tab_shows_training_metrics_found_beside_a_model(tmp_path, config):
    model_path = tmp_path / "model.keras"
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    history = [{"samples_seen": 64000 * epoch, "loss": 1 / epoch, "val_accuracy": 0.9 + epoch / 100}
               for epoch in (1, 2)]
    metrics = {
        "architecture": config.architecture, "epochs": 2, "samples_seen": 128000, "wall_seconds": 600.0,
        "device": "GPU", "history": history,
        "test": {"count": 10000, "accuracy": 0.9925, "accuracy_95ci": [0.9906, 0.9940], "character_accuracy": 0.998},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    captcha_app = app.make_actions(load_solver(model_path), notice="a test notice")
    details = captcha_app.model_tab()[1]
    assert "2 epochs, 128,000 captchas seen, 10 minutes on the GPU" in details
    assert "**99.2%** on 10,000 fresh captchas" in details
    assert "test accuracy 99.2% on 10,000 fresh captchas" in page_text.model_headline(captcha_app.models.solver())
    summary, diagram = captcha_app.network_tab()
    with Image.open(captcha_app.model_tab()[2]) as curve, Image.open(diagram) as network:
        assert curve.width > 300 and network.height > network.width
    assert "Total params" in summary
    page = app.build_demo(captcha_app).config
    texts = [component["props"].get("value") for component in page["components"]]
    assert "**Warning:** a test notice" in texts


@pytest.mark.slow
def test_python_app_py_serves_the_model_named_by_model_on_the_port_from_the_environment(tmp_path, config):
    # A trained model's folder, its ONNX export beside it, as training writes it: read without TensorFlow.
    folder = shutil.copytree(os.path.dirname(solver_lib.BUNDLED_MODEL), tmp_path / "chosen",
                             ignore=shutil.ignore_patterns("int8"))
    model_path = folder / "model.keras"
    with serving_program([sys.executable, "app.py", "--model", str(model_path)], ROOT) as url:
        page = httpx.get(f"{url}config", timeout=10).json()
        assert any(str(model_path) in str(component["props"].get("value")) for component in page["components"])
        path = tmp_path / "captcha.png"
        truth = save_captcha(config, path, seed=11)
        assert Client(url, verbose=False).predict(handle_file(str(path)), api_name="/solve")[0] == truth
        # The bulk route is served beside the page, as the module-level app serves it.
        with open(path, "rb") as file:
            bulk = httpx.post(f"{url}bulk/solve", files={"files": ("captcha.png", file, "image/png")}, timeout=60)
        assert bulk.json()["readings"][0]["text"] == truth and bulk.json()["model"]["source"] == str(model_path)


def test_an_uploaded_zip_of_labelled_captchas_is_scored(client, config, tmp_path, monkeypatch):
    folder = tmp_path / "labelled"
    folder.mkdir()
    texts = [save_captcha(config, folder / f"{seed}.png", seed) for seed in range(300, 312)]
    # Named for their text, one of them wrongly: the report must count it as a failure.
    for seed, text in zip(range(300, 312), texts, strict=False):
        (folder / f"{seed}.png").rename(folder / f"{text if seed != 300 else 'ZZZZ'}_{seed}.png")
    archive = shutil.make_archive(str(tmp_path / "labelled"), "zip", folder)
    summary, _, failures, report = client.predict(handle_file(archive), api_name="/evaluate_zip")
    assert report["count"] == 12 and report["correct"] <= 11
    assert any(failure["truth"] == "ZZZZ" for failure in report["failures"])
    assert "of 12 captchas read right" in summary and len(failures) == 12 - report["correct"]
    monkeypatch.setattr(demo_actions, "MAX_EVALUATION_COUNT", 5)
    with pytest.raises(AppError, match="holds 12 labelled images; at most 5 are accepted"):
        client.predict(handle_file(archive), api_name="/evaluate_zip")
    (tmp_path / "not.zip").write_bytes(b"not a zip at all")
    with pytest.raises(AppError, match="neither a folder nor a .zip archive"):
        client.predict(handle_file(str(tmp_path / "not.zip")), api_name="/evaluate_zip")


def test_the_folders_of_an_apps_pictures_go_with_it(solver):
    captcha_app = app.make_actions(solver)
    captcha_app.model_tab()
    folders = [captcha_app.models.pictures, captcha_app.store.folder]
    assert all(os.path.isdir(folder) for folder in folders)
    del captcha_app
    gc.collect()
    assert not any(os.path.exists(folder) for folder in folders)
