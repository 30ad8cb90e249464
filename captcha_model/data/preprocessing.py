"""Texts to class indices and back, and `preprocess`: the one path from an image to network input.

Training, evaluation, the command line and the app all turn images into network input
through `preprocess`, so what the model sees when serving is exactly what it saw when
training.
"""

import numpy as np
from PIL import Image


def check_text(text, config):
    """Raise ValueError unless `text` could be a captcha of this config."""
    if not isinstance(text, str):
        raise ValueError(f"Captcha text must be a string, got {type(text).__name__}.")
    if not config.min_length <= len(text) <= config.max_length:
        accepted = (
            f"exactly {config.min_length}"
            if config.fixed_length
            else f"{config.min_length} to {config.max_length}"
        )
        raise ValueError(f"Captcha text must have {accepted} characters, got {len(text)} in {text!r}.")
    check_charset(f"Captcha text {text!r}", text, config)


def check_charset(subject, characters, config):
    """Raise ValueError, naming `subject` and the accepted characters, unless all are in the charset."""
    unknown = sorted(set(characters) - set(config.charset))
    if unknown:
        raise ValueError(
            f"{subject} has characters {''.join(unknown)!r} outside the charset; "
            f"accepted characters are {config.charset!r}."
        )


def encode_text(text, config):
    """Characters to class indices, e.g. '0A' -> [0, 10] with the default charset."""
    check_text(text, config)
    return np.array([config.charset.index(character) for character in text], dtype=np.int32)


def decode_indices(indices, config):
    """Class indices back to text; the inverse of `encode_text`."""
    for index in indices:
        if not 0 <= int(index) < config.num_classes:
            raise ValueError(f"Class index {index} is outside 0..{config.num_classes - 1}.")
    return "".join(config.charset[int(index)] for index in indices)


def encode_batch(texts, config):
    """Texts to a padded (N, max_length) int32 array and an (N,) array of lengths."""
    labels = np.zeros((len(texts), config.max_length), dtype=np.int32)
    lengths = np.zeros((len(texts),), dtype=np.int32)
    for row, text in enumerate(texts):
        encoded = encode_text(text, config)
        labels[row, : len(encoded)] = encoded
        lengths[row] = len(encoded)
    return labels, lengths


def normalize_mode(image, mode):
    """Any PIL image as an 8-bit `mode` ("L" or "RGB") image, transparency composited onto white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Wide integer and float images have no fixed white level: stretch their range.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        image = Image.fromarray(((values - low) * scale).astype(np.uint8))
    if image.mode == mode:
        return image
    if image.mode == "RGB":
        # Opaque RGB (every generated captcha) converts directly: the same pixels as the
        # compositing below, at a third of the cost.
        return image.convert(mode)
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert(mode)


def preprocess(images, config):
    """PIL images of any size and mode -> uint8 array (N, input_height, input_width, channels).

    This is the only path from an image to network input, shared by training,
    evaluation and serving. Scaling to [0, 1] happens inside the model.
    """
    if isinstance(images, Image.Image):
        raise ValueError("preprocess takes a list of PIL images, got a single image; wrap it in a list.")
    mode = "L" if config.input_channels == 1 else "RGB"
    batch = np.empty(
        (len(images), config.input_height, config.input_width, config.input_channels), dtype=np.uint8
    )
    for row, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise ValueError(f"Expected PIL images, got {type(image).__name__} at position {row}.")
        resized = normalize_mode(image, mode).resize(
            (config.input_width, config.input_height), Image.Resampling.BILINEAR
        )
        # The raw bytes are the pixels in the array's own layout, read without numpy's array interface.
        batch[row] = np.frombuffer(resized.tobytes(), dtype=np.uint8).reshape(batch.shape[1:])
    return batch
