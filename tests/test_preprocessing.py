"""Label encoding (texts to class indices and back) and `preprocess`, the one path from an image to network input."""

import numpy as np
import pytest
from PIL import Image

from captcha_model.config import CaptchaConfig
from captcha_model.data import preprocessing, rendering

CONFIG = CaptchaConfig()


def test_encode_known_answer_and_round_trip():
    assert preprocessing.encode_text("09AZ", CONFIG).tolist() == [0, 9, 10, 35]
    for text in ["0000", "ZZ9A", "K3X7"]:
        assert preprocessing.decode_indices(preprocessing.encode_text(text, CONFIG), CONFIG) == text


def test_encode_batch_pads_and_counts():
    config = CaptchaConfig(min_length=2, max_length=5)
    labels, lengths = preprocessing.encode_batch(["AB", "12345"], config)
    assert labels.shape == (2, 5)
    assert lengths.tolist() == [2, 5]
    assert labels[1].tolist() == [1, 2, 3, 4, 5]


def test_bad_text_names_accepted_characters():
    with pytest.raises(ValueError, match="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        preprocessing.encode_text("AB-C", CONFIG)


def test_decode_refuses_unknown_indices():
    with pytest.raises(ValueError, match="outside 0..35"):
        preprocessing.decode_indices([36], CONFIG)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "I;16", "F"])
def test_preprocess_accepts_every_mode(mode):
    _, image = rendering.sample_captcha(CONFIG, seed=2)
    converted = image.convert("L").convert(mode) if mode in ("I", "I;16", "F") else image.convert(mode)
    batch = preprocessing.preprocess([converted], CONFIG)
    assert batch.shape == (1, CONFIG.input_height, CONFIG.input_width, 1)
    assert batch.dtype == np.uint8
    # Every mode must still show dark text on a light background.
    assert batch.min() < 128 < batch.max()


@pytest.mark.parametrize("size", [(1, 1), (7, 300), (300, 7), (2000, 900)])
def test_preprocess_resizes_odd_sizes(size):
    batch = preprocessing.preprocess([Image.new("RGB", size, (200, 100, 50))], CONFIG)
    assert batch.shape == (1, CONFIG.input_height, CONFIG.input_width, 1)


def test_opaque_rgb_takes_the_direct_path_with_the_same_pixels():
    for index in range(20):
        _, image = rendering.sample_captcha(CONFIG, seed=12, index=index)
        composited = preprocessing.preprocess([image.convert("RGBA")], CONFIG)
        assert np.array_equal(preprocessing.preprocess([image], CONFIG), composited)


def test_transparency_is_composited_onto_white():
    transparent = Image.new("RGBA", (50, 20), (0, 0, 0, 0))
    assert (preprocessing.preprocess([transparent], CONFIG) == 255).all()


def test_preprocess_rgb_config_keeps_colour():
    config = CaptchaConfig(input_height=80, input_width=170, input_channels=3)
    batch = preprocessing.preprocess([Image.new("RGB", (170, 80), (255, 0, 0))], config)
    assert batch.shape == (1, 80, 170, 3)
    assert batch[0, 0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_preprocess_gives_the_pixels_of_the_resized_image(channels, mode):
    config = CaptchaConfig(input_channels=channels)
    sizes = [(120, 50), (240, 100), (160, 60), (170, 80), (133, 97), (201, 55)]
    images = [rendering.sample_captcha(CONFIG.at(*size), seed=14, index=index)[1] for index, size in enumerate(sizes)]
    expected = [np.asarray(image.convert(mode).resize((config.input_width, config.input_height),
                                                      Image.Resampling.BILINEAR)) for image in images]
    np.testing.assert_array_equal(preprocessing.preprocess(images, config),
                                  np.stack(expected).reshape(len(images), config.input_height, config.input_width,
                                                             channels))


def test_preprocess_refuses_a_bare_image():
    with pytest.raises(ValueError, match="list of PIL images"):
        preprocessing.preprocess(Image.new("RGB", (10, 10)), CONFIG)
