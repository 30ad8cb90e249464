"""Whether this server trains visitors' captchas and for how long: the CAPTCHA_TRAINING setting, and the light
install without TensorFlow. The runs themselves are tried end to end in test_your_captchas.py."""

import pytest

from captcha_app import training_run


@pytest.mark.parametrize(("setting", "minutes", "reason"), [
    ("", training_run.DEFAULT_TRAINING_MINUTES, "at most 10 minutes per run"),
    ("off", 0, "switched off on this server (CAPTCHA_TRAINING=off)"),
    (" 3 ", 3, "caps training at 3 minutes per run (CAPTCHA_TRAINING)"),
    ("0", 0, "switched off on this server (CAPTCHA_TRAINING=0)"),
    ("lots", 0, "neither 'off' nor a number of minutes"),
    ("-2", 0, "neither 'off' nor a number of minutes"),
])
def test_the_training_setting_caps_or_switches_training_off_saying_why(setting, minutes, reason):
    policy = training_run.training_policy(setting, keras_installed=True)
    assert policy.max_minutes == minutes and reason in policy.reason and policy.enabled == bool(minutes)


def test_training_is_off_without_tensorflow():
    policy = training_run.training_policy("5", keras_installed=False)
    assert not policy.enabled and "without TensorFlow" in policy.reason
