"""The learning rate of each epoch: a linear warm-up, then a cosine that reaches zero with the last epoch or the time
limit, or a constant rate."""

import numpy as np
import pytest

from captcha_model.training import schedule, settings as settings_lib


def test_learning_rate_schedule_warms_up_then_decays():
    settings = settings_lib.parse(["--epochs", "10", "--learning-rate", "0.01", "--warmup-epochs", "1"])
    learning_rate = schedule.learning_rate_schedule(settings, {"wall_seconds": 0.0})
    rates = np.array([learning_rate(epoch) for epoch in range(10)])
    assert rates[0] < rates[1] == pytest.approx(0.01)
    assert (np.diff(rates[1:]) < 0).all() and rates[-1] < 0.002


def test_with_a_time_limit_the_schedule_reaches_zero_when_the_time_is_up():
    settings = settings_lib.parse(["--epochs", "100", "--learning-rate", "0.01", "--max-minutes", "10"])
    state = {"wall_seconds": 0.0}
    learning_rate = schedule.learning_rate_schedule(settings, state)
    untimed = learning_rate(5)
    state["wall_seconds"] = 300  # half the time: half way down the cosine, whatever the epoch
    assert learning_rate(5) == pytest.approx(0.005) and learning_rate(5) < untimed
    state["wall_seconds"] = 600
    assert learning_rate(5) == pytest.approx(0.0)


def test_the_warm_up_climbs_in_equal_steps_to_the_peak_and_a_constant_rate_stays_there():
    settings = settings_lib.parse(["--epochs", "6", "--learning-rate", "0.03", "--warmup-epochs", "2", "--schedule",
                                   "constant"])
    learning_rate = schedule.learning_rate_schedule(settings, {"wall_seconds": 0.0})
    assert [learning_rate(epoch) for epoch in range(6)] == pytest.approx([0.01, 0.02, 0.03, 0.03, 0.03, 0.03])
