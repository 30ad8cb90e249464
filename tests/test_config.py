"""The configs that travel with every model: `CaptchaConfig` and `RefereeConfig` checked and round-tripped through
JSON, captcha sizes parsed, and a config read back from a model's file or folder."""

import zipfile

import pytest

from captcha_model import config as config_lib
from captcha_model.config import CaptchaConfig, RefereeConfig, parse_size
from captcha_model.data import library_images

CONFIG = CaptchaConfig()
RANGED = CaptchaConfig(min_length=1, max_length=8, captcha_width_range=(120, 240), captcha_height_range=(50, 100))


def test_a_config_covers_the_sizes_and_lengths_of_its_ranges():
    assert RANGED.covers(120, 100) and RANGED.covers(240, 50, length=8)
    assert not RANGED.covers(119, 60) and not RANGED.covers(160, 101) and not RANGED.covers(160, 60, length=9)
    # One size and one length: the default config covers its own captchas and nothing beside them.
    assert CONFIG.covers(170, 80, length=4) and not CONFIG.covers(*library_images.LIBRARY_DEFAULT_SIZE)
    assert not CONFIG.covers(170, 80, length=5)


@pytest.mark.parametrize("characters", ["0", "00", "0OQ"])
def test_a_referee_needs_two_different_characters(characters):
    with pytest.raises(ValueError, match="two different characters"):
        RefereeConfig(characters=characters)


def test_referee_config_round_trips_through_json():
    referee_config = RefereeConfig(characters="5S", crop_width=20, widths=[8, 16, 32], main_weight=1.3)
    assert RefereeConfig.from_json(referee_config.to_json()) == referee_config


def test_config_round_trip_and_validation():
    config = CaptchaConfig(charset="ABC", min_length=2, max_length=6)
    assert CaptchaConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="accepted keys"):
        CaptchaConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="must not repeat"):
        CaptchaConfig(charset="AAB")
    with pytest.raises(ValueError, match="min_length <= max_length"):
        CaptchaConfig(min_length=5, max_length=4)
    wide = CaptchaConfig(trunk_widths=[32, 64, 64, 128])
    assert CaptchaConfig.from_json(wide.to_json()) == wide and wide.trunk_widths == (32, 64, 64, 128)
    with pytest.raises(ValueError, match="four positive channel counts"):
        CaptchaConfig(trunk_widths=(16, 32, 64))


def test_config_size_ranges_round_trip_and_are_checked():
    config = CaptchaConfig(captcha_width_range=[120, 240], captcha_height_range=[50, 100])
    assert config.captcha_width_range == (120, 240)
    assert CaptchaConfig.from_json(config.to_json()) == config
    assert CaptchaConfig().captcha_width_range == (170, 170) and CaptchaConfig().fixed_size
    one_size = config.at(160, 60, length=6)
    assert (one_size.captcha_width, one_size.captcha_height, one_size.min_length,
            one_size.max_length) == (160, 60, 6, 6)
    assert one_size.fixed_size and one_size.fixed_length
    with pytest.raises(ValueError, match=r"captcha_width_range must be \(smallest, largest\)"):
        CaptchaConfig(captcha_width_range=(240, 120))


@pytest.mark.parametrize("text", ["160x", "x60", "160*60", "big"])
def test_sizes_are_parsed_or_refused_with_an_example(text):
    assert parse_size(" 160X60 ") == (160, 60)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT in pixels, e.g. 160x60"):
        parse_size(text)


def test_a_config_is_read_back_from_a_model_file_or_its_unpacked_folder(tmp_path):
    config = CaptchaConfig(charset="ABC", min_length=2, max_length=3)
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(config_lib.CONFIG_ENTRY, config.to_json())
    folder = tmp_path / "unpacked"
    folder.mkdir()
    (folder / config_lib.CONFIG_ENTRY).write_text(config.to_json())
    assert config_lib.read_config(path) == config_lib.read_config(folder) == config
    # An entry a model lacks reads as None, in either layout.
    assert config_lib.read_entry(path, config_lib.WEIGHTS_ENTRY) is None
    assert config_lib.read_entry(folder, config_lib.WEIGHTS_ENTRY) is None


def test_a_folder_without_a_config_or_a_config_that_is_not_text_is_refused(tmp_path):
    with pytest.raises(ValueError, match="has no captcha_config.json; only models saved by captcha_model"):
        config_lib.read_config(tmp_path)
    garbled = tmp_path / "garbled.keras"
    with zipfile.ZipFile(garbled, "w") as archive:
        archive.writestr(config_lib.CONFIG_ENTRY, b"\xff\xfe{")
    with pytest.raises(ValueError, match="holds a malformed captcha_config.json"):
        config_lib.read_config(garbled)
