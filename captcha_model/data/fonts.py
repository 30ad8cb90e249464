"""The fonts the general captchas are drawn in: where they are searched for and which are usable.

The drawn family of `captcha_model.data.styles` needs many typefaces, yet shipping fonts in
the repository would make it large and their licences ours to track. So fonts are found at run
time, in this order (the `FONT_SEARCH_PATH`):

1. the folders named in the `CAPTCHA_FONT_PATH` environment variable (separated by `os.pathsep`);
2. the repository's own `fonts/` folder, where a user may drop TTF or OTF files;
3. the system's font folders (`/usr/share/fonts` and the like), which the Debian packages of
   `FONT_PACKAGES` fill;
4. the fonts pip packages ship: matplotlib's DejaVu and STIX faces, the `captcha` library's own.

A font is usable when it draws every character of `GENERAL_CHARSET` with a glyph of its own
(symbol, dingbat and math fonts draw letters as something else, so they are left out by name).
Fonts are grouped into families so that a family of 20 weights is not drawn 20 times as often
as one with a single face. The same installed fonts give the same list, in the same order, in
every process, which is what keeps a seeded captcha reproducible; another set of fonts gives
other captchas of the same seeds.
"""

import functools
import importlib.util
import os
import string

from PIL import Image, ImageDraw, ImageFont

# Every character a general captcha may show.
GENERAL_CHARSET = string.digits + string.ascii_uppercase + string.ascii_lowercase
FONT_PATH_VARIABLE = "CAPTCHA_FONT_PATH"
REPOSITORY_FONTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fonts")
SYSTEM_FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
# (pip package, its folder of fonts): found without importing the package, which may be heavy.
PACKAGE_FONT_FOLDERS = (("matplotlib", os.path.join("mpl-data", "fonts", "ttf")), ("captcha", "data"))
# The Debian packages that give the drawn captchas their variety (see docs/general-captchas.md).
FONT_PACKAGES = (
    "fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf fonts-croscore fonts-crosextra-carlito "
    "fonts-crosextra-caladea fonts-go fonts-open-sans fonts-roboto-unhinted fonts-comic-neue fonts-cantarell "
    "fonts-hack fonts-inconsolata fonts-cabin fonts-breip fonts-comfortaa fonts-quicksand fonts-humor-sans "
    "fonts-oldstandard fonts-league-spartan fonts-anonymous-pro fonts-linuxlibertine fonts-urw-base35 fonts-staypuft"
)
FONT_SUFFIXES = (".ttf", ".otf")
# Fonts whose letters are symbols, or whose files hold only part of a font: their glyphs are not the text.
# Last Resort draws every character as a box naming it, Keyboard as a key cap, Initials as an ornament, and
# small capitals draw a-z as A-Z: none shows which character it is, or its case. Hairline faces (Thin,
# Light) fade to a grey smudge at captcha sizes, and the brush script Kristi draws S as J and c as e.
EXCLUDED_NAME_PARTS = ("symbol", "dingbat", "d050000l", "math", "emoji", "cmex", "cmsy", "stixsize", "stixnonuni",
                       "fontawesome", "opensymbol", "lastresort", "keyboard", "initials", "smallcaps", "thin", "light",
                       "kristi")
# The size glyphs are checked at: large enough that two different glyphs never give the same pixels.
CHECK_SIZE = 24
# The characters checked: digits, capitals and small letters of every shape class. Checking all 62 takes
# seconds for a few hundred fonts, while a font lacking some of them lacks a whole class (digits, a case).
PROBE_CHARACTERS = "058AGQWagqz"


def font_search_path():
    """The folders searched for fonts, in order (see the module's docstring); those absent are kept."""
    folders = [folder for folder in os.environ.get(FONT_PATH_VARIABLE, "").split(os.pathsep) if folder]
    folders.append(REPOSITORY_FONTS)
    folders.extend(os.path.expanduser(folder) for folder in SYSTEM_FONT_FOLDERS)
    for package, inside in PACKAGE_FONT_FOLDERS:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(os.path.join(location, inside) for location in spec.submodule_search_locations)
    return folders


def _font_files(folders):
    files = []
    for folder in folders:
        for root, _, names in sorted(os.walk(folder)):
            files.extend(os.path.join(root, name) for name in sorted(names) if name.lower().endswith(FONT_SUFFIXES))
    return files


def _glyph_pixels(font, character):
    left, top, right, bottom = font.getbbox(character)
    if right <= left or bottom <= top:
        return None
    image = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(image).text((-left, -top), character, font=font, fill=255)
    return image.tobytes(), image.size


def _draws_charset(font):
    # A character the font lacks is drawn as its "missing glyph" box, the same for all of them,
    # so a glyph identical to that of a private-use character is one the font does not have.
    missing = _glyph_pixels(font, "\ue000")
    glyphs = [_glyph_pixels(font, character) for character in PROBE_CHARACTERS]
    return all(glyph is not None and glyph != missing for glyph in glyphs)


@functools.cache
def _usable_fonts(folders):
    usable = {}
    for path in _font_files(folders):
        try:
            font = ImageFont.truetype(path, CHECK_SIZE)
        except OSError:  # A file FreeType cannot read: a broken or unsupported font is not one to draw in.
            continue
        family, face = font.getname()
        name = f"{family} {face}"
        spellings = (os.path.basename(path) + name).lower().replace(" ", "")
        if any(part in spellings for part in EXCLUDED_NAME_PARTS):
            continue
        # The first folder of the search path wins, so a user's copy of a font replaces the system's.
        if name not in usable and family and _draws_charset(font):
            usable[name] = (family, path)
    return usable


def usable_fonts():
    """{font name ('DejaVu Sans Bold'): (family, path)} of the usable fonts found on the search path.

    Raises ValueError, saying what to install, when none is found.
    """
    fonts = _usable_fonts(tuple(font_search_path()))
    if not fonts:
        raise ValueError(
            "No usable font (.ttf or .otf drawing 0-9, A-Z and a-z) was found in "
            f"{', '.join(font_search_path())}. Install some: `apt-get install {FONT_PACKAGES}`, "
            f"or `pip install matplotlib`, or put font files in {REPOSITORY_FONTS} or in a folder named "
            f"by ${FONT_PATH_VARIABLE}."
        )
    return fonts


def font_families():
    """{family: [font names]} of the usable fonts, families and names in a fixed (sorted) order.

    Shared between calls (drawing asks for it every captcha): not to be changed.
    """
    usable_fonts()
    return _families(tuple(font_search_path()))


@functools.cache
def _families(folders):
    families = {}
    for name, (family, _) in sorted(_usable_fonts(folders).items()):
        families.setdefault(family, []).append(name)
    return dict(sorted(families.items()))


def font_path(name):
    """The file of the usable font called `name`; ValueError naming the fonts found when there is none."""
    fonts = usable_fonts()
    if name not in fonts:
        raise ValueError(f"No usable font is called {name!r}; found {len(fonts)}: {', '.join(sorted(fonts))}.")
    return fonts[name][1]


@functools.lru_cache(maxsize=512)
def load_font(name, size):
    """The font called `name` at `size` pixels, loaded once per process."""
    return ImageFont.truetype(font_path(name), size)
