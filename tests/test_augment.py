"""Distortions of training inputs: drawn from their generator alone, within their bounds, none at zero bounds, and
only uint8 batches taken."""

import numpy as np
import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.data import rendering
from captcha_model.data.augment import Augmentation, augment

NONE = Augmentation(rotation_degrees=0, shear=0, scale=0, shift=0, contrast=0, brightness=0, noise=0)


@pytest.fixture(scope="module")
def inputs():
    """Six captchas as network input, gray and in colour."""
    gray, _ = rendering.render_range(CaptchaConfig(), seed=3, start=0, count=6)
    colour, _ = rendering.render_range(CaptchaConfig(input_channels=3), seed=3, start=0, count=6)
    return gray, colour


def test_the_same_generator_state_gives_the_same_distortions(inputs):
    for batch in inputs:
        first = augment(batch, np.random.default_rng(1))
        assert first.shape == batch.shape and first.dtype == np.uint8
        assert np.array_equal(first, augment(batch, np.random.default_rng(1)))
        assert not np.array_equal(first, augment(batch, np.random.default_rng(2)))
        # Each image of a batch is distorted its own way.
        assert not np.array_equal(first[0] - batch[0], first[1] - batch[1])


def test_zero_bounds_leave_the_pixels_as_they_were(inputs):
    for batch in inputs:
        assert np.array_equal(augment(batch, np.random.default_rng(0), NONE), batch)


def test_a_brightness_shift_alone_moves_every_pixel_by_one_amount_within_its_bound():
    batch = np.full((4, 10, 12, 1), 128, dtype=np.uint8)
    brighter = augment(batch, np.random.default_rng(5), Augmentation(
        rotation_degrees=0, shear=0, scale=0, shift=0, contrast=0, brightness=20, noise=0)).astype(int) - 128
    for image in brighter:
        assert len(np.unique(image)) == 1 and abs(image.flat[0]) <= 20
    assert len({image.flat[0] for image in brighter}) == 4


@pytest.mark.parametrize("batch", [np.zeros((2, 40, 88, 1), dtype=np.float32), np.zeros((40, 88, 1), np.uint8)])
def test_anything_but_a_uint8_batch_is_refused(batch):
    with pytest.raises(ValueError, match=r"augment takes a uint8 batch \(N, height, width, channels\), got "):
        augment(batch, np.random.default_rng(0))
