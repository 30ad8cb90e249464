"""`open_image`, the one door for images from outside: bytes, paths and pictures decoded, anything else refused
with a message that says what is accepted."""

import pytest
from PIL import Image

from captcha_model import image_input
from captcha_model.image_input import open_image


@pytest.mark.parametrize("file_format", image_input.ACCEPTED_FORMATS)
def test_each_accepted_format_is_decoded_from_bytes_and_from_a_path(tmp_path, file_format):
    path = tmp_path / f"captcha.{file_format.lower()}"
    Image.new("RGB", (60, 20), (40, 120, 200)).save(path, format=file_format)
    for source in (path, str(path), path.read_bytes(), bytearray(path.read_bytes())):
        image = open_image(source)
        assert (image.format, image.size) == (file_format, (60, 20))


def test_a_picture_is_taken_as_it_is():
    picture = Image.new("L", (30, 10), 255)
    assert open_image(picture) is picture


def test_other_formats_and_other_types_are_refused_with_what_is_accepted(tmp_path):
    path = tmp_path / "captcha.ppm"
    Image.new("RGB", (8, 8)).save(path, format="PPM")
    with pytest.raises(ValueError, match="PPM images are not accepted; accepted formats are PNG, JPEG, GIF, WEBP, BMP, "
                                         "TIFF"):
        open_image(path)
    with pytest.raises(ValueError, match="Expected image bytes, a file path or a PIL image, got list"):
        open_image([path.read_bytes()])
    with pytest.raises(ValueError, match="No image file at '.*missing.png'"):
        open_image(tmp_path / "missing.png")


def test_files_and_canvases_beyond_the_limits_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(image_input, "MAX_FILE_BYTES", 2**20)
    path = tmp_path / "large.png"
    path.write_bytes(bytes(2**20 + 1))
    with pytest.raises(ValueError, match="large.png is larger than the 1 MB accepted"):
        open_image(path)
    with pytest.raises(ValueError, match="The image is larger than the 1 MB accepted"):
        open_image(path.read_bytes())
    # A picture handed over whole is measured in pixels only.
    with pytest.raises(ValueError, match="The image is 4097x4096; at most 16,777,216 pixels"):
        open_image(Image.new("1", (4097, 4096)))
    with pytest.raises(ValueError, match="The image is 0x5; it needs at least one pixel"):
        open_image(Image.new("L", (0, 5)))
