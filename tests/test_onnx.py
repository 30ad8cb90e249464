"""Reading with ONNX Runtime: chosen wherever a model has its export, the bundled exports (int8 ones too) reading
as the bundled models do, batches read in lanes side by side, refusals, and the light install. Exporting is in
test_export.py, the networks' sessions and broken export folders in test_onnx_runtime.py.

The light install (requirements-light.txt: no TensorFlow, Keras or exporter) is exercised by
running the CLI and the app through tests/without_tensorflow.py, which makes those packages
unimportable, in a subprocess.
"""

import os
import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest
from app_server import serving_program
from gradio_client import Client, handle_file

from captcha_model import load_solver
from captcha_model.__main__ import main
from captcha_model.data import rendering
from captcha_model.publishing import hub
from captcha_model.reading.solver import BUNDLED_EXPORTS, BUNDLED_MODELS, SMALLEST_CHUNK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WITHOUT_TENSORFLOW = [sys.executable, os.path.join(ROOT, "tests", "without_tensorflow.py")]
REPO = "tester/captcha-onnx"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUNDLED_MODELS))
def test_the_bundled_exports_read_as_the_bundled_models_do(name, assert_same_readings):
    keras_solver, onnx_solver = load_solver(name, runtime="keras"), load_solver(name)
    assert (keras_solver.runtime, onnx_solver.runtime) == ("keras", "onnx")
    referee = keras_solver.referee
    assert (onnx_solver.referee and onnx_solver.referee.referee_config) == (referee and referee.referee_config)
    # Captchas rich in 0 and O, so that the referees decide many glyphs (the general family draws its own texts).
    emphasis = rendering.Emphasis("0O") if referee else None
    inputs, _ = rendering.render_range(keras_solver.config, 616161, 0, 64, emphasis)
    assert_same_readings(keras_solver, onnx_solver, inputs)
    fresh, _ = rendering.render_range(keras_solver.config, 646464, 0, 1000)
    assert [reading.text for reading in keras_solver.solve_inputs(fresh)] == [
        reading.text for reading in onnx_solver.solve_inputs(fresh)]


def test_onnx_runtime_reads_by_default_where_a_model_has_its_export(tmp_path, caplog, tiny_model, export,
                                                                   assert_same_readings):
    assert load_solver().runtime == load_solver(BUNDLED_MODELS["default"]).runtime == "onnx"
    folder = tmp_path / "run"
    folder.mkdir()
    path = shutil.copy(tiny_model(tmp_path, "default", with_referee=True), folder / "model.keras")
    assert load_solver(path).runtime == "keras"
    export(path, folder)
    solver = load_solver(path)
    assert solver.runtime == "onnx" and solver.model is None and solver.referee is not None
    # What needs the network's layers or gradients gets the Keras model, loaded once, on first use.
    keras_twin = solver.with_keras()
    assert keras_twin.runtime == "keras" and keras_twin is solver.with_keras() and keras_twin.model is not None
    inputs, _ = rendering.render_range(solver.config, 41, 0, 16, rendering.Emphasis("0O"))
    assert_same_readings(keras_twin, solver, inputs)
    # An export made from other weights does not serve this file: Keras reads it, and says why.
    (tmp_path / "other").mkdir()
    shutil.copy(tiny_model(tmp_path / "other", "default", with_referee=True), path)
    assert load_solver(path).runtime == "keras"
    assert "was not made from" in caplog.text
    with pytest.raises(ValueError, match="was not made from .*export it again"):
        load_solver(path, runtime="onnx")
    with pytest.raises(ValueError, match="has no Keras file: saliency maps"):
        load_solver(folder / "model.onnx").with_keras()


def test_the_bundled_int8_exports_are_read_by_name(tmp_path, capsys):
    assert set(BUNDLED_EXPORTS) == {f"{name}-int8" for name in BUNDLED_MODELS}
    int8, fp32 = load_solver("default-int8"), load_solver("default")
    assert int8.runtime == "onnx" and int8.source == "bundled default-int8 export"
    assert os.path.getsize(int8.network.path) < os.path.getsize(fp32.network.path) / 3
    inputs, texts = rendering.render_range(fp32.config, 656565, 0, 200)
    assert sum(reading.text == text for reading, text in zip(int8.solve_inputs(inputs), texts)) >= 196
    path = tmp_path / "captcha.png"
    text, image = rendering.sample_captcha(fp32.config, 13)
    image.save(path)
    assert main(["solve", str(path), "--model", "default-int8"]) == 0
    assert capsys.readouterr().out.split("\t")[1] == text
    with pytest.raises(ValueError, match="has no Keras file"):
        int8.with_keras()


def test_a_batch_is_read_in_one_thread_lanes_side_by_side_as_one_image_at_a_time(monkeypatch):
    solver = load_solver(runtime="onnx")
    # Three lanes whatever the machine's cores: 100 captchas make three chunks.
    monkeypatch.setattr(solver.network, "lanes", 3)
    images = rendering.draw_range(solver.config, 616162, 0, 100, rendering.Emphasis("0O"))[0]
    solver.solve(images[: 2 * SMALLEST_CHUNK - 1])
    assert "_one_thread_copy" not in solver.__dict__  # too few to share out: read whole, on all cores
    side_by_side = solver.solve(images)
    lanes = solver.__dict__["_one_thread_copy"]  # made by this batch
    for network in (lanes.network, lanes.referee.network):
        assert network.session.get_session_options().intra_op_num_threads == 1 and network.lanes == 1
    one_at_a_time = [solver.solve([image])[0] for image in images]
    assert [reading.text for reading in side_by_side] == [reading.text for reading in one_at_a_time]
    np.testing.assert_allclose([value for reading in side_by_side for value in reading.character_confidences],
                               [value for reading in one_at_a_time for value in reading.character_confidences],
                               atol=1e-5)
    with pytest.raises(ValueError, match="Could not read the file as an image"):
        solver.solve([*images[:60], b"not an image", *images[60:]])


def test_onnx_runtime_refuses_a_keras_file_and_a_missing_export(tmp_path, capsys):
    alone = shutil.copy(BUNDLED_MODELS["default"], tmp_path / "alone.keras")
    with pytest.raises(ValueError, match="with no ONNX export beside it; make one with python -m captcha_model export"):
        load_solver(alone, runtime="onnx")
    with pytest.raises(ValueError, match="Unknown runtime 'tflite'; accepted runtimes are keras, onnx"):
        load_solver(runtime="tflite")
    with pytest.raises(ValueError, match="No model file at .*nothing.onnx'"):
        load_solver(tmp_path / "nothing.onnx", runtime="onnx")
    with pytest.raises(SystemExit):
        main(["export", "default", str(tmp_path / "out"), "--format", "tflite"])
    assert "invalid choice: 'tflite' (choose from 'onnx')" in capsys.readouterr().err


def test_the_cli_solves_with_either_runtime(tmp_path, capsys, config):
    path = tmp_path / "captcha.png"
    text, image = rendering.sample_captcha(config, 12)
    image.save(path)
    for arguments in (["--runtime", "onnx"], ["--runtime", "keras"],
                      ["--model", os.path.dirname(BUNDLED_MODELS["default"]) + "/model.onnx"]):
        assert main(["solve", str(path), *arguments]) == 0
        assert capsys.readouterr().out.split("\t")[1] == text


def run_without_tensorflow(*arguments, **options):
    return subprocess.run([*WITHOUT_TENSORFLOW, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          **options)


def test_the_light_install_solves_on_onnx_runtime_and_says_so(tmp_path, config):
    paths, texts = [], []
    for seed in (21, 22):
        text, image = rendering.sample_captcha(config, seed)
        paths.append(str(tmp_path / f"{seed}.png"))
        image.save(paths[-1])
        texts.append(text)
    result = run_without_tensorflow("-m", "captcha_model", "solve", *paths)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[1] for line in result.stdout.splitlines()] == texts
    # The bundled model has its export, which ONNX Runtime reads by default; a .keras file alone says what is missing.
    assert "TensorFlow" not in result.stderr
    alone = shutil.copy(BUNDLED_MODELS["default"], tmp_path / "alone.keras")
    without_export = run_without_tensorflow("-m", "captcha_model", "solve", paths[0], "--model", str(alone))
    assert without_export.returncode == 2
    assert "TensorFlow is not installed, so captchas are read with the ONNX runtime" in without_export.stderr
    assert "with no ONNX export beside it" in without_export.stderr
    refused = run_without_tensorflow("-m", "captcha_model", "export", "default", str(tmp_path / "out"))
    assert refused.returncode == 2
    assert "This needs keras, which is not installed here" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_the_app_serves_without_tensorflow(tmp_path, config):
    with serving_program([*WITHOUT_TENSORFLOW, "app.py"], ROOT) as url:
        page = httpx.get(f"{url}config", timeout=10).json()
        assert any("runs on ONNX Runtime" in str(component["props"].get("value")) for component in page["components"])
        client = Client(url, verbose=False)
        path = tmp_path / "captcha.png"
        text, image = rendering.sample_captcha(config, 23)
        image.save(path)
        assert client.predict(handle_file(str(path)), api_name="/solve")[0] == text
        # Saliency needs TensorFlow's gradients: no maps, and no error either.
        assert client.predict(handle_file(str(path)), api_name="/explain") == []
        generated = client.predict("", 5, 6, "200x70", "ctc", api_name="/generate")
        assert generated[2] and len(generated[1]) == 6


@pytest.mark.slow
def test_a_hub_repo_with_the_onnx_export_is_pulled_and_read_without_tensorflow(hub_server, tmp_path, config):
    assert main(["push", "default", REPO, "--onnx"]) == 0
    files = hub_server.repositories[REPO].commits[hub_server.repositories[REPO].main]
    assert {"model.weights.h5", "captcha_config.json", "model.onnx", "referee.onnx",
            "referee_config.json"} <= set(files)
    assert b"(the ONNX export, which reads captchas without TensorFlow)" in files["README.md"]
    path = tmp_path / "captcha.png"
    text, image = rendering.sample_captcha(config, 24)
    image.save(path)
    result = run_without_tensorflow("-m", "captcha_model", "solve", str(path), "--model", REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[1] == text
    with pytest.raises(ValueError, match="was made from another model"):
        hub.push(BUNDLED_MODELS["default"], REPO, onnx_folder=os.path.dirname(BUNDLED_MODELS["ctc"]))
