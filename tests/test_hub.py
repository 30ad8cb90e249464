"""The Hugging Face Hub round trip, with the real `huggingface_hub` client against tests/hub_server.py.

Nothing here touches the network: the client is pointed at a Hub look-alike on 127.0.0.1
and at an empty cache and home folder under each test's tmp_path.
"""

import json
import logging
import os
import socket

import numpy as np
import pytest
from hub_server import TOKEN, point_client_at
from huggingface_hub import HfApi, ModelCard, constants, hf_hub_download
from PIL import Image

from captcha_model import CaptchaConfig, environment, load_solver
from captcha_model.__main__ import main
from captcha_model.config import read_config
from captcha_model.data import rendering
from captcha_model.networks.model import build_model, default_config
from captcha_model.networks.model_file import save_model
from captcha_model.publishing import hub
from captcha_model.reading import evaluation, solver as solver_lib
from captcha_model.reading.solver import BUNDLED_MODEL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = "tester/captcha-solver"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two tiny untrained models, whose predictions differ; the first has metrics.json and a curve beside it."""
    config = default_config()
    paths = []
    for name in ("first", "second"):
        path = tmp_path_factory.mktemp(name) / "model.keras"
        save_model(build_model(config), config, path)
        paths.append(path)
    report = evaluation.evaluate_stream(load_solver(paths[0]), count=20, seed=424243, progress=False)
    metrics = {
        "architecture": config.architecture, "epochs": 2, "samples_seen": 640, "wall_seconds": 75.0, "device": "CPU",
        "history": [{"epoch": 2, "samples_seen": 640, "loss": 3.1, "val_accuracy": 0.25}],
        "test": report.to_dict(include_failures=False),
    }
    (paths[0].parent / "metrics.json").write_text(json.dumps(metrics))
    Image.new("RGB", (16, 8), "white").save(paths[0].parent / "training_curve.png")
    return paths


@pytest.fixture(scope="module")
def captcha_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("captcha") / "captcha.png"
    rendering.sample_captcha(default_config(), seed=11, index=0)[1].save(path)
    return path


def predictions(solver):
    inputs, _ = rendering.render_range(solver.config, seed=7, start=0, count=4)
    return np.asarray(solver.network(inputs))


def test_push_then_pull_into_an_empty_cache_gives_identical_predictions(hub_server, models):
    commit = hub.push(models[0], REPO)
    files = set(HfApi().list_repo_files(REPO))
    assert files == {".gitattributes", "config.json", "metadata.json", "model.weights.h5", "captcha_config.json",
                     "metrics.json", "training_curve.png", "README.md"}
    with open(hf_hub_download(REPO, "captcha_config.json")) as handle:
        assert CaptchaConfig.from_json(handle.read()) == read_config(models[0])

    pulled = load_solver(REPO)
    np.testing.assert_array_equal(predictions(pulled), predictions(load_solver(models[0])))
    assert pulled.source == f"Hub repo {REPO} at main (commit {commit.oid[:7]})"
    assert pulled.revision == commit.oid
    # The metrics come down beside the model, so the app can show how it was trained.
    assert pulled.metrics == json.loads((models[0].parent / "metrics.json").read_text())
    assert hub_server.downloads("model.weights.h5") == 1
    # A second start asks the Hub whether main has moved, and downloads nothing.
    load_solver(REPO)
    assert hub_server.downloads("model.weights.h5") == 1


def test_model_card_metadata_parses_and_carries_the_metrics(hub_server, models):
    hub.push(models[0], REPO)
    card = ModelCard.load(REPO)
    test = json.loads((models[0].parent / "metrics.json").read_text())["test"]
    assert card.data.library_name == "keras"
    assert card.data.pipeline_tag == "image-to-text"
    assert {"keras", "captcha", "ocr"} <= set(card.data.tags)
    assert card.data.model_name == REPO
    assert card.data.license == "mit"
    assert card.data.base_model is None
    # Metric types the Hub knows: accuracy, and the character error rate.
    results = {result.metric_type: result for result in card.data.eval_results}
    assert set(results) == {"accuracy", "cer"}
    assert results["accuracy"].metric_value == round(test["accuracy"], 5)
    assert results["cer"].metric_value == round(1 - test["character_accuracy"], 5)
    assert results["accuracy"].dataset_args == {"samples": test["count"]} == results["cer"].dataset_args
    for usage in ("## Training", f'load_solver("{REPO}")', f"captcha_model solve captcha.png --model {REPO}",
                  f"{environment.MODEL_VARIABLE}={REPO} python app.py", "![Validation accuracy"):
        assert usage in card.text

    hub.push(models[1], "tester/without-metrics")
    card = ModelCard.load("tester/without-metrics")
    assert card.data.library_name == "keras"
    assert not card.data.eval_results
    assert "No evaluation results" in card.text


def test_a_pinned_revision_returns_the_older_model_after_a_second_push(hub_server, models):
    first = hub.push(models[0], REPO)
    second = hub.push(models[1], REPO)
    assert first.oid != second.oid
    older = load_solver(f"{REPO}@{first.oid}")
    newer = load_solver(REPO)
    np.testing.assert_array_equal(predictions(older), predictions(load_solver(models[0])))
    np.testing.assert_array_equal(predictions(newer), predictions(load_solver(models[1])))
    assert not np.allclose(predictions(older), predictions(newer))
    assert f"commit {first.oid[:7]}" in older.source


def test_offline_mode_loads_from_the_cache_without_a_request(hub_server, models, monkeypatch):
    hub.push(models[0], REPO)
    expected = predictions(load_solver(REPO))
    requests = len(hub_server.requests)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    np.testing.assert_array_equal(predictions(load_solver(REPO)), expected)
    assert len(hub_server.requests) == requests
    with pytest.raises(ValueError, match="not in the local cache, and HF_HUB_OFFLINE is set"):
        load_solver("tester/never-downloaded")


def test_a_private_repo_needs_the_token_to_pull(hub_server, models, monkeypatch):
    hub.push(models[0], REPO, private=True)
    assert hub_server.repositories[REPO].private
    load_solver(REPO)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(ValueError, match="or it is private and no token with access was given"):
        load_solver(f"{REPO}@main")


def unused_local_url():
    """The URL of a port on 127.0.0.1 that nothing listens on: a Hub that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def break_the_hub(case, hub_server, models, monkeypatch, home):
    """Set up one way for pulling REPO to fail; returns the model source to ask for."""
    hub.push(models[0], REPO)
    if case == "server down":
        point_client_at(monkeypatch, unused_local_url(), home)
        return REPO
    if case == "no such repo":
        return "tester/no-such-model"
    if case == "no such revision":
        return f"{REPO}@no-such-branch"
    # A truncated upload: the start of an HDF5 file and nothing more.
    HfApi().upload_file(path_or_fileobj=b"\x89HDF\r\n\x1a\ntruncated", path_in_repo="model.weights.h5", repo_id=REPO)
    return REPO


@pytest.mark.parametrize("case, reason", [
    ("server down", "cannot be reached"),
    ("no such repo", "has no model repo"),
    ("no such revision", "has no revision 'no-such-branch'"),
    ("corrupted file", "as a safe Keras model"),
])
def test_a_model_that_cannot_be_had_falls_back_to_the_bundled_one_with_a_notice(
        case, reason, hub_server, models, monkeypatch, tmp_path, captcha_file, caplog, capsys):
    source = break_the_hub(case, hub_server, models, monkeypatch, tmp_path / "fresh-home")
    solver, notice = solver_lib.load_solver_with_fallback(source)
    assert solver.source == "bundled default model"
    assert notice.startswith(f"Could not load the model {source!r}, so the bundled model is used instead")
    assert reason in notice
    assert notice in caplog.text

    # The CLI fails clearly unless it is asked to fall back.
    assert main(["solve", str(captcha_file), "--model", source]) == 2
    assert reason in capsys.readouterr().err
    assert main(["solve", str(captcha_file), "--model", source, "--fallback"]) == 0
    assert str(captcha_file) in capsys.readouterr().out


@pytest.mark.parametrize("source", [None, ""])
def test_no_source_means_the_bundled_model_without_a_notice(source):
    solver, notice = solver_lib.load_solver_with_fallback(source)
    assert (solver.source, notice) == ("bundled default model", None)


def test_a_model_whose_weights_do_not_fit_its_config_is_refused(hub_server, tmp_path):
    misfit = tmp_path / "misfit.keras"
    # Saved as is, with the optimizer flag, so that save_model does not rebuild it from the wrong config.
    save_model(build_model(default_config()), default_config(charset="0123456789"), misfit, include_optimizer=True)
    with pytest.raises(ValueError, match="do not fit"):
        hub.push(misfit, REPO)
    HfApi().create_repo(REPO)
    HfApi().upload_file(path_or_fileobj=str(misfit), path_in_repo="model.keras", repo_id=REPO)
    with pytest.raises(ValueError, match="do not fit"):
        load_solver(REPO)


def test_a_push_without_a_token_says_how_to_give_one_and_fails_before_training(
        hub_server, models, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN")
    assert main(["push", str(models[0]), REPO]) == 2
    error = capsys.readouterr().err
    assert "No Hugging Face token" in error and "HF_TOKEN" in error and "hf auth login" in error
    assert REPO not in hub_server.repositories

    monkeypatch.syspath_prepend(ROOT)
    import train

    output = tmp_path / "run"
    with pytest.raises(ValueError, match="HF_TOKEN"):
        train.main(["--push-to-hub", REPO, "--output", str(output)])
    with pytest.raises(ValueError, match="without a revision"):
        train.main(["--push-to-hub", f"{REPO}@main", "--output", str(output)])
    assert not output.exists()


def test_a_refused_push_says_so_without_echoing_the_token(hub_server, models, monkeypatch):
    wrong_token = "hf_WrongToken9876543210zyxwvu"
    monkeypatch.setenv("HF_TOKEN", wrong_token)
    with pytest.raises(ValueError, match="The Hub refused the upload to tester/captcha-solver \\(HTTP 401") as raised:
        hub.push(models[0], REPO)
    assert wrong_token not in str(raised.value)
    assert f"python -m captcha_model push {models[0]} {REPO}" in str(raised.value)


def test_the_token_never_appears_in_output_or_logs(hub_server, models, captcha_file, monkeypatch, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    assert main(["push", str(models[0]), REPO]) == 0
    assert main(["solve", str(captcha_file), "--model", REPO]) == 0
    assert main(["evaluate", "--count", "5", "--model", "tester/missing", "--fallback"]) == 0
    monkeypatch.setenv("HF_TOKEN", TOKEN[::-1])
    assert main(["push", str(models[0]), REPO]) == 2
    output, errors = capfd.readouterr()
    assert f"Pushed {models[0]} to {hub_server.url}/{REPO} at revision" in output
    assert "authenticated: True" in caplog.text  # the client's debug log did record the pushes
    for text in (output, errors, caplog.text):
        assert TOKEN not in text and TOKEN[::-1] not in text
    # Nor is it in anything pushed: the model card, config, metrics or model.
    repository = hub_server.repositories[REPO]
    pushed = repository.commits[repository.main]
    assert "README.md" in pushed
    assert all(TOKEN.encode() not in content for content in pushed.values())


@pytest.mark.slow
def test_train_py_pushes_the_model_it_trained_with_its_onnx_export(hub_server, tmp_path, monkeypatch, capfd):
    monkeypatch.syspath_prepend(ROOT)
    import train

    output = tmp_path / "run"
    # In this process, which has started TensorFlow already; the run's flags are those of the command line.
    train.main(["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--validation-size", "8",
                "--test-size", "8", "--train-size", "32", "--cache-dir", str(tmp_path / "cache"), "--workers", "1",
                "--output", str(output),
                "--push-to-hub", REPO])
    stdout, stderr = capfd.readouterr()
    assert f"Pushed to {hub_server.url}/{REPO} at revision" in stdout
    assert TOKEN not in stdout + stderr
    assert {"model.weights.h5", "captcha_config.json", "metrics.json", "training_curve.png", "model.onnx"} <= set(
        HfApi().list_repo_files(REPO))
    np.testing.assert_array_equal(predictions(load_solver(REPO)), predictions(load_solver(output / "model.keras")))


def test_a_model_with_a_referee_keeps_it_through_the_hub(hub_server):
    hub.push(BUNDLED_MODEL, REPO)
    pulled, bundled = load_solver(REPO), load_solver(runtime="keras")
    assert pulled.referee is not None
    assert pulled.referee.referee_config == bundled.referee.referee_config
    inputs, _ = rendering.render_range(bundled.config, 7, 0, 32, rendering.Emphasis("0O"))
    assert pulled.solve_inputs(inputs) == bundled.solve_inputs(inputs)
