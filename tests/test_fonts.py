"""The fonts of the general captchas: searched for first in the folders of CAPTCHA_FONT_PATH, symbol fonts and
files that are not fonts passed over, families in a fixed order, and what to install when none is found."""

import shutil

import pytest

from captcha_model.data import fonts
from captcha_model.data.styles import GeneralStyle, draw_general


def isolate_search_path(monkeypatch, tmp_path, folder=None):
    """Fonts searched for only in `folder` (through CAPTCHA_FONT_PATH) and an empty repository folder."""
    monkeypatch.setattr(fonts, "SYSTEM_FONT_FOLDERS", ())
    monkeypatch.setattr(fonts, "PACKAGE_FONT_FOLDERS", ())
    monkeypatch.setattr(fonts, "REPOSITORY_FONTS", str(tmp_path / "repository-fonts"))
    if folder is None:
        monkeypatch.delenv(fonts.FONT_PATH_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(fonts.FONT_PATH_VARIABLE, str(folder))


def test_no_font_found_says_what_to_install(monkeypatch, tmp_path):
    isolate_search_path(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match="apt-get install fonts-dejavu-core") as error:
        draw_general(0, 0, style=GeneralStyle())
    assert fonts.FONT_PATH_VARIABLE in str(error.value) and "pip install matplotlib" in str(error.value)


def test_fonts_are_found_first_in_the_folders_of_the_variable(monkeypatch, tmp_path):
    name = "DejaVu Sans Book" if "DejaVu Sans Book" in fonts.usable_fonts() else sorted(fonts.usable_fonts())[0]
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(fonts.font_path(name), folder)
    # A file that is not a font is passed over, not an error.
    (folder / "broken.ttf").write_bytes(b"not a font")
    isolate_search_path(monkeypatch, tmp_path, folder)
    assert fonts.font_search_path()[0] == str(folder)
    assert list(fonts.usable_fonts()) == [name]
    text, image = draw_general(4, 4, style=GeneralStyle(font=name, mixed_fonts=True), text="Ab1")
    assert image.size == (160, 60)


def test_a_font_named_as_symbols_are_is_left_out(monkeypatch, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(fonts.font_path(sorted(fonts.usable_fonts())[0]), folder / "MyDingbats.ttf")
    isolate_search_path(monkeypatch, tmp_path, folder)
    with pytest.raises(ValueError, match="No usable font"):
        fonts.usable_fonts()


def test_families_hold_every_usable_font_once_in_a_fixed_order():
    families = fonts.font_families()
    usable = fonts.usable_fonts()
    assert list(families) == sorted(families)
    assert sorted(name for names in families.values() for name in names) == sorted(usable)
    assert all(usable[name][0] == family and names == sorted(names) for family, names in families.items()
               for name in names)
    # The same object for every captcha drawn.
    assert fonts.font_families() is families


def test_an_unknown_font_is_refused_naming_those_found():
    found = len(fonts.usable_fonts())
    with pytest.raises(ValueError, match=f"No usable font is called 'Nonesuch Sans'; found {found}: "):
        fonts.font_path("Nonesuch Sans")
