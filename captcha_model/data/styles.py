"""General captchas: a seeded family of text captchas, far wider than one library, drawn here.

A reader that must read the captchas of sites it never saw cannot learn from one generator's
images: it learns that generator. This family varies what differs between sites (see
docs/general-captchas.md): many fonts and both cases, 3 to 8 characters, sizes from 100x30 to
250x100, each character's rotation, scale and height, overlapping or spread characters, sine and
perspective warps, lines, arcs and dots over the text, flat, gradient, noisy and textured
backgrounds, colours, outlines, hollow letters and shadows, and, as one style among them, the
`captcha` library's own images. It copies no site's or other library's look.

`draw_general(seed, index)` is the one entry point: the `index`-th captcha of the stream named by
`seed`, as (text, RGB image). Every random choice comes from a numpy Generator seeded by
(seed, index) alone, so a sample is the same in any process, in any order, on any number of
workers, given the same installed fonts (`captcha_model.data.fonts`). The choices made once per
captcha are a `GeneralStyle`, which `general_style(seed, index)` returns and `draw_general`
accepts, so that a test or a bench can draw a given style.
"""

import colorsys
import dataclasses
import functools
import math
import random

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from captcha_model.data.fonts import GENERAL_CHARSET, font_families, load_font, usable_fonts
from captcha_model.data.library_images import draw_library

DIGITS = GENERAL_CHARSET[:10]
UPPER = GENERAL_CHARSET[10:36]
LOWER = GENERAL_CHARSET[36:]
# The characters a captcha's text is drawn from: sites use one case or both, with or without digits.
ALPHABETS = {
    "mixed": GENERAL_CHARSET,
    "upper": DIGITS + UPPER,
    "lower": DIGITS + LOWER,
    "letters": UPPER + LOWER,
    "digits": DIGITS,
}
MIN_LENGTH, MAX_LENGTH = 3, 8
WIDTH_RANGE, HEIGHT_RANGE = (100, 250), (30, 100)
# The sizes a style may name: wider than the family draws, for a bench, yet a captcha's size.
STYLE_WIDTH_RANGE, STYLE_HEIGHT_RANGE = (24, 1000), (16, 400)
SOURCES = ("drawn", "library")
WARPS = ("none", "sine", "perspective")
BACKGROUNDS = ("flat", "gradient", "noise", "texture")
DECORATIONS = ("none", "outline", "shadow", "hollow")
# A tag mixed into every seed, so that the seeds of this family never give the streams of another.
SEED_TAG = 0x47454E45  # "GENE"
# The library's captchas come at sizes on a 10-pixel grid: it keeps one generator, holding its fonts,
# per size (`library_images.image_captcha`), and 16 widths x 8 heights bound those to 128.
LIBRARY_SIZE_STEP = 10
# The library draws characters 42 to 56 pixels high whatever the captcha's height and squeezes the text
# into the width, so on captchas lower or narrower than these they are cut off or crushed.
LIBRARY_MIN_HEIGHT, LIBRARY_MIN_WIDTH = 50, 150
# Rec. 601 luma: the share of red, green and blue in the brightness the eye sees.
LUMINANCE_WEIGHTS = np.array([0.299, 0.587, 0.114])
# Glyphs are drawn once at this size and scaled, so each font is loaded once, not once per size.
GLYPH_SIZE = 64
# Characters smaller than this many pixels (the font's size) are not legible with clutter over them.
MIN_TEXT_PIXELS = 17
# Hollow letters thinner than this (their size in pixels) are not legible, so such styles get outlines.
HOLLOW_MIN_TEXT_PIXELS = 28


@dataclasses.dataclass(frozen=True)
class GeneralStyle:
    """The choices made once per general captcha; `general_style` draws them, `draw_general` draws with them.

    A style of source "library" is the `captcha` library's image at this size: only `width`,
    `height` and `alphabet` apply to it. Fractions are of the captcha's height (`text_height`,
    `baseline_variation`) or of the characters' size (`spacing`, `scale_variation`).
    """

    source: str = "drawn"
    width: int = 160
    height: int = 60
    alphabet: str = "mixed"
    font: str = "DejaVu Sans Book"  # a name of `fonts.usable_fonts()`
    mixed_fonts: bool = False  # each character in a font of its own
    text_height: float = 0.7  # the font's size as a fraction of the captcha's height, before fitting the width
    rotation: float = 0.0  # each character turns by up to this many degrees either way
    scale_variation: float = 0.0  # each character's size varies by up to this fraction either way
    spacing: float = 0.05  # the gap between characters' ink, a fraction of the font size; below 0 they overlap
    baseline_variation: float = 0.0  # each character moves up or down by up to this fraction of the height
    warp: str = "none"
    warp_strength: float = 0.0  # 0 to 1
    background: str = "flat"
    dark_background: bool = False  # light text on a dark background
    character_colours: bool = False  # each character in a colour of its own
    decoration: str = "none"
    lines: int = 0
    arcs: int = 0
    dots: int = 0
    line_width: int = 1
    clutter_like_text: bool = False  # lines, arcs and dots in the text's colour, which makes them harder to ignore
    blur: float = 0.0  # the radius of a Gaussian blur of the whole captcha, in pixels

    def __post_init__(self):
        for name, allowed in (("source", SOURCES), ("alphabet", tuple(ALPHABETS)), ("warp", WARPS),
                              ("background", BACKGROUNDS), ("decoration", DECORATIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GeneralStyle {name} must be one of {allowed}, got {getattr(self, name)!r}.")
        for name, (low, high) in (("width", STYLE_WIDTH_RANGE), ("height", STYLE_HEIGHT_RANGE)):
            value = getattr(self, name)
            if not (isinstance(value, int) and low <= value <= high):
                raise ValueError(f"GeneralStyle {name} must be a whole number of pixels from {low} to {high}, "
                                 f"got {value!r}.")
        for name, low, high in (("text_height", 0.1, 1.0), ("rotation", 0.0, 90.0), ("scale_variation", 0.0, 0.5),
                                ("spacing", -0.5, 1.0), ("baseline_variation", 0.0, 0.5), ("warp_strength", 0.0, 1.0),
                                ("blur", 0.0, 3.0)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"GeneralStyle {name} must lie in [{low}, {high}], got {getattr(self, name)!r}.")
        for name in ("lines", "arcs", "dots", "line_width"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= (name == "line_width")):
                raise ValueError(f"GeneralStyle {name} must be a whole number >= {int(name == 'line_width')}, "
                                 f"got {getattr(self, name)!r}.")


def _generators(seed, index):
    """Three independent Generators of (seed, index): the style's, the text's and the drawing's.

    Kept apart so that a caller's own style or text leaves the rest of the sample as it was.
    """
    for name, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"draw_general's {name} must be a whole number >= 0, got {value!r}.")
    return [np.random.Generator(np.random.PCG64(child))
            for child in np.random.SeedSequence([SEED_TAG, int(seed), int(index)]).spawn(3)]


def _pick(rng, options, weights):
    """One of `options`, drawn with these relative weights."""
    return options[int(np.searchsorted(np.cumsum(weights), rng.random() * sum(weights), side="right"))]


def _maybe(rng, chance, low, high):
    """0 with probability 1 - chance, else a value uniform in [low, high]."""
    return float(rng.uniform(low, high)) if rng.random() < chance else 0.0


def _count(rng, chance, low, high):
    return int(rng.integers(low, high + 1)) if rng.random() < chance else 0


def _draw_style(rng):
    alphabet = _pick(rng, tuple(ALPHABETS), (35, 25, 20, 10, 10))
    if rng.random() < 0.1:
        width, height = (int(rng.integers(low // LIBRARY_SIZE_STEP, high // LIBRARY_SIZE_STEP + 1)) * LIBRARY_SIZE_STEP
                         for low, high in ((LIBRARY_MIN_WIDTH, WIDTH_RANGE[1]), (LIBRARY_MIN_HEIGHT, HEIGHT_RANGE[1])))
        return GeneralStyle(source="library", width=width, height=height, alphabet=alphabet)
    width, height = (int(rng.integers(low, high + 1)) for low, high in (WIDTH_RANGE, HEIGHT_RANGE))
    # A family first, then one of its faces: a family of many weights is not drawn more often.
    families = font_families()
    faces = families[list(families)[rng.integers(len(families))]]
    text_height = float(rng.uniform(max(0.45, MIN_TEXT_PIXELS / height), 0.85))
    decoration = _pick(rng, DECORATIONS, (55, 15, 15, 15))
    if decoration == "hollow" and text_height * height < HOLLOW_MIN_TEXT_PIXELS:
        decoration = "outline"
    font = faces[rng.integers(len(faces))]
    mixed_fonts = bool(rng.random() < 0.15)
    rotation = _maybe(rng, 0.75, 5.0, 35.0)
    return GeneralStyle(
        source="drawn", width=width, height=height, alphabet=alphabet, font=font, mixed_fonts=mixed_fonts,
        text_height=text_height,
        rotation=rotation,
        scale_variation=_maybe(rng, 0.7, 0.05, 0.3),
        # Characters turned far and pushed into each other cross into one blot: they overlap less.
        spacing=float(rng.uniform(-0.15 if rotation < 15 else -0.05, 0.25)),
        baseline_variation=_maybe(rng, 0.6, 0.02, 0.15),
        warp=_pick(rng, WARPS, (40, 35, 25)),
        warp_strength=float(rng.uniform(0.2, 1.0)),
        background=_pick(rng, BACKGROUNDS, (30, 25, 20, 25)),
        dark_background=bool(rng.random() < 0.2),
        character_colours=bool(rng.random() < 0.3),
        decoration=decoration,
        lines=_count(rng, 0.6, 1, 4),
        arcs=_count(rng, 0.4, 1, 3),
        # Up to 1 pixel in 40: the same share of a small captcha as of a large one.
        dots=int(_maybe(rng, 0.5, 0.002, 0.025) * width * height),
        # Lines 3 pixels wide over characters 20 pixels high hide them: wide lines on high captchas only.
        line_width=int(rng.integers(1, 2 + height // 40)),
        clutter_like_text=bool(rng.random() < 0.5),
        # A blur fills hollow letters' rings in with the background.
        blur=0.0 if decoration == "hollow" else _maybe(rng, 0.3, 0.3, 1.0),
    )


def general_style(seed, index):
    """The style of the `index`-th general captcha of the stream named by `seed` (whole numbers >= 0)."""
    return _draw_style(_generators(seed, index)[0])


def _draw_text(rng, alphabet, length=None):
    if length is None:
        length = int(rng.integers(MIN_LENGTH, MAX_LENGTH + 1))
    characters = ALPHABETS[alphabet]
    return "".join(characters[i] for i in rng.integers(len(characters), size=length))


def _check_text(text):
    if not isinstance(text, str) or not 1 <= len(text) <= 2 * MAX_LENGTH:
        raise ValueError(f"A general captcha's text must be 1 to {2 * MAX_LENGTH} characters, got {text!r}.")
    strangers = sorted(set(text) - set(GENERAL_CHARSET))
    if strangers:
        raise ValueError(f"A general captcha's text may hold only 0-9, A-Z and a-z; {text!r} has {strangers}.")


def _colour(hue, luminance, saturation):
    """An RGB colour of this hue and saturation whose luminance (what the eye takes for brightness) is `luminance`.

    HLS lightness is not luminance: a saturated yellow of lightness 0.45 is nearly as bright as white,
    so the contrast between text and background is set on luminance instead.
    """
    pure = np.array(colorsys.hls_to_rgb(hue % 1.0, 0.5, saturation))
    own = float(pure @ LUMINANCE_WEIGHTS)
    if own > luminance:
        shaded = pure * (luminance / own)  # darker, same hue
    else:
        shaded = pure + (1 - pure) * ((luminance - own) / (1 - own))  # towards white
    return tuple(int(round(255 * channel)) for channel in shaded.clip(0, 1))


class _Palette:
    """The colours of one captcha: text and background lightness stay far apart, so it stays legible."""

    def __init__(self, rng, dark_background):
        self.rng = rng
        self.background_band, self.text_band = ((0.0, 0.25), (0.65, 1.0)) if dark_background else (
            (0.75, 1.0), (0.0, 0.4))
        self.text_hue = rng.random()
        self.text = self.text_colour()

    def text_colour(self, strong=False):
        """A colour for text; `strong` ones lie at the far end of the text's band, for thin strokes (outlines)."""
        low, high = self.text_band
        if strong:
            low, high = (low, low + 0.15) if high < 0.5 else (high - 0.15, high)
        return _colour(self.text_hue + self.rng.normal(0, 0.15), self.rng.uniform(low, high), self.rng.random())

    def background_colour(self):
        # Backgrounds are mostly pale or dull: a saturated one would take the text's place.
        return _colour(self.rng.random(), self.rng.uniform(*self.background_band), self.rng.uniform(0, 0.6))

    def between(self, share):
        """A grey `share` of the way from the background's lightness to the text's: for shadows."""
        lightness = (1 - share) * np.mean(self.background_band) + share * np.mean(self.text_band)
        return _colour(self.text_hue, lightness, 0.2)


def _background(style, palette, rng):
    width, height = style.width, style.height
    base = np.array(palette.background_colour(), dtype=np.float32)
    if style.background == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (np.arange(width, dtype=np.float32)[None, :] * math.cos(angle)
                + np.arange(height, dtype=np.float32)[:, None] * math.sin(angle))
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
        other = np.array(palette.background_colour(), dtype=np.float32)
        pixels = base + ramp[..., None] * (other - base)
    elif style.background == "texture":
        # Blotches: a few random colours on a coarse grid, smoothly enlarged to the captcha.
        cells = (int(rng.integers(2, 7)), int(rng.integers(3, 13)))
        coarse = np.stack([np.array(palette.background_colour(), dtype=np.float32)
                           for _ in range(cells[0] * cells[1])]).reshape(*cells, 3)
        # Half way to the base colour: blotches of unrelated colours side by side would be a pattern, not a ground.
        coarse = (coarse + base) / 2
        pixels = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC),
                            dtype=np.float32)
        pixels = pixels + 6 * rng.standard_normal((height, width, 1), dtype=np.float32)
    else:
        pixels = np.broadcast_to(base, (height, width, 3))
    if style.background == "noise":
        grain = rng.uniform(8, 22) * rng.standard_normal((height, width, 1 if rng.random() < 0.5 else 3),
                                                         dtype=np.float32)
        pixels = pixels + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


@functools.cache
def _glyph(font, character):
    """(mask of its ink, the ink's centre height over the baseline) of a character at GLYPH_SIZE pixels.

    Characters are laid out by their ink, not their advance, so that spacing means the same in every font.

    Kept for the life of the process: at most 62 per font, about 2 KB each.
    """
    face = load_font(font, GLYPH_SIZE)
    left, top, right, bottom = face.getbbox(character, anchor="ls")
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), character, font=face, fill=255, anchor="ls")
    return mask, (top + bottom) / 2


def _pasted(mask, decoration, shape):
    """The masks that draw a character: (outline or None, fill), grown by `shape`'s margin."""
    padded = Image.new("L", (mask.width + 4, mask.height + 4))
    padded.paste(mask, (2, 2))
    if decoration in ("outline", "hollow"):
        grown = padded.filter(shape)
        if decoration == "hollow":
            # Only the ring around each letter: the letter's own pixels are taken out of its outline.
            return None, ImageChops.subtract(grown, padded)
        return grown, padded
    return None, padded


def _draw_characters(style, text, palette, rng):
    """The text on a transparent layer, each character turned, scaled and placed on its own."""
    width, height = style.width, style.height
    families = font_families()
    all_faces = [face for faces in families.values() for face in faces]
    fonts = [all_faces[rng.integers(len(all_faces))] if style.mixed_fonts else style.font for _ in text]
    glyphs = [_glyph(font, character) for font, character in zip(fonts, text, strict=True)]
    angles = rng.uniform(-style.rotation, style.rotation, len(text))
    scales = 1 + rng.uniform(-style.scale_variation, style.scale_variation, len(text))
    lifts = rng.uniform(-style.baseline_variation, style.baseline_variation, len(text)) * height
    # The size that makes the font text_height of the captcha, shrunk where the text would not fit its width.
    size = style.text_height * height / GLYPH_SIZE
    cosines, sines = np.abs(np.cos(np.radians(angles))), np.abs(np.sin(np.radians(angles)))
    turned = [scale * (mask.width * cosine + mask.height * sine)
              for (mask, _), scale, cosine, sine in zip(glyphs, scales, cosines, sines, strict=True)]
    tallest = max(scale * (mask.width * sine + mask.height * cosine)
                  for (mask, _), scale, cosine, sine in zip(glyphs, scales, cosines, sines, strict=True))
    gap = style.spacing * GLYPH_SIZE
    room = width * 0.92
    size = min(size, room / max(sum(turned) + gap * (len(text) - 1), 1.0), height * 0.9 / tallest)
    slack = room - size * (sum(turned) + gap * (len(text) - 1))
    pen = width * 0.04 + rng.uniform(0, max(slack, 0.0))
    # The baseline puts capitals (about 0.7 of the font's size high) in the middle, give or take the room left.
    capitals = 0.7 * GLYPH_SIZE * size
    baseline = height / 2 + capitals / 2 + rng.uniform(-1, 1) * max(height - capitals * 1.3, 0) / 4

    layer = Image.new("RGBA", (width, height), (*palette.text, 0))
    outline_colour = palette.text_colour(strong=True)
    # Nearer the background than the text: a shadow as strong as the letters would read as a second letter.
    shadow_colour = palette.between(0.35)
    shadow_offset = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    # Hollow letters get rings 2 pixels wide: 1 pixel, smoothed, fades into the background.
    shape = ImageFilter.MaxFilter(3 if size * GLYPH_SIZE < 40 and style.decoration == "outline" else 5)
    placed = []
    for (mask, centre_y), scale, angle, lift, turned_width in zip(
            glyphs, scales, angles, lifts, turned, strict=True):
        factor = size * scale
        mask = mask.resize((max(1, round(mask.width * factor)), max(1, round(mask.height * factor))), Image.BILINEAR)
        mask = mask.rotate(float(angle), Image.BILINEAR, expand=True)
        # The glyph's centre keeps its place relative to the pen and the baseline, so small letters sit low.
        x = pen + turned_width * size / 2 - mask.width / 2
        y = baseline + centre_y * factor + lift - mask.height / 2
        # Kept inside the captcha: a character cut by its edge would make the label a lie.
        x = min(max(x, 0), width - mask.width)
        y = min(max(y, 0), height - mask.height)
        placed.append((mask, round(x) - 2, round(y) - 2))
        pen += turned_width * size + gap * size
    # Shadows go under every character, so one never darkens its neighbour's letters.
    if style.decoration == "shadow":
        for mask, x, y in placed:
            _, fill = _pasted(mask, "none", shape)
            layer.paste((*shadow_colour, 255), (x + shadow_offset[0], y + shadow_offset[1]), fill)
    for mask, x, y in placed:
        if style.decoration == "hollow":
            colour = outline_colour
        else:
            colour = palette.text_colour() if style.character_colours else palette.text
        outline, fill = _pasted(mask, style.decoration, shape)
        if outline is not None:
            layer.paste((*outline_colour, 255), (x, y), outline)
            # Inside an outline any hue reads, yet the fill stays on the text's side of the background: a thin
            # outline alone, round a fill the colour of the background, vanishes on small captchas.
            colour = _colour(rng.random(), rng.uniform(*palette.text_band), rng.uniform(0.3, 1.0))
        layer.paste((*colour, 255), (x, y), fill)
    return layer


def _perspective_coefficients(corners, width, height):
    """The coefficients PIL's PERSPECTIVE transform needs to take the output's corners to `corners`."""
    target = [(0, 0), (width, 0), (width, height), (0, height)]
    rows, values = [], []
    for (x, y), (u, v) in zip(target, corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.extend((u, v))
    return tuple(np.linalg.solve(np.array(rows, dtype=np.float64), np.array(values, dtype=np.float64)))


def _warp(layer, style, rng):
    width, height = layer.size
    strength = style.warp_strength
    if style.warp == "perspective":
        pull = np.array([width * 0.12, height * 0.18]) * strength
        # Corners mostly move outwards (the text shrinks a little), as moving them in would push the text off.
        corners = [(x + side_x * rng.uniform(-0.3, 1) * pull[0], y + side_y * rng.uniform(-0.3, 1) * pull[1])
                   for x, y, side_x, side_y in ((0, 0, -1, -1), (width, 0, 1, -1), (width, height, 1, 1),
                                                (0, height, -1, 1))]
        return layer.transform(layer.size, Image.PERSPECTIVE, _perspective_coefficients(corners, width, height),
                               Image.BILINEAR)
    # Sine: each point is taken from a place moved along waves across and down the captcha. PIL maps
    # a mesh of quadrilaterals in C; 16 columns by 4 rows follow waves of these lengths closely enough.
    amplitude = np.array([width * 0.02, height * 0.1]) * strength
    wavelength = np.array([rng.uniform(0.5, 1.5) * height, rng.uniform(0.3, 1.0) * width])
    phase = rng.uniform(0, 2 * math.pi, 2)
    xs = np.linspace(0, width, 17).round().astype(int)
    ys = np.linspace(0, height, 5).round().astype(int)
    grid_x, grid_y = np.meshgrid(xs, ys)
    source_x = grid_x + amplitude[0] * np.sin(2 * math.pi * grid_y / wavelength[0] + phase[0])
    source_y = grid_y + amplitude[1] * np.sin(2 * math.pi * grid_x / wavelength[1] + phase[1])
    corners = np.stack([source_x, source_y], axis=-1).tolist()
    mesh = [((int(xs[column]), int(ys[row]), int(xs[column + 1]), int(ys[row + 1])),
             (*corners[row][column], *corners[row + 1][column], *corners[row + 1][column + 1],
              *corners[row][column + 1]))
            for row in range(len(ys) - 1) for column in range(len(xs) - 1)]
    return layer.transform(layer.size, Image.MESH, mesh, Image.BILINEAR)


def _clutter(image, style, palette, rng):
    """Lines, arcs and dots over the captcha."""
    width, height = image.size
    draw = ImageDraw.Draw(image)

    def colour():
        return palette.text if style.clutter_like_text else palette.text_colour()

    for _ in range(style.lines):
        # A line from the left to the right edge with a bend or two, as wide as the style's lines.
        points = [(x, rng.uniform(0, height)) for x in np.linspace(0, width, int(rng.integers(2, 5)))]
        draw.line(points, fill=colour(), width=style.line_width)
    for _ in range(style.arcs):
        centre = (rng.uniform(0, width), rng.uniform(0, height))
        radius = (rng.uniform(0.2, 1.0) * width, rng.uniform(0.3, 1.5) * height)
        start = rng.uniform(0, 360)
        draw.arc((centre[0] - radius[0], centre[1] - radius[1], centre[0] + radius[0], centre[1] + radius[1]),
                 start, start + rng.uniform(60, 200), fill=colour(), width=style.line_width)
    if style.dots:
        points = np.column_stack([rng.uniform(0, width, style.dots), rng.uniform(0, height, style.dots)])
        draw.point(points.ravel().tolist(), fill=colour())
        if style.line_width > 1:
            # Wider clutter has wider dots: each point again one pixel right and down.
            draw.point((points + 1).ravel().tolist(), fill=colour())


def _draw_library(style, text, seed, index):
    # The library's seeded path under a stream name of this family's own: it draws from a seeded
    # `random.Random`, not from the numpy Generators here, and must not repeat a stream models train on.
    return draw_library(text, random.Random(f"sample:general:{seed}:{index}"), style.width, style.height)


def draw_general(seed, index, style=None, text=None, size=None, length=None):
    """The `index`-th general captcha of the stream named by `seed`: (text, RGB PIL image).

    `seed` and `index` are whole numbers >= 0. `style` (a `GeneralStyle`) replaces the style the
    stream would draw, `text` its text (0-9, A-Z, a-z; 1 to 16 characters), `size` (width, height)
    its size and `length` the length of the text it draws; the rest of the sample stays as the
    stream draws it. Same arguments, same fonts installed: same pixels.
    """
    style_rng, text_rng, drawing_rng = _generators(seed, index)
    if style is None:
        style = _draw_style(style_rng)
    elif not isinstance(style, GeneralStyle):
        raise ValueError(f"draw_general's style must be a GeneralStyle, got {type(style).__name__}.")
    if size is not None:
        style = dataclasses.replace(style, width=size[0], height=size[1])
    if text is None:
        text = _draw_text(text_rng, style.alphabet, length)
    _check_text(text)
    if style.source == "library":
        return text, _draw_library(style, text, seed, index)
    usable_fonts()  # Raises, saying what to install, before anything is drawn when there is no font.
    palette = _Palette(drawing_rng, style.dark_background)
    background = _background(style, palette, drawing_rng)
    layer = _draw_characters(style, text, palette, drawing_rng)
    if style.warp != "none":
        layer = _warp(layer, style, drawing_rng)
    image = Image.alpha_composite(background.convert("RGBA"), layer).convert("RGB")
    _clutter(image, style, palette, drawing_rng)
    if style.blur:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    return text, image
