"""Seeded streams of captchas: reproducible however they are split, texts and sizes within their ranges, emphasis
and the names of rendered pools."""

import dataclasses
import hashlib
import os

import numpy as np
import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.data import fonts, library_images, preprocessing, rendering, styles
from captcha_model.data.styles import draw_general, general_style
from captcha_model.networks.model import default_config

CONFIG = CaptchaConfig()
# The general family's config, as train.py --family general makes it.
GENERAL = default_config("ctc", "general")


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


def digest(image):
    return hashlib.sha256(image.tobytes()).hexdigest()


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


def test_a_progress_bar_written_to_a_log_is_drawn_at_its_start_and_end_only(capsys):
    # Captured, standard error is not a terminal, as under a log file or CI.
    rendering.render_dataset(CONFIG, seed=1, count=256, workers=1, chunk_size=16)
    redraws = capsys.readouterr().err
    assert "rendering captchas (seed 1)" in redraws and "256/256" in redraws and redraws.count("\r") <= 3
