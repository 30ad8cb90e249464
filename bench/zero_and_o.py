"""Why `0` and `O` make most errors: the captcha library stretches both into the same box.

    python bench/zero_and_o.py     # writes bench/zero_and_o.png and prints the glyph sizes

The library's only font, DroidSansMono, draws `0` narrower than `O`. But `ImageCaptcha`
crops every glyph to its ink, then resizes the crop to the font's character cell, which
a monospaced font makes the same for both. The width that told them apart is gone; what
is left is the shape of the curve and how thick the strokes come out after the stretch.
"""

import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from captcha.image import DEFAULT_FONTS, ImageCaptcha  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from captcha_model.data import _normalize_mode, _seeded_library  # noqa: E402

FONT_SIZE = 56
SEEDS = (1, 2, 3)


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
    with _seeded_library(random.Random(seed)):
        glyph = generator._draw_character(character, ImageDraw.Draw(Image.new("RGB", (1, 1))), (0, 0, 0, 255))
    return _normalize_mode(glyph, "L")


def ink_size(image):
    box = Image.eval(image, lambda value: 255 - value).getbbox()
    return box[2] - box[0], box[3] - box[1]


def main():
    font = ImageFont.truetype(DEFAULT_FONTS[0], FONT_SIZE)
    plain = UndistortedCaptcha(font_sizes=(FONT_SIZE,))
    library = ImageCaptcha()
    columns = ["the font", "cropped and stretched\nto the cell"] + [f"a captcha's draw\n(seed {seed})" for seed in SEEDS]
    figure, axes = plt.subplots(2, len(columns), figsize=(2.1 * len(columns), 4.6))
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


if __name__ == "__main__":
    main()
