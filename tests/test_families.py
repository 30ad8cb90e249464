"""Families of captchas: a config's `family` picks the stream its captchas come from (`rendering.sample_captcha`),
the general family's config (`model.default_config`) and `train.py --family`."""

import dataclasses
import hashlib

import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.data import fonts, rendering, styles
from captcha_model.data.styles import draw_general, general_style
from captcha_model.networks.model import default_config
from captcha_model.training import settings as settings_lib

GENERAL = default_config("ctc", "general")


def digest(image):
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_the_general_config_reads_the_family_it_is_trained_on():
    assert GENERAL.family == "general" and GENERAL.charset == fonts.GENERAL_CHARSET
    assert (GENERAL.min_length, GENERAL.max_length) == (styles.MIN_LENGTH, styles.MAX_LENGTH)
    assert (GENERAL.captcha_width_range, GENERAL.captcha_height_range) == (styles.WIDTH_RANGE, styles.HEIGHT_RANGE)
    # CTC needs two columns a character: the ctc network reads a quarter of the input's columns.
    assert GENERAL.input_width // 4 >= 2 * GENERAL.max_length
    assert default_config("ctc").family == "library"
    with pytest.raises(ValueError, match="family must be one of"):
        CaptchaConfig(family="site")


def test_a_general_config_draws_the_general_stream():
    for index in (0, 5):
        text, image = rendering.sample_captcha(GENERAL, 9, index)
        expected_text, expected = draw_general(9, index)
        assert text == expected_text and digest(image) == digest(expected)
    images, texts = rendering.draw_range(GENERAL, 9, 0, 6)
    assert all(set(text) <= set(GENERAL.charset) and 3 <= len(text) <= 8 for text in texts)


def test_a_general_config_at_one_size_and_length_keeps_the_rest_of_each_sample():
    config = GENERAL.at(130, 48, 5)
    for index in range(6):
        text, image = rendering.sample_captcha(config, 2, index)
        assert image.size == (130, 48) and len(text) == 5
        assert set(text) <= set(styles.ALPHABETS[general_style(2, index).alphabet])
    text, image = rendering.sample_captcha(config, 2, 0, text="aB3x9")
    assert text == "aB3x9" and image.size == (130, 48)
    # Lengths within the family's range, drawn per sample.
    four_or_five = dataclasses.replace(GENERAL, min_length=4, max_length=5)
    lengths = {len(rendering.sample_captcha(four_or_five, 2, index)[0]) for index in range(30)}
    assert lengths == {4, 5}


def test_emphasis_is_refused_for_the_general_family():
    with pytest.raises(ValueError, match="general family draws its own"):
        rendering.sample_captcha(GENERAL, 1, 0, emphasis=rendering.Emphasis("0O"))
    with pytest.raises(ValueError, match="general family draws its own"):
        rendering.Emphasis("0O").check(GENERAL)


def test_the_library_style_draws_what_the_library_stream_drew_before_the_families():
    # Before the general family joined rendering, its library style was the library stream of seed
    # "general:SEED" at the style's size; the pixels must not have moved.
    style = dataclasses.replace(general_style(4, 3), source="library", width=170, height=70)
    text, image = draw_general(4, 3, style=style, text="Ab12")
    library = CaptchaConfig(charset=fonts.GENERAL_CHARSET, min_length=1, max_length=16, captcha_width=170,
                            captcha_height=70, captcha_width_range=(170, 170), captcha_height_range=(70, 70))
    assert digest(image) == digest(rendering.sample_captcha(library, "general:4", 3, text="Ab12")[1])


def test_library_pools_keep_their_cache_names_and_general_pools_get_their_own():
    # The names the pools of these configs had before the families existed: pools rendered then are found.
    assert rendering.cache_path(default_config("ctc"), 3, 100, "cache") == "cache/captchas-3-100-057810321848.npz"
    assert rendering.cache_path(default_config(), 3, 100, "cache") == "cache/captchas-3-100-63ecce2728eb.npz"
    assert rendering.cache_path(GENERAL, 3, 100, "cache") not in (
        rendering.cache_path(default_config("ctc"), 3, 100, "cache"),
        rendering.cache_path(dataclasses.replace(GENERAL, family="library"), 3, 100, "cache"))


def test_train_py_family_flag_makes_a_general_network():
    config = settings_lib.parse(["--arch", "ctc", "--family", "general"]).network_config()
    assert config == GENERAL
    with pytest.raises(SystemExit):
        settings_lib.parse(["--family", "sites"])
