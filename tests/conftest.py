"""Shared fixtures: the bundled solver, loaded once per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from captcha_model import load_solver  # noqa: E402


@pytest.fixture(scope="session")
def solver():
    return load_solver()


@pytest.fixture(scope="session")
def config(solver):
    return solver.config
