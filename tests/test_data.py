"""Seeded generation, label encoding and preprocessing."""

import dataclasses
import os

import numpy as np
import pytest
from PIL import Image

from captcha_model.config import CaptchaConfig
from captcha_model.data import library_images, preprocessing, rendering

CONFIG = CaptchaConfig()


def pixels(image):
    return np.asarray(image)


def test_same_seed_gives_same_pixels():
    first_text, first = rendering.sample_captcha(CONFIG, seed=7, index=3)
    second_text, second = rendering.sample_captcha(CONFIG, seed=7, index=3)
    assert first_text == second_text
    assert np.array_equal(pixels(first), pixels(second))


def test_different_seeds_and_indices_differ():
    _, base = rendering.sample_captcha(CONFIG, seed=7, index=3)
    _, other_seed = rendering.sample_captcha(CONFIG, seed=8, index=3)
    _, other_index = rendering.sample_captcha(CONFIG, seed=7, index=4)
    assert (pixels(base) != pixels(other_seed)).mean() > 0.2
    assert (pixels(base) != pixels(other_index)).mean() > 0.2


def test_given_text_is_drawn_at_library_size():
    text, image = rendering.sample_captcha(CONFIG, seed=1, text="AB12")
    assert text == "AB12"
    assert image.size == (CONFIG.captcha_width, CONFIG.captcha_height)
    assert image.mode == "RGB"


def test_generation_does_not_disturb_the_library_unseeded():
    from captcha import image as captcha_image

    rendering.sample_captcha(CONFIG, seed=1)
    assert captcha_image.secrets.__name__ == "secrets"


def test_stream_is_the_same_however_it_is_split():
    whole, whole_texts = rendering.render_range(CONFIG, seed=3, start=0, count=6)
    head, head_texts = rendering.render_range(CONFIG, seed=3, start=0, count=2)
    tail, tail_texts = rendering.render_range(CONFIG, seed=3, start=2, count=4)
    assert whole_texts == head_texts + tail_texts
    assert np.array_equal(whole, np.concatenate([head, tail]))


def test_parallel_rendering_matches_serial_rendering():
    serial, serial_texts = rendering.render_range(CONFIG, seed=5, start=0, count=40)
    parallel, parallel_texts = rendering.render_dataset(CONFIG, seed=5, count=40, workers=2, chunk_size=16,
                                                        progress=False)
    assert parallel_texts == serial_texts
    assert np.array_equal(parallel, serial)


def test_random_texts_use_the_charset_and_length():
    texts = [rendering.sample_captcha(CONFIG, seed=11, index=index)[0] for index in range(50)]
    assert all(len(text) == 4 and set(text) <= set(CONFIG.charset) for text in texts)
    assert len(set(texts)) == 50


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


@pytest.mark.parametrize(
    "text, message",
    [
        ("abcd", "outside the charset"),
        ("AB!", "exactly 4"),
        ("ABCDE", "exactly 4"),
        ("", "exactly 4"),
        (1234, "must be a string"),
    ],
)
def test_bad_text_is_refused_with_what_is_accepted(text, message):
    with pytest.raises(ValueError, match=message):
        rendering.sample_captcha(CONFIG, seed=0, text=text)


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
    images = [rendering.sample_captcha(VARIABLE, seed=14, index=index)[1] for index in range(6)]
    expected = [np.asarray(image.convert(mode).resize((config.input_width, config.input_height),
                                                      Image.Resampling.BILINEAR)) for image in images]
    np.testing.assert_array_equal(preprocessing.preprocess(images, config),
                                  np.stack(expected).reshape(len(images), config.input_height, config.input_width,
                                                             channels))


def test_preprocess_refuses_a_bare_image():
    with pytest.raises(ValueError, match="list of PIL images"):
        preprocessing.preprocess(Image.new("RGB", (10, 10)), CONFIG)


VARIABLE = CaptchaConfig(min_length=1, max_length=8, captcha_width_range=(120, 240), captcha_height_range=(50, 100))


def test_variable_lengths_and_sizes_are_seeded_and_cover_their_ranges():
    samples = [rendering.sample_captcha(VARIABLE, seed=9, index=index) for index in range(120)]
    lengths = {len(text) for text, _ in samples}
    sizes = [image.size for _, image in samples]
    assert lengths == set(range(1, 9))
    assert all(120 <= width <= 240 and 50 <= height <= 100 for width, height in sizes)
    # The config's own size and the library's default each get a share; the rest vary.
    assert 0.25 < sizes.count((170, 80)) / len(sizes) < 0.55
    assert 0.08 < sizes.count(library_images.LIBRARY_DEFAULT_SIZE) / len(sizes) < 0.35
    assert len(set(sizes)) > 30
    again_text, again = rendering.sample_captcha(VARIABLE, seed=9, index=17)
    assert again_text == samples[17][0] and np.array_equal(pixels(again), pixels(samples[17][1]))


def test_one_size_configs_draw_nothing_extra():
    # Streams of one-size configs predate size ranges and must stay the same: the size draws
    # nothing from a sample's RNG, so a ranged config restricted to 170x80 gives the same pixels.
    fixed_text, fixed = rendering.sample_captcha(CONFIG, seed=4, index=2)
    restricted_text, restricted = rendering.sample_captcha(VARIABLE.at(170, 80, length=4), seed=4, index=2)
    assert fixed_text == restricted_text and np.array_equal(pixels(fixed), pixels(restricted))
    assert rendering.sample_captcha(VARIABLE.at(160, 60), seed=4, index=2)[1].size == (160, 60)


def test_library_default_size_is_read_from_the_library():
    from captcha.image import ImageCaptcha

    generator = ImageCaptcha()
    assert library_images.LIBRARY_DEFAULT_SIZE == (generator._width, generator._height) == (160, 60)


def test_a_config_covers_the_sizes_and_lengths_of_its_ranges():
    assert VARIABLE.covers(120, 100) and VARIABLE.covers(240, 50, length=8)
    assert not VARIABLE.covers(119, 60) and not VARIABLE.covers(160, 101) and not VARIABLE.covers(160, 60, length=9)
    # One size and one length: the default config covers its own captchas and nothing beside them.
    assert CONFIG.covers(170, 80, length=4) and not CONFIG.covers(*library_images.LIBRARY_DEFAULT_SIZE)
    assert not CONFIG.covers(170, 80, length=5)


@pytest.mark.slow
def test_emphasis_draws_its_characters_at_the_asked_share():
    emphasis = rendering.Emphasis("0O", share=0.3)
    texts = [rendering.sample_captcha(CONFIG, seed=6, index=index, emphasis=emphasis)[0] for index in range(3000)]
    characters = "".join(texts)
    # Each character is 0 or O with probability 0.3 + 0.7 * 2/36 = 0.339 (n=12,000, sd 0.004).
    assert 0.32 < sum(character in "0O" for character in characters) / len(characters) < 0.36
    assert abs(characters.count("0") - characters.count("O")) < 0.1 * characters.count("0")
    assert all(len(text) == 4 for text in texts)
    only = [rendering.sample_captcha(CONFIG, seed=6, index=index, emphasis=rendering.Emphasis("Q", 1.0))[0]
            for index in range(5)]
    assert only == ["QQQQ"] * 5


def test_emphasis_is_seeded_and_leaves_uniform_streams_alone():
    emphasis = rendering.Emphasis("0O")
    first, first_texts = rendering.render_range(CONFIG, seed=12, start=0, count=3, emphasis=emphasis)
    again, again_texts = rendering.render_range(CONFIG, seed=12, start=0, count=3, emphasis=emphasis)
    assert first_texts == again_texts and np.array_equal(first, again)
    uniform, uniform_texts = rendering.render_range(CONFIG, seed=12, start=0, count=3)
    assert uniform_texts != first_texts
    assert rendering.cache_path(CONFIG, 12, 3, "cache") != rendering.cache_path(CONFIG, 12, 3, "cache", emphasis)
    assert rendering.cache_path(CONFIG, 12, 3, "cache", emphasis) != rendering.cache_path(
        CONFIG, 12, 3, "cache", rendering.Emphasis("0O", 0.5))
    # A known answer: the pool of the bundled default model's last fine-tune keeps its name.
    assert rendering.cache_path(CONFIG, 7000, 200000, "cache", emphasis) == os.path.join(
        "cache", "captchas-7000-200000-f3d58d0e81bf.npz")
    # The network's widths do not change the pixels, so they do not change the pool either.
    wider = dataclasses.replace(CONFIG, trunk_widths=(32, 64, 64, 128))
    assert rendering.cache_path(wider, 7000, 200000, "cache", emphasis) == rendering.cache_path(CONFIG, 7000, 200000,
                                                                                                "cache", emphasis)


def test_a_given_text_is_drawn_with_the_randomness_of_its_sample():
    # bench/zero_and_o.py draws "twins" this way: the same captcha with 0 and with O at one place.
    _, zero = rendering.sample_captcha(CONFIG, seed=9, index=4, text="A0B7")
    _, letter = rendering.sample_captcha(CONFIG, seed=9, index=4, text="AOB7")
    _, elsewhere = rendering.sample_captcha(CONFIG, seed=9, index=5, text="A0B7")
    inputs = preprocessing.preprocess([zero, letter, elsewhere], CONFIG).astype(int)
    changed_columns = (np.abs(inputs[0] - inputs[1]).max(axis=(0, 2)) > 8).sum()
    # One glyph's band of the image changes; the rest is the same drawing.
    assert 0 < changed_columns < 0.35 * CONFIG.input_width
    assert (np.abs(inputs[0] - inputs[2]).max(axis=(0, 2)) > 8).sum() > 0.5 * CONFIG.input_width


@pytest.mark.parametrize("characters, share, message", [
    ("", 0.3, "at least one character"),
    ("0O", 0.0, r"share must lie in \(0, 1\]"),
    ("0O", 1.5, r"share must lie in \(0, 1\]"),
])
def test_bad_emphasis_is_refused_with_what_is_accepted(characters, share, message):
    with pytest.raises(ValueError, match=message):
        rendering.Emphasis(characters, share)


def test_emphasis_outside_the_charset_names_accepted_characters():
    with pytest.raises(ValueError, match="'o'.*accepted characters are '0123"):
        rendering.Emphasis("0o").check(CONFIG)
