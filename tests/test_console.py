"""What training writes to the terminal: progress bars only on a terminal outside CI, else one line per epoch."""

import sys

import pytest

from captcha_model.training import console


class Output:
    """Standard output that is a terminal or not."""

    def __init__(self, terminal):
        self.terminal = terminal

    def isatty(self):
        return self.terminal


@pytest.mark.parametrize("terminal, ci, bars", [(True, None, True), (True, "true", False), (False, None, False)])
def test_progress_bars_need_a_terminal_and_no_ci(monkeypatch, terminal, ci, bars):
    monkeypatch.setattr(sys, "stdout", Output(terminal))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert bool(console.progress_bars()) is bars
    # Keras draws its bars (1) on a terminal; elsewhere no line of its own where the caller writes one, else one an
    # epoch (2).
    assert [console.keras_verbosity(own_line) for own_line in (True, False)] == ([1, 1] if bars else [0, 2])
