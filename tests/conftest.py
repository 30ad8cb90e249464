"""Shared fixtures: the bundled solver, loaded once per test session; small untrained models, exports and the
comparison of two solvers' readings; a site's labelled captchas; the app served once per session
(tests/app_server.py) with a client of it; and a Hub look-alike."""

import collections
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests run in two processes (pytest-xdist, see pyproject.toml): each serves its apps from a Gradio cache of its own,
# so that tests counting files in it see only their own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), f"gradio-{WORKER}"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hub_server import TOKEN, HubServer, point_client_at  # noqa: E402

from captcha_model import load_solver  # noqa: E402


@pytest.fixture(scope="session")
def solver():
    return load_solver()


@pytest.fixture(scope="session")
def keras_solver(solver):
    """The bundled model read by Keras, for what needs its layers or gradients."""
    return solver.with_keras()


@pytest.fixture(scope="session")
def config(solver):
    return solver.config


@pytest.fixture
def small_model(tmp_path):
    """An untrained default-architecture model saved by save_model: its path and config."""
    # Imported here: Keras takes seconds to load, and most test files never need it.
    from captcha_model.networks import model as model_lib, model_file

    config = model_lib.default_config("default", trunk_widths=(4, 4, 8, 8))
    path = tmp_path / "main.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    return path, config


@pytest.fixture(scope="session")
def tiny_model():
    """A function (folder, architecture, with_referee=False) -> the path of an untrained model of `architecture`
    saved by save_model in `folder`, with a referee inside if asked."""
    from captcha_model.config import RefereeConfig
    from captcha_model.networks import model as model_lib, model_file, referee as referee_lib

    def tiny_model(tmp_path, architecture, with_referee=False):
        overrides = {} if architecture == "seed" else {"trunk_widths": (4, 4, 8, 8)}
        config = model_lib.default_config(architecture, **overrides)
        path = tmp_path / f"{architecture}.keras"
        model_file.save_model(model_lib.build_model(config), config, path)
        if with_referee:
            referee_config = RefereeConfig(widths=(4, 8, 8), main_weight=0.7)
            referee_lib.attach(path, referee_lib.build_referee(config, referee_config), referee_config)
        return path

    return tiny_model


@pytest.fixture(scope="session")
def export():
    """A function (source, out_dir, *options) that runs `python -m captcha_model export` in this process, without
    the agreement check, and returns out_dir."""
    from captcha_model.__main__ import main

    def export(source, out_dir, *options):
        assert main(["export", str(source), str(out_dir), "--check-count", "0", *options]) == 0
        return out_dir

    return export


@pytest.fixture(scope="session")
def assert_same_readings():
    """A function (first solver, second solver, inputs) that asserts identical texts, and confidences and network
    outputs equal to float rounding."""

    def assert_same_readings(first, second, inputs):
        first_readings, second_readings = first.solve_inputs(inputs), second.solve_inputs(inputs)
        assert [reading.text for reading in first_readings] == [reading.text for reading in second_readings]
        np.testing.assert_allclose([value for reading in first_readings for value in reading.character_confidences],
                                   [value for reading in second_readings for value in reading.character_confidences],
                                   atol=1e-4)
        for first_outputs, second_outputs in zip(np.atleast_1d(first.network(inputs)),
                                                 np.atleast_1d(second.network(inputs))):
            np.testing.assert_allclose(first_outputs, second_outputs, atol=1e-4)

    return assert_same_readings


@pytest.fixture(scope="session")
def site_captcha_config():
    """The config of a site's captchas unlike the bundled models': 3 or 4 characters of six, on 100x36 images."""
    from captcha_model.networks import model as model_lib

    return model_lib.default_config("ctc", charset="ABC123", min_length=3, max_length=4, captcha_width_range=(),
                                    captcha_height_range=(), captcha_width=100, captcha_height=36)


@pytest.fixture(scope="session")
def site_folder(site_captcha_config, tmp_path_factory):
    """64 captchas of another charset, lengths and size than the bundled models', named for their text."""
    from captcha_model.data import rendering

    folder = tmp_path_factory.mktemp("site")
    for index in range(64):
        text, image = rendering.sample_captcha(site_captcha_config, seed=41, index=index)
        image.save(folder / f"{text}_{index:02d}.png")
    return folder


@pytest.fixture
def hub_server(tmp_path, monkeypatch):
    """tests/hub_server.py on 127.0.0.1, with huggingface_hub pointed at it and HF_TOKEN set to its TOKEN."""
    with HubServer(TOKEN) as server:
        point_client_at(monkeypatch, server.url, tmp_path / "huggingface")
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield server


@pytest.fixture(scope="session")
def app_url():
    """The URL of `app.demo` served in-process as `python app.py` serves it, shared by the whole session."""
    # Imported here: it loads the app's model, which most tests never need.
    from app_server import shared_url

    return shared_url()


@pytest.fixture(scope="session")
def client(app_url, tmp_path_factory):
    """A gradio_client of the session's app; files it receives go to a folder of their own, not Gradio's cache."""
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def pytest_collection_modifyitems(items):
    """Files with the most slow tests first: each process takes whole files (pyproject.toml), so the longest ones
    start early and the two processes finish close together instead of one waiting on the other's last file."""
    slow = collections.Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


def pytest_sessionfinish(session):
    """Stop the session's server of the app, if a test started it."""
    if "app_server" in sys.modules:
        sys.modules["app_server"].stop_shared()
