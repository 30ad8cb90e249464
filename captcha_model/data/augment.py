"""Random distortions of training inputs, so that a few thousand labelled captchas teach like many more.

A site draws its captchas with some randomness of its own (position, angle, stretch, noise,
colours); a model trained on a few thousand of them learns those few exactly unless each
pass shows them a little differently. `augment` moves, turns, shears and scales each input
slightly, changes its contrast and brightness, and adds pixel noise. It works on the uint8
arrays that `data.preprocess` makes, after preprocessing, so serving never sees it.
"""

import dataclasses

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """How far each distortion may go; every value is drawn uniformly up to its bound."""

    rotation_degrees: float = 4.0
    shear: float = 0.15
    scale: float = 0.05  # a factor in [1 - scale, 1 + scale], drawn apart for width and height
    # A share of the input's width and height; small, as captcha text often fills the width.
    shift: float = 0.03
    contrast: float = 0.25
    brightness: float = 25.0  # in pixel levels of 0-255
    noise: float = 8.0  # the largest standard deviation of Gaussian pixel noise, in levels


def _affine(image, rng, augmentation):
    """The PIL affine coefficients that map output pixels to input pixels for one random distortion."""
    height, width = image.shape[:2]
    angle = np.radians(rng.uniform(-augmentation.rotation_degrees, augmentation.rotation_degrees))
    shear = rng.uniform(-augmentation.shear, augmentation.shear)
    scale_x, scale_y = 1 + rng.uniform(-augmentation.scale, augmentation.scale, size=2)
    shift_x = rng.uniform(-augmentation.shift, augmentation.shift) * width
    shift_y = rng.uniform(-augmentation.shift, augmentation.shift) * height
    # Output -> input: the inverse of scale, then shear, then rotate, about the centre.
    cosine, sine = np.cos(angle), np.sin(angle)
    forward = np.array([[cosine, -sine], [sine, cosine]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([scale_x, scale_y])
    inverse = np.linalg.inv(forward)
    centre = np.array([width / 2, height / 2])
    offset = centre - inverse @ (centre + np.array([shift_x, shift_y]))
    return (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])


def _background(image):
    """The median of the border pixels: the colour that fills what a distortion uncovers."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return tuple(int(value) for value in np.median(border.reshape(-1, image.shape[2]), axis=0))


def augment(inputs, rng, augmentation=Augmentation()):
    """A randomly distorted copy of a uint8 batch (N, height, width, channels), drawn from `rng`."""
    if inputs.dtype != np.uint8 or inputs.ndim != 4:
        raise ValueError("augment takes a uint8 batch (N, height, width, channels), "
                         f"got {inputs.dtype} {inputs.shape}.")
    height, width, channels = inputs.shape[1:]
    mode = "L" if channels == 1 else "RGB"
    output = np.empty(inputs.shape, dtype=np.float32)
    for row, image in enumerate(inputs):
        fill = _background(image)
        picture = Image.fromarray(image[..., 0] if channels == 1 else image, mode)
        moved = picture.transform((width, height), Image.Transform.AFFINE, _affine(image, rng, augmentation),
                                  Image.Resampling.BILINEAR, fillcolor=fill[0] if channels == 1 else fill)
        output[row] = np.asarray(moved, dtype=np.float32).reshape(height, width, channels)
    contrast = 1 + rng.uniform(-augmentation.contrast, augmentation.contrast, size=(len(inputs), 1, 1, 1))
    brightness = rng.uniform(-augmentation.brightness, augmentation.brightness, size=(len(inputs), 1, 1, 1))
    mean = output.mean(axis=(1, 2, 3), keepdims=True)
    output = (output - mean) * contrast + mean + brightness
    output += rng.standard_normal(output.shape, dtype=np.float32) * rng.uniform(0, augmentation.noise,
                                                                                size=(len(inputs), 1, 1, 1))
    return np.clip(np.rint(output), 0, 255).astype(np.uint8)
