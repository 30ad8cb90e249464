"""The settings of one run: flags parsed into a frozen `Settings`, the recipe of its data filling what is left out,
and the config and optimizer they ask for."""

import os

import keras
import pytest

from captcha_model.data import rendering
from captcha_model.networks import model as model_lib
from captcha_model.reading.solver import BUNDLED_MODELS
from captcha_model.training import recipes, schedule, settings as settings_lib


def test_the_tutorial_recipe_gets_adadelta_at_a_constant_rate():
    stage = recipes.load("seed")["stages"][0]
    settings = settings_lib.parse(recipes.stage_arguments(stage, "runs", {})[:-2])
    assert isinstance(settings.make_optimizer(), keras.optimizers.Adadelta)
    assert [schedule.learning_rate_schedule(settings, {"wall_seconds": 0.0})(epoch) for epoch in range(5)] == [1.0] * 5
    assert (settings.arch, settings.batch_size, settings.steps_per_epoch, settings.train_size) == ("seed", 32, 1600, 0)


def test_settings_are_frozen_and_take_the_recipe_of_their_data():
    settings = settings_lib.parse([])
    assert (settings.epochs, settings.patience, settings.calibration_batches, settings.init_from) == (30, 8, 50, None)
    with pytest.raises(AttributeError):
        settings.epochs = 3
    site = settings_lib.parse(["--data", "folder", "--epochs", "7"])
    assert (site.epochs, site.patience, site.batch_size, site.max_minutes) == (7, 0, 32, 15.0)
    assert site.init_from.endswith(os.path.join("bundled", "ctc", "model.keras"))
    with pytest.raises(ValueError, match="--validation-data goes with --data"):
        settings_lib.parse(["--validation-data", "folder"])


def test_length_and_size_flags_shape_the_config(capsys):
    config = settings_lib.parse(["--arch", "ctc", "--lengths", "3-6", "--size", "160x60", "--size-range",
                                 "120x50-200x90"]).network_config()
    assert (config.min_length, config.max_length) == (3, 6)
    assert (config.captcha_width, config.captcha_height) == (160, 60)
    assert (config.captcha_width_range, config.captcha_height_range) == ((120, 200), (50, 90))
    assert settings_lib.parse(["--lengths", "5"]).lengths == {"min_length": 5, "max_length": 5}
    for flag, value, message in [("--lengths", "a-b", "a length like 4"), ("--size", "160", "e.g. 160x60"),
                                 ("--size-range", "120x50", "two sizes like 120x50-240x100"),
                                 ("--trunk-widths", "32,64", "four positive channel counts"),
                                 ("--trunk-widths", "32,0,64,128", "four positive channel counts")]:
        with pytest.raises(SystemExit):
            settings_lib.parse([flag, value])
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--epochs", "--steps-per-epoch", "--batch-size", "--workers", "--validation-size"])
def test_counts_below_one_are_refused_naming_their_flag(flag):
    with pytest.raises(ValueError, match=f"{flag} must be at least 1, got 0."):
        settings_lib.parse([flag, "0"])


def test_emphasis_flags_ask_for_an_emphasis_or_none():
    assert settings_lib.parse([]).emphasis() is None
    emphasis = settings_lib.parse(["--emphasize", "0O", "--emphasis-share", "0.5"]).emphasis()
    assert emphasis == rendering.Emphasis("0O", 0.5)
    with pytest.raises(ValueError, match=r"share must lie in \(0, 1\]"):
        settings_lib.parse(["--emphasize", "0O", "--emphasis-share", "0"])


def test_a_bundled_models_name_starts_a_run_from_its_file():
    assert settings_lib.parse(["--init-from", "ctc"]).init_from == BUNDLED_MODELS["ctc"]
    assert settings_lib.parse(["--init-from", "runs/mine.keras"]).init_from == "runs/mine.keras"
    assert isinstance(settings_lib.parse(["--learning-rate", "0.001"]).make_optimizer(), keras.optimizers.Adam)


def test_train_py_family_flag_makes_a_general_network():
    config = settings_lib.parse(["--arch", "ctc", "--family", "general"]).network_config()
    assert config == model_lib.default_config("ctc", "general")
    with pytest.raises(SystemExit):
        settings_lib.parse(["--family", "sites"])
