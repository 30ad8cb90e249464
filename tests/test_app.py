"""The Gradio app, served in-process and driven through its named endpoints with gradio_client.

Every request goes through the real server, queue and components, on captchas drawn by
the same generator as training. Hostile uploads, many visitors at once and secrets are
in test_reliability.py.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image

import app
from app_server import free_port, serving
from captcha_model import data, load_solver, solver as solver_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Gradio's queue calls a pandas API that pandas 3 deprecates; nothing here can act on it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


@pytest.fixture(scope="module")
def client():
    with serving() as url:
        yield Client(url, verbose=False)


def save_captcha(config, path, seed, file_format="PNG", convert=None):
    """Write the captcha of `seed` to `path`; returns its true text."""
    text, image = data.sample_captcha(config, seed)
    (convert(image) if convert else image).save(path, format=file_format)
    return text


def test_the_three_endpoints_are_named_and_documented(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/generate", "/solve", "/evaluate"} <= set(endpoints)
    assert [parameter["component"] for parameter in endpoints["/solve"]["parameters"]] == ["Image"]
    assert endpoints["/solve"]["returns"][0]["component"] == "Textbox"


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
        assert image.convert("RGB").tobytes() == data.sample_captcha(config, 8, text="7K2P")[1].tobytes()


def test_generate_without_text_draws_the_seeds_random_text(client, config):
    _, truth, reading, _, _ = client.predict("", 2, api_name="/generate")
    assert truth == data.sample_captcha(config, 2)[0]
    assert len(truth) == config.max_length and set(truth) <= set(config.charset)
    assert reading == truth


@pytest.mark.parametrize(
    "text, message",
    [("ABC", "exactly 4 characters"), ("abcd", "outside the charset"), ("AB!D", "outside the charset")],
)
def test_generate_explains_invalid_text(client, text, message):
    with pytest.raises(ValidationError, match=f"text: Captcha text .*{message}"):
        client.predict(text, 1, api_name="/generate")


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


def test_a_small_evaluation_reports_plausible_accuracy(client, config):
    summary, plot, failures, report = client.predict(50, 424242, api_name="/evaluate")
    assert report["count"] == 50
    low, high = report["accuracy_95ci"]
    assert low <= report["accuracy"] <= high
    assert report["accuracy"] >= 0.9, summary
    assert report["character_accuracy"] >= report["accuracy"]
    assert report["images_per_second"] > 0
    assert f"of {report['count']:,} captchas read right" in summary and "95% interval" in summary
    assert plot["type"] == "matplotlib"
    assert len(failures) == min(len(report["failures"]), app.MAX_FAILURES_SHOWN)
    for shown, failure in zip(failures, report["failures"]):
        assert shown["caption"].startswith(f"#{failure['index']}: {failure['truth']} → {failure['predicted']}")
        with Image.open(shown["image"]) as image:
            assert image.size == (config.captcha_width, config.captcha_height)


@pytest.mark.parametrize(
    "count, message",
    [(0, "Evaluate between 1 and 2,000 captchas at a time, not 0"),
     (app.MAX_EVALUATION_COUNT + 1, "Evaluate between 1 and 2,000 captchas at a time, not 2,001"),
     (2.5, "The number of captchas must be a whole number, got 2.5")],
)
def test_evaluation_counts_are_capped_before_they_queue(client, count, message):
    with pytest.raises(ValidationError, match=f"count: {message}"):
        client.predict(count, 1, api_name="/evaluate")


def test_helpers_describe_charsets_and_confidences():
    assert app.charset_summary("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "0-9, A-Z"
    assert app.charset_summary("AB7") == "A, B, 7"
    assert [app.confidence_category(value) for value in (0.999, 1.0, 0.29, 0.0)] == ["99%", "100%", "29%", "0%"]
    assert app.floor_percent(0.99996, 1) == "99.9%"
    assert set(app.CONFIDENCE_COLORS) == {f"{percentage}%" for percentage in range(101)}


def test_model_tab_shows_training_metrics_found_beside_a_model(tmp_path, config):
    model_path = tmp_path / "model.keras"
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    history = [{"samples_seen": 64000 * epoch, "loss": 1 / epoch, "val_accuracy": 0.9 + epoch / 100} for epoch in (1, 2)]
    metrics = {
        "architecture": config.architecture, "epochs": 2, "samples_seen": 128000, "wall_seconds": 600.0,
        "device": "GPU", "history": history,
        "test": {"count": 10000, "accuracy": 0.9925, "accuracy_95ci": [0.9906, 0.9940], "character_accuracy": 0.998},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    captcha_app = app.CaptchaApp(load_solver(model_path), notice="a test notice")
    details = captcha_app.model_details()
    assert "2 epochs, 128,000 captchas seen, 10 minutes on the GPU" in details
    assert "**99.2%** on 10,000 fresh captchas" in details
    assert "test accuracy 99.2% on 10,000 fresh captchas" in captcha_app.model_headline()
    with Image.open(captcha_app.training_curve()) as curve, Image.open(captcha_app.network_diagram()) as network:
        assert curve.width > 300 and network.height > network.width
    page = app.build_demo(captcha_app).config
    texts = [component["props"].get("value") for component in page["components"]]
    assert "**Warning:** a test notice" in texts


def test_a_model_without_metrics_says_so(tmp_path):
    model_path = tmp_path / "model.keras"
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    captcha_app = app.CaptchaApp(load_solver(model_path))
    assert "No training metrics" in captcha_app.model_details()
    assert captcha_app.training_curve() is None
    assert "test accuracy" not in captcha_app.model_headline()


def test_python_app_py_serves_the_model_named_by_model_on_the_port_from_the_environment(tmp_path, config):
    model_path = tmp_path / "chosen.keras"
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    environment.pop("GRADIO_SERVER_NAME", None)
    server = subprocess.Popen(
        [sys.executable, "app.py", "--model", str(model_path)], cwd=ROOT, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "python app.py did not start serving within two minutes"
            time.sleep(0.5)
        page = httpx.get(f"{url}config", timeout=10).json()
        assert any(str(model_path) in str(component["props"].get("value")) for component in page["components"])
        path = tmp_path / "captcha.png"
        truth = save_captcha(config, path, seed=11)
        assert Client(url, verbose=False).predict(handle_file(str(path)), api_name="/solve")[0] == truth
    finally:
        server.terminate()
        server.wait(timeout=30)
