"""Untrusted image input: files, bytes or pictures that visitors and users send, decoded or refused.

`open_image` is the one door every image from outside comes in by (the app's uploads,
bulk requests, labelled folders, the CLI): it accepts the formats captchas come in, and
refuses with a ValueError that says what is accepted anything else, a damaged file, or a
canvas too large to decode safely.
"""

import io
import os

from PIL import Image

# Uploads beyond these limits are refused before they are decoded: a small file can
# claim a huge canvas (a decompression bomb), and no captcha needs either.
MAX_FILE_BYTES = 10 * 2**20
MAX_PIXELS = 4096 * 4096
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
ACCEPTED_FORMATS_TEXT = ", ".join(ACCEPTED_FORMATS)


def open_image(source):
    """Bytes, a file path or a PIL image -> a decoded PIL image, or ValueError saying why not."""
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, (str, os.PathLike)):
            if not os.path.isfile(source):
                raise ValueError(f"No image file at {str(source)!r}.")
            if os.path.getsize(source) > MAX_FILE_BYTES:
                raise ValueError(f"{source} is larger than the {MAX_FILE_BYTES // 2**20} MB accepted.")
            with open(source, "rb") as handle:
                source = handle.read()
        if not isinstance(source, (bytes, bytearray)):
            raise ValueError(f"Expected image bytes, a file path or a PIL image, got {type(source).__name__}.")
        if len(source) > MAX_FILE_BYTES:
            raise ValueError(f"The image is larger than the {MAX_FILE_BYTES // 2**20} MB accepted.")
        if not source:
            raise ValueError("The file is empty; expected a PNG, JPEG, GIF, WebP, BMP or TIFF image.")
        try:
            image = Image.open(io.BytesIO(source))
        except Image.DecompressionBombError:
            raise ValueError(
                f"The image claims a canvas far beyond the {MAX_PIXELS:,} pixels accepted (e.g. 4096x4096)."
            ) from None
        except (Image.UnidentifiedImageError, OSError):
            raise ValueError(
                f"Could not read the file as an image; accepted formats are {ACCEPTED_FORMATS_TEXT}."
            ) from None
        if image.format not in ACCEPTED_FORMATS:
            raise ValueError(f"{image.format} images are not accepted; accepted formats are {ACCEPTED_FORMATS_TEXT}.")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValueError(f"The image is {width}x{height}; at most {MAX_PIXELS:,} pixels (e.g. 4096x4096) are accepted.")
    if width < 1 or height < 1:
        raise ValueError(f"The image is {width}x{height}; it needs at least one pixel.")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(
            f"The image data is damaged or truncated ({error}); upload the whole file: "
            f"accepted formats are {ACCEPTED_FORMATS_TEXT}."
        ) from None
    return image
