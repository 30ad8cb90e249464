"""Why `0` and `O` make most errors: the captcha library stretches both into the same box.

    python bench/zero_and_o.py                 # bench/zero_and_o.png, bench/zero_and_o_twins.png
    python bench/zero_and_o.py --model M.keras # the twin test for another model
    python bench/zero_and_o.py --pairs 0 --glyph-count 24000   # only the errors by glyph size

The library's only font, DroidSansMono, draws `0` narrower than `O`. But `ImageCaptcha`
crops every glyph to its ink, then resizes the crop to the font's character cell, which
a monospaced font makes the same for both. The width that told them apart is gone; what
is left is the shape of the curve and how thick the strokes come out after the stretch.

The twin test measures how much of that a model sees. Each fresh captcha is drawn twice
from the same randomness, once with `0` and once with `O` at one position, so the twins
differ in that glyph alone; a model that sees the difference gives `O` a higher score
(the logit of `O` minus that of `0`) in the `O` twin than in the `0` twin.

The library draws each glyph at one of three font sizes; the last section counts how often
a model misreads `0` and `O` at each, by the height of the cell the glyph was drawn in.
"""

import argparse
import contextlib
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np
from captcha.image import DEFAULT_FONTS, ImageCaptcha
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from captcha_model import config as config_lib
from captcha_model.data import preprocessing, rendering
from captcha_model.data.library_images import seeded_library
from captcha_model.data.preprocessing import normalize_mode
from captcha_model.reading import decoding
from captcha_model.reading.evaluation import wilson_interval
from captcha_model.reading.solver import load_solver

FONT_SIZE = 56
SEEDS = (1, 2, 3)
# A stream of its own: no model trained or was tested on these captchas.
TWIN_SEED = 6100000
GLYPH_SEED = 6200000


class UndistortedCaptcha(ImageCaptcha):
    """The library's glyph drawing with no offset, rotation or warp: the crop and stretch alone."""

    character_offset_dx = (0, 0)
    character_offset_dy = (0, 0)
    character_rotate = (0, 0)
    character_warp_dx = (0.0, 0.0)
    character_warp_dy = (0.0, 0.0)


def font_glyph(character, font):
    """The glyph as the font draws it, on its character cell."""
    cell = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((1, 1), character, font=font)
    image = Image.new("L", (cell[2], cell[3]), 255)
    ImageDraw.Draw(image).text((1, 1), character, font=font, fill=0)
    return image.crop((0, cell[1], cell[2], cell[3]))


def library_glyph(generator, character, seed):
    """The glyph as `ImageCaptcha` pastes it into a captcha, black on white."""
    with seeded_library(random.Random(seed)):
        glyph = generator._draw_character(character, ImageDraw.Draw(Image.new("RGB", (1, 1))), (0, 0, 0, 255))
    return normalize_mode(glyph, "L")


def ink_size(image):
    box = Image.eval(image, lambda value: 255 - value).getbbox()
    return box[2] - box[0], box[3] - box[1]


def draw_twins(config, count):
    """`count` pairs of captchas that differ only in one glyph: '0' in the first, 'O' in the second."""
    images, positions = [], []
    for index in range(count):
        text, _ = rendering.sample_captcha(config, TWIN_SEED, index)
        position = index % len(text)
        for character in "0O":
            twin = text[:position] + character + text[position + 1:]
            images.append(rendering.sample_captcha(config, TWIN_SEED, index, text=twin)[1])
        positions.append(position)
    return images, positions


def twin_scores(solver, images, positions, length):
    """Per image, the score of 'O' over '0' (logit difference) where the model read the twin's glyph.

    NaN where the model read other than `length` characters, so the glyph cannot be located.
    """
    config = solver.config
    outputs = solver.network.inference_model.predict(preprocessing.preprocess(images, config), batch_size=256,
                                                     verbose=0)
    logits = np.asarray(outputs)
    zero, letter = config.charset.index("0"), config.charset.index("O")
    scores = np.full(len(images), np.nan)
    for row, characters in enumerate(decoding.read_characters(outputs, config).per_image()):
        position = positions[row // 2]
        if len(characters) == length:
            frames = list(characters[position][1])
            scores[row] = np.max(logits[row, frames, letter] - logits[row, frames, zero])
    return scores


def twin_test(solver, count):
    """Score `count` twin pairs; print how often each twin's glyph and each pair are ranked right."""
    if config_lib.get_architecture(solver.config.architecture).output_kind != "ctc":
        raise ValueError("The twin test reads CTC frames; use the default or ctc model.")
    config = solver.config.at(width=solver.config.captcha_width, height=solver.config.captcha_height, length=4)
    images, positions = draw_twins(config, count)
    scores = twin_scores(solver, images, positions, config.max_length).reshape(count, 2)
    located = ~np.isnan(scores).any(axis=1)
    zero_right = (scores[located, 0] < 0).mean()
    letter_right = (scores[located, 1] > 0).mean()
    ranked = (scores[located, 1] > scores[located, 0]).mean()
    print(f"twin test, {located.sum()} of {count} pairs located ({config.captcha_width}x{config.captcha_height}, "
          f"seed {TWIN_SEED}): 0 over O in {zero_right:.2%} of the '0' twins, O over 0 in {letter_right:.2%} of the "
          f"'O' twins, "
          f"pairs ranked right (higher O score in the O twin) {ranked:.2%}, by a median of "
          f"{np.median(scores[located, 1] - scores[located, 0]):.1f} logits")
    return images, scores, located


def plot_twins(images, scores, located, examples=3):
    """Each pair's two scores, and pairs where the model misreads one twin, with what differs between them."""
    scores = scores[located]
    images = [image for pair, keep in enumerate(located) for image in images[2 * pair : 2 * pair + 2] if keep]
    figure = Figure(figsize=(9, 4.2 + 1.6 * examples))
    grid = figure.add_gridspec(1 + examples, 3, height_ratios=[4.2] + [1.6] * examples)
    axis = figure.add_subplot(grid[0, :])
    right = (scores[:, 0] < 0) & (scores[:, 1] > 0)
    ranked = scores[:, 1] > scores[:, 0]
    for selection, color, label in ((right, "#4a8f4a", "both twins read right"),
                                    (~right & ranked, "#e08a2c", "one misread, the O twin still scored higher"),
                                    (~ranked, "#c23b3b", "ranked wrong")):
        axis.scatter(scores[selection, 0], scores[selection, 1], s=6, color=color,
                     label=f"{label}: {selection.sum()}")
    limits = [scores.min() - 1, scores.max() + 1]
    axis.plot(limits, limits, color="#888888", linewidth=0.8)
    axis.axhline(0, color="#bbbbbb", linewidth=0.8)
    axis.axvline(0, color="#bbbbbb", linewidth=0.8)
    axis.set_xlabel("score of the twin with '0'  (logit of O minus logit of 0; below 0 reads 0)")
    axis.set_ylabel("score of the twin with 'O'")
    axis.set_title(f"{len(scores)} captchas drawn twice, once with '0' and once with 'O' at one place", fontsize=10)
    axis.legend(fontsize=8, loc="lower right")
    for row, pair in enumerate(np.flatnonzero(~right & ranked)[:examples]):
        first, second = images[2 * pair], images[2 * pair + 1]
        difference = np.abs(np.asarray(first.convert("L"), dtype=int) - np.asarray(second.convert("L"), dtype=int))
        pictures = [(first, f"with '0': score {scores[pair, 0]:+.1f}"),
                    (second, f"with 'O': score {scores[pair, 1]:+.1f}"),
                    (Image.fromarray((255 - np.clip(4 * difference, 0, 255)).astype(np.uint8)), "difference, x4")]
        for column, (picture, title) in enumerate(pictures):
            axis = figure.add_subplot(grid[1 + row, column])
            axis.imshow(picture, cmap="gray" if column == 2 else None, vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(title, fontsize=8)
    figure.tight_layout()
    return figure


@contextlib.contextmanager
def recording_glyph_heights(heights):
    """While active, every glyph the library draws appends (character, cell height) to `heights`."""
    draw_character = ImageCaptcha._draw_character

    def recording(self, character, draw, color):
        glyph = draw_character(self, character, draw, color)
        heights.append((character, glyph.size[1]))
        return glyph

    ImageCaptcha._draw_character = recording
    try:
        yield
    finally:
        ImageCaptcha._draw_character = draw_character


def errors_by_glyph_size(solver, count):
    """Print how often `solver` misreads each `0` and `O` of `count` fresh captchas, by glyph cell height."""
    texts, images, cells = [], [], []
    drawn = []
    with recording_glyph_heights(drawn):
        for index in range(count):
            start = len(drawn)
            text, image = rendering.sample_captcha(solver.config, GLYPH_SEED, index)
            # The library also draws the spaces it sometimes puts between characters.
            cells.append([height for character, height in drawn[start:] if character != " "])
            texts.append(text)
            images.append(image)
    tallies = {}
    for text, reading, heights in zip(texts, solver.solve(images), cells):
        for position, (character, height) in enumerate(zip(text, heights)):
            if character in "0O":
                misread = len(reading.text) != len(text) or reading.text[position] != character
                wrong, total = tallies.get((character, height), (0, 0))
                tallies[(character, height)] = (wrong + misread, total + 1)
    for (character, height), (wrong, total) in sorted(tallies.items()):
        low, high = wilson_interval(wrong, total)
        print(f"{character!r} drawn in a {height}-pixel-high cell: {wrong} of {total} misread "
              f"({wrong / total:.2%}, 95% interval {low:.2%}-{high:.2%})")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="the model of the twin test (default: the bundled default model)")
    parser.add_argument("--pairs", type=int, default=2000, help="twin pairs to draw (0: no twin test)")
    parser.add_argument("--glyph-count", type=int, default=24000,
                        help="captchas for the errors by glyph size (0: skip that section)")
    return parser.parse_args()


def main():
    args = parse_args()
    font = ImageFont.truetype(DEFAULT_FONTS[0], FONT_SIZE)
    plain = UndistortedCaptcha(font_sizes=(FONT_SIZE,))
    library = ImageCaptcha()
    columns = ["the font",
               "cropped and stretched\nto the cell"] + [f"a captcha's draw\n(seed {seed})" for seed in SEEDS]
    figure = Figure(figsize=(2.1 * len(columns), 4.6))
    axes = figure.subplots(2, len(columns))
    for row, character in enumerate("0O"):
        drawn = font_glyph(character, font)
        stretched = library_glyph(plain, character, seed=0)
        print(f"{character!r}: ink {ink_size(drawn)[0]}x{ink_size(drawn)[1]} px in the font at {FONT_SIZE} px, "
              f"{ink_size(stretched)[0]}x{ink_size(stretched)[1]} px once the library has stretched it")
        pictures = [drawn, stretched] + [library_glyph(library, character, seed) for seed in SEEDS]
        for column, picture in enumerate(pictures):
            axis = axes[row, column]
            axis.imshow(picture, cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(columns[column], fontsize=9)
        axes[row, 0].set_ylabel(f"'{character}'", rotation=0, fontsize=16, labelpad=18)
    figure.suptitle("DroidSansMono draws 0 narrower than O; the captcha library stretches both to the same cell")
    figure.tight_layout()
    path = os.path.join(ROOT, "bench", "zero_and_o.png")
    figure.savefig(path, dpi=100)
    print(f"Wrote {path}.")

    solver = load_solver(args.model)
    if args.pairs:
        twins = twin_test(solver, args.pairs)
        # The picture in docs/zero-and-o.md is of the bundled model; other models get the figures alone.
        if args.model is None:
            path = os.path.join(ROOT, "bench", "zero_and_o_twins.png")
            plot_twins(*twins).savefig(path, dpi=100)
            print(f"Wrote {path}.")
    if args.glyph_count:
        errors_by_glyph_size(solver, args.glyph_count)


if __name__ == "__main__":
    main()
