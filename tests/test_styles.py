"""The general captchas (`captcha_model.data.styles`): reproducible, within their ranges, every style
reachable and drawable, varied, and bad arguments refused. The font search is in test_fonts.py."""

import dataclasses
import hashlib
import os
import subprocess
import sys

import pytest

from captcha_model.data import fonts, styles
from captcha_model.data.styles import ALPHABETS, GeneralStyle, draw_general, general_style

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Enough styles that every option, even one of 10% of 15%, turns up: drawing styles draws no pixels.
STYLE_COUNT = 3000


def digest(image):
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_the_same_seed_and_index_give_the_same_pixels_in_another_process_and_any_order():
    here = {index: digest(draw_general(11, index)[1]) for index in (7, 0, 3)}
    script = ("import hashlib\nfrom captcha_model.data.styles import draw_general\n"
              "for index in (0, 3, 7):\n"
              "    text, image = draw_general(11, index)\n"
              "    print(index, hashlib.sha256(image.tobytes()).hexdigest())\n")
    # The data package alone: a fresh interpreter with nothing drawn before, in another order.
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    there = {int(index): value for index, value in (line.split() for line in result.stdout.splitlines())}
    assert there == here


def test_a_sample_is_a_function_of_its_seed_and_index_alone():
    first = draw_general(5, 2)
    draw_general(5, 1)
    again = draw_general(5, 2)
    assert first[0] == again[0] and digest(first[1]) == digest(again[1])
    # The stream's own style, given back, draws the same captcha: style, text and drawing are apart.
    text, image = draw_general(5, 2, style=general_style(5, 2))
    assert text == first[0] and digest(image) == digest(first[1])


def test_texts_sizes_and_alphabets_keep_to_their_ranges():
    lengths = set()
    for index in range(40):
        style = general_style(3, index)
        text, image = draw_general(3, index)
        lengths.add(len(text))
        assert styles.MIN_LENGTH <= len(text) <= styles.MAX_LENGTH
        assert set(text) <= set(ALPHABETS[style.alphabet])
        assert image.mode == "RGB" and image.size == (style.width, style.height)
        assert styles.WIDTH_RANGE[0] <= style.width <= styles.WIDTH_RANGE[1]
        assert styles.HEIGHT_RANGE[0] <= style.height <= styles.HEIGHT_RANGE[1]
    assert len(lengths) >= 4


def test_a_given_text_is_drawn():
    text, image = draw_general(1, 1, text="aB3")
    assert text == "aB3"
    library = dataclasses.replace(general_style(1, 1), source="library", width=160, height=60)
    text, image = draw_general(1, 1, style=library, text="Zz9q")
    assert text == "Zz9q" and image.size == (160, 60)


def test_every_style_component_is_reachable():
    drawn = [general_style(17, index) for index in range(STYLE_COUNT)]
    for name, options in (("source", styles.SOURCES), ("alphabet", tuple(ALPHABETS)), ("warp", styles.WARPS),
                          ("background", styles.BACKGROUNDS), ("decoration", styles.DECORATIONS),
                          ("dark_background", (False, True)), ("mixed_fonts", (False, True)),
                          ("character_colours", (False, True)), ("clutter_like_text", (False, True))):
        assert {getattr(style, name) for style in drawn} == set(options), name
    own = [style for style in drawn if style.source == "drawn"]
    for name in ("rotation", "scale_variation", "baseline_variation", "lines", "arcs", "dots", "blur"):
        values = [getattr(style, name) for style in own]
        assert min(values) == 0 and max(values) > 0, name
    assert min(style.spacing for style in own) < 0 < max(style.spacing for style in own)
    assert {style.line_width for style in own} >= {1, 2, 3}
    # Many typefaces, not a few: at least half the families found are drawn.
    families = fonts.font_families()
    used = {family for family, faces in families.items() for style in own if style.font in faces}
    assert len(used) >= len(families) / 2
    widths, heights = [style.width for style in drawn], [style.height for style in drawn]
    assert min(widths) < 110 and max(widths) > 240 and min(heights) < 35 and max(heights) > 95


@pytest.mark.parametrize("change", [
    {"warp": "sine", "warp_strength": 1.0}, {"warp": "perspective", "warp_strength": 1.0},
    {"background": "gradient"}, {"background": "noise"}, {"background": "texture"},
    {"decoration": "outline"}, {"decoration": "shadow"}, {"decoration": "hollow"},
    {"dark_background": True, "character_colours": True, "mixed_fonts": True},
    {"lines": 3, "arcs": 2, "dots": 200, "line_width": 2, "clutter_like_text": True, "blur": 0.8},
    {"rotation": 35.0, "scale_variation": 0.3, "baseline_variation": 0.15, "spacing": -0.15},
    {"width": 100, "height": 30}, {"width": 250, "height": 100},
])
def test_every_component_draws_a_legible_captcha(change):
    style = dataclasses.replace(general_style(2, 0), source="drawn", **change)
    text, image = draw_general(2, 0, style=style, text="Wg8kQ2")
    assert image.size == (style.width, style.height)
    # Text in a colour far from the background's: dark pixels and light pixels both.
    gray = image.convert("L")
    low, high = gray.getextrema()
    assert high - low > 100


def test_different_seeds_and_indices_give_different_captchas():
    seen = {digest(draw_general(seed, index)[1]) for seed in (0, 1) for index in range(10)}
    assert len(seen) == 20


@pytest.mark.parametrize("seed, index", [(-1, 0), (0, -1), (1.5, 0), ("1", 0), (True, 0), (0, None)])
def test_bad_seeds_and_indices_are_refused(seed, index):
    with pytest.raises(ValueError, match="whole number"):
        draw_general(seed, index)


@pytest.mark.parametrize("text", ["", "ab!", "a" * 17, 42])
def test_bad_texts_are_refused(text):
    with pytest.raises(ValueError, match="text"):
        draw_general(0, 0, text=text)


@pytest.mark.parametrize("change", [
    {"source": "site"}, {"alphabet": "greek"}, {"warp": "twist"}, {"background": "plaid"}, {"decoration": "neon"},
    {"width": 10}, {"height": 60.5}, {"text_height": 0.0}, {"rotation": -1.0}, {"lines": -1}, {"dots": 1.5},
    {"line_width": 0}, {"warp_strength": 2.0},
])
def test_bad_styles_are_refused(change):
    with pytest.raises(ValueError, match="GeneralStyle"):
        GeneralStyle(**change)


def test_a_style_must_be_a_general_style_and_its_font_installed():
    with pytest.raises(ValueError, match="GeneralStyle"):
        draw_general(0, 0, style={"warp": "sine"})
    with pytest.raises(ValueError, match="No usable font is called"):
        draw_general(0, 0, style=GeneralStyle(font="Nonesuch Sans Regular"))
