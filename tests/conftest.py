"""Shared fixtures: the bundled solver, loaded once per test session, the app served once per session
(tests/app_server.py) with a client of it, and a Hub look-alike."""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests run in two processes (pytest-xdist, see pyproject.toml): each serves its apps from a Gradio cache of its own,
# so that tests counting files in it see only their own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), f"gradio-{WORKER}"))

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


def pytest_sessionfinish(session):
    """Stop the session's server of the app, if a test started it."""
    if "app_server" in sys.modules:
        sys.modules["app_server"].stop_shared()
