"""The `captcha` library's images drawn reproducibly: its default size, and `secrets` put back after each draw."""

import random

import numpy as np
import pytest
from captcha import image as captcha_image

from captcha_model.config import CaptchaConfig
from captcha_model.data import library_images, rendering

CONFIG = CaptchaConfig()


def test_generation_does_not_disturb_the_library_unseeded():
    rendering.sample_captcha(CONFIG, seed=1)
    assert captcha_image.secrets.__name__ == "secrets"


def test_library_default_size_is_read_from_the_library():
    from captcha.image import ImageCaptcha

    generator = ImageCaptcha()
    assert library_images.LIBRARY_DEFAULT_SIZE == (generator._width, generator._height) == (160, 60)


def test_an_image_is_a_function_of_its_text_size_and_generator():
    first = library_images.draw_library("K3X7", random.Random("sample"), 150, 60)
    again = library_images.draw_library("K3X7", random.Random("sample"), 150, 60)
    other = library_images.draw_library("K3X7", random.Random("other"), 150, 60)
    assert first.size == (150, 60) and first.mode == "RGB"
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))
    # One generator per size, made once.
    assert library_images.image_captcha(150, 60) is library_images.image_captcha(150, 60)


def test_the_seeded_stand_in_is_taken_away_even_when_drawing_fails():
    original = captcha_image.secrets
    with pytest.raises(RuntimeError, match="drawing failed"), library_images.seeded_library(random.Random(0)):
        assert captcha_image.secrets is not original
        raise RuntimeError("drawing failed")
    assert captcha_image.secrets is original
