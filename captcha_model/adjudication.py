"""A referee's decisions, whatever runs its network: `Referee.adjudicate`.

A referee (see `captcha_model.referee`, which trains and stores them) is a small CNN that
looks at one glyph, cropped from the network input around the CTC columns that emitted
it, and decides again between the two characters of its pair. This module holds what
solving needs of it, the config, the crops and the sum of opinions, with NumPy only, so
the Keras and ONNX runtimes adjudicate with the same code.
"""

import dataclasses
import json

import numpy as np

from captcha_model import decoding

# The entries of a model file (and the files of a Hub repo or an ONNX export's folder) that
# hold the referee's Keras network and its config.
MODEL_ENTRY = "referee.keras"
CONFIG_ENTRY = "referee_config.json"


@dataclasses.dataclass(frozen=True)
class RefereeConfig:
    """What a referee decides between and how it looks: saved beside its weights."""

    # The two characters it tells apart; its logit is positive for the second.
    characters: str = "0O"
    # Width of the crop in network-input pixels: 24 for a 40x88 input, whose 11 columns are
    # 8 pixels wide; twice that for an input twice as large (see CaptchaConfig.input_pooling).
    crop_width: int = 24
    # Channels of its three convolutional stages, and units of the dense layer after them:
    # small enough that a model file with its referee stays within 2 MB.
    widths: tuple = (32, 48, 64)
    dense_units: int = 48
    # Weight of the main network's margin in the sum that decides.
    main_weight: float = 1.0

    def __post_init__(self):
        if len(self.characters) != 2 or self.characters[0] == self.characters[1]:
            raise ValueError(f"A referee tells two different characters apart, e.g. '0O'; got {self.characters!r}.")
        if self.crop_width < 8:
            raise ValueError(f"crop_width must be at least 8 pixels, got {self.crop_width}.")
        widths = tuple(int(width) for width in self.widths)
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths must be three positive channel counts, e.g. (32, 48, 64); got {widths}.")
        object.__setattr__(self, "widths", widths)
        if self.dense_units < 1:
            raise ValueError(f"dense_units must be positive, got {self.dense_units}.")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def crop_glyphs(inputs, rows, centers, width):
    """Crops `width` pixels wide of `inputs[rows]`, centred on `centers`; white beyond the edges.

    The only path from network input to referee input, shared by training and solving.
    """
    padded = np.pad(inputs, ((0, 0), (0, 0), (width, width), (0, 0)), constant_values=255)
    crops = np.empty((len(rows), inputs.shape[1], width, inputs.shape[3]), dtype=inputs.dtype)
    for position, (row, center) in enumerate(zip(rows, centers)):
        left = int(round(center - width / 2)) + width
        crops[position] = padded[row, :, left : left + width]
    return crops


def column_center(frames, input_width, columns):
    """The input pixel at the middle of the CTC columns `frames` of `columns`."""
    return (float(np.mean(frames)) + 0.5) * input_width / columns


def pair_indices(config, referee_config):
    return [config.charset.index(character) for character in referee_config.characters]


def margins(log_probabilities, cases, pair):
    """log p(second) - log p(first), averaged over each case's frames."""
    first, second = pair
    return np.array([
        np.mean([log_probabilities[row, frame, second] - log_probabilities[row, frame, first] for frame in frames])
        for row, frames in cases
    ])


class Referee:
    """A trained referee for a main model: `adjudicate` revises what that model read.

    `network` runs the referee's CNN: a callable from uint8 crops to their logits, with
    the `runtime.Network` attributes (a Keras or an ONNX Runtime network).
    """

    def __init__(self, network, config, referee_config, batch_size=512):
        self.network = network
        self.batch_size = batch_size
        self.config = config
        self.referee_config = referee_config
        self.pair = pair_indices(config, referee_config)

    def adjudicate(self, inputs, outputs, images_characters):
        """Revise `read_characters` results for `inputs`: each character of the pair is decided again.

        Its confidence becomes the main network's probability of the pair (the sum of the
        two, in the column where that is highest) times the probability that the sum of
        opinions gives the chosen one of the two.
        """
        cases = [(row, position, frames)
                 for row, characters in enumerate(images_characters)
                 for position, (index, frames, _) in enumerate(characters) if index in self.pair]
        if not cases:
            return images_characters
        outputs = np.asarray(outputs, dtype=np.float64)
        log_probabilities = decoding.log_softmax(outputs)
        centers = [column_center(frames, self.config.input_width, outputs.shape[1]) for _, _, frames in cases]
        crops = crop_glyphs(inputs, [row for row, _, _ in cases], centers, self.referee_config.crop_width)
        logits = np.concatenate([
            np.asarray(self.network(crops[start : start + self.batch_size]), dtype=np.float64)
            for start in range(0, len(crops), self.batch_size)
        ])[:, 0]
        main_margins = margins(log_probabilities, [(row, frames) for row, _, frames in cases], self.pair)
        scores = logits + self.referee_config.main_weight * main_margins
        revised = [list(characters) for characters in images_characters]
        for (row, position, frames), score in zip(cases, scores):
            pair_probability = max(float(np.exp(log_probabilities[row, frame, self.pair]).sum()) for frame in frames)
            second_probability = 1.0 / (1.0 + np.exp(-score))
            chosen = self.pair[1] if score > 0 else self.pair[0]
            confidence = pair_probability * (second_probability if score > 0 else 1.0 - second_probability)
            revised[row][position] = (chosen, frames, confidence)
        return revised
