"""The environment variables that choose the model a server serves, and whether it may fall back."""

import pytest

from captcha_model import environment


def test_the_model_variable_names_a_model_or_nothing(monkeypatch):
    monkeypatch.setenv(environment.MODEL_VARIABLE, "  someone/solver@v2 ")
    assert environment.model_from_environment() == "someone/solver@v2"
    for unset in ("", "   "):
        monkeypatch.setenv(environment.MODEL_VARIABLE, unset)
        assert environment.model_from_environment() is None
    monkeypatch.delenv(environment.MODEL_VARIABLE)
    assert environment.model_from_environment() is None


@pytest.mark.parametrize("value, strict", [("1", True), ("true", True), (" Yes ", True), ("TRUE", True),
                                           ("0", False), ("false", False), ("", False), ("strict", False)])
def test_strict_start_up_is_asked_for_with_one_true_or_yes(monkeypatch, value, strict):
    monkeypatch.setenv(environment.STRICT_VARIABLE, value)
    assert environment.strict_from_environment() is strict


def test_without_the_strict_variable_start_up_may_fall_back(monkeypatch):
    monkeypatch.delenv(environment.STRICT_VARIABLE, raising=False)
    assert environment.strict_from_environment() is False
