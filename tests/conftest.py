"""Shared fixtures: the bundled solver, loaded once per test session, and a Hub look-alike."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
from hub_server import TOKEN, HubServer, point_client_at  # noqa: E402

from captcha_model import load_solver  # noqa: E402


@pytest.fixture(scope="session")
def solver():
    return load_solver()


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
