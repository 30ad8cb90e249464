"""Pushed repos as the Hub expects them, and loading through a busy Hub, against tests/hub_server.py.

A repo holds the network as Keras lays it out, so the Hub's Keras snippet loads it; the
captcha config has a name of its own; the card carries a license, the base model and
metrics named as the Hub names them. A Hub answering 429 or 5xx lets the cache serve.
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard

from captcha_model import environment, load_solver
from captcha_model.data import rendering
from captcha_model.networks.model import build_model, default_config
from captcha_model.networks.model_file import save_model
from captcha_model.publishing import hub
from captcha_model.reading import solver as solver_lib
from captcha_model.reading.solver import BUNDLED_MODEL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = "tester/captcha-solver"


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A tiny untrained model without a referee, with metrics naming the model it started from."""
    config = default_config()
    path = tmp_path_factory.mktemp("untrained") / "model.keras"
    save_model(build_model(config), config, path)
    return path


def write_metrics(model_path, init_from):
    metrics = {"epochs": 1, "samples_seen": 64, "wall_seconds": 6.0, "device": "CPU", "args": {"init_from": init_from}}
    (model_path.parent / "metrics.json").write_text(json.dumps(metrics))


def test_the_hubs_keras_snippet_loads_a_pushed_model_and_its_card_reads_a_captcha(hub_server, tmp_path, monkeypatch):
    hub.push(BUNDLED_MODEL, REPO)
    # The repo holds the Keras model alone (no --onnx), so Keras reads it pulled as it reads the bundled one.
    bundled = load_solver(runtime="keras")
    inputs, _ = rendering.render_range(bundled.config, 5, 0, 8)
    network = keras.saving.load_model(f"hf://{REPO}")
    np.testing.assert_array_equal(network.predict_on_batch(inputs), bundled.model.predict_on_batch(inputs))
    # The card's own example, run as a visitor would copy it, reads a captcha right.
    card = ModelCard.load(REPO).text
    snippet = re.search(r"## With Keras alone.*?```python\n(.*?)```", card, re.S).group(1)
    truth, image = rendering.sample_captcha(bundled.config, 21)
    assert bundled.solve([image])[0].text == truth
    image.save(tmp_path / "captcha.png")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(snippet, namespace)
    assert namespace["text"] == truth
    # load_solver has all the rest: the config, the referee and the decoding.
    pulled = load_solver(REPO)
    assert pulled.config == bundled.config and pulled.referee is not None
    assert pulled.solve_inputs(inputs) == bundled.solve_inputs(inputs)


def test_a_repo_pushed_the_old_way_still_loads_and_a_new_push_replaces_it(hub_server, untrained):
    api = HfApi()
    api.create_repo(REPO)
    # Before: one model.keras, and the captcha config as config.json.
    api.upload_file(path_or_fileobj=str(BUNDLED_MODEL), path_in_repo="model.keras", repo_id=REPO)
    api.upload_file(path_or_fileobj=load_solver().config.to_json().encode(), path_in_repo="config.json", repo_id=REPO)
    old = load_solver(REPO)
    assert old.referee is not None and old.revision == api.model_info(REPO).sha
    inputs, _ = rendering.render_range(old.config, 5, 0, 8)
    assert old.solve_inputs(inputs) == load_solver(runtime="keras").solve_inputs(inputs)
    # A push of a model without a referee leaves nothing of the old one behind.
    hub.push(BUNDLED_MODEL, REPO)
    hub.push(untrained, REPO)
    assert not {"model.keras", "referee.keras", "referee_config.json"} & set(api.list_repo_files(REPO))
    new = load_solver(REPO)
    assert new.referee is None
    inputs, _ = rendering.render_range(new.config, 5, 0, 8)
    np.testing.assert_array_equal(new.model.predict_on_batch(inputs),
                                  load_solver(untrained).model.predict_on_batch(inputs))


@pytest.mark.parametrize("init_from, argument, expected", [
    ("tester/base-captcha-model", None, "tester/base-captcha-model"),
    ("runs/ctc-36/model.keras", None, None),
    ("runs/ctc-36/model.keras", "tester/named-base", "tester/named-base"),
])
def test_the_card_names_the_base_model_a_run_started_from(hub_server, untrained, init_from, argument, expected):
    write_metrics(untrained, init_from)
    try:
        hub.push(untrained, REPO, base_model=argument)
    finally:
        os.remove(untrained.parent / "metrics.json")
    card = ModelCard.load(REPO)
    assert card.data.base_model == expected
    assert card.data.license == "mit"
    assert (f"Fine-tuned from [{expected}]" in card.text) == (expected is not None)


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_hub_serves_the_cached_model(hub_server, untrained, status):
    commit = hub.push(untrained, REPO)
    cached = load_solver(REPO)
    hub_server.failing_status = status
    requests = len(hub_server.requests)
    served = load_solver(REPO)
    assert served.revision == cached.revision == commit.oid
    # One question to the Hub, then the cache.
    assert len(hub_server.requests) == requests + 1
    with pytest.raises(ValueError, match=f"not in the local cache, and the Hub at .* answered HTTP {status}"):
        load_solver("tester/never-downloaded")


@pytest.mark.slow
def test_strict_start_up_fails_instead_of_falling_back(hub_server, monkeypatch):
    with pytest.raises(ValueError, match="CAPTCHA_MODEL_STRICT .* forbids falling back.*has no model repo"):
        solver_lib.load_solver_with_fallback("tester/missing", strict=True)
    import app

    assert app.parse_args(["--strict"]).strict and not app.parse_args([]).strict
    monkeypatch.setenv(environment.STRICT_VARIABLE, "1")
    assert app.parse_args([]).strict
    with pytest.raises(ValueError, match="forbids falling back"):
        app.load_first("tester/missing", app.parse_args([]).strict)
    # As a Space starts the app: its variables, then the import.
    variables = {"TF_CPP_MIN_LOG_LEVEL": "3", environment.MODEL_VARIABLE: "tester/missing",
                 environment.STRICT_VARIABLE: "1"}
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env={**os.environ, **variables},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "forbids falling back" in result.stderr, result.stderr[-2000:]
