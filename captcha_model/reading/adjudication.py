"""A referee's decisions, whatever runs its network: `Referee.adjudicate`.

A referee (see `captcha_model.networks.referee`, which trains and stores them) is a small CNN that
looks at one glyph, cropped from the network input around the CTC columns that emitted
it, and decides again between the two characters of its pair. This module holds what
solving needs of it, the config, the crops and the sum of opinions, with NumPy only, so
the Keras and ONNX runtimes adjudicate with the same code.
"""


import numpy as np

from captcha_model.reading import decoding


def crop_glyphs(inputs, rows, centers, width):
    """Crops `width` pixels wide of `inputs[rows]`, centred on `centers`; white beyond the edges.

    The only path from network input to referee input, shared by training and solving.
    """
    # Left edges rounded half to even, as Python's round does.
    lefts = np.round(np.asarray(centers, dtype=np.float64) - width / 2).astype(int)
    crops = np.full((len(lefts), inputs.shape[1], width, inputs.shape[3]), 255, dtype=inputs.dtype)
    # One slice copy a glyph: faster than gathering every pixel by index, and than padding the batch.
    for crop, row, left in zip(crops, np.asarray(rows).tolist(), lefts.tolist()):
        start = max(left, 0)
        end = max(min(left + width, inputs.shape[2]), start)
        crop[:, start - left : end - left] = inputs[row, :, start:end]
    return crops


def crops_across(inputs, centers, width):
    """Crops `width` pixels wide around each of `centers` in every image of `inputs`, image after image."""
    return crop_glyphs(inputs, np.repeat(np.arange(len(inputs)), len(centers)), np.tile(centers, len(inputs)), width)


def column_centers(first_frames, last_frames, input_width, columns):
    """The input pixels at the middle of the CTC columns first_frames..last_frames of `columns`."""
    return ((np.asarray(first_frames) + np.asarray(last_frames)) / 2 + 0.5) * input_width / columns


def glyph_crops(inputs, characters, cases, columns, width):
    """Crops `width` pixels wide of `inputs` around the characters `cases` of `characters` (a
    `decoding.Characters` read from network outputs of `columns` columns)."""
    centers = column_centers(characters.first_frames[cases], characters.last_frames[cases], inputs.shape[2], columns)
    return crop_glyphs(inputs, characters.rows[cases], centers, width)


def pair_indices(config, referee_config):
    return [config.charset.index(character) for character in referee_config.characters]


def case_frames(rows, first_frames, last_frames):
    """Every (image, frame) of the runs of columns first_frames..last_frames of images `rows`, run after run,
    and where each run starts among them."""
    lengths = last_frames - first_frames + 1
    starts = np.cumsum(lengths) - lengths
    run = np.repeat(np.arange(len(lengths)), lengths)
    return rows[run], first_frames[run] + np.arange(len(run)) - starts[run], starts


def margins(log_probabilities, frames, pair):
    """log p(second) - log p(first), averaged over the frames of each run (from `case_frames`)."""
    first, second = pair
    rows, columns, starts = frames
    differences = log_probabilities[rows, columns, second] - log_probabilities[rows, columns, first]
    return np.add.reduceat(differences, starts) / np.diff(np.append(starts, len(rows)))


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

    def with_network(self, network):
        """The same referee run by another `network` (a copy of this one's)."""
        return Referee(network, self.config, self.referee_config, self.batch_size)

    def adjudicate(self, inputs, outputs, characters):
        """Revise the `decoding.Characters` read in `inputs`: each character of the pair is decided again.

        Its confidence becomes the main network's probability of the pair (the sum of the
        two, in the column where that is highest) times the probability that the sum of
        opinions gives the chosen one of the two.
        """
        cases = ((characters.indices == self.pair[0]) | (characters.indices == self.pair[1])).nonzero()[0]
        if not len(cases):
            return characters
        rows, first_frames, last_frames = (characters.rows[cases], characters.first_frames[cases],
                                           characters.last_frames[cases])
        # Log probabilities of the cases' images only, one image per case.
        log_probabilities = decoding.log_softmax(np.asarray(outputs)[rows].astype(np.float64))
        crops = glyph_crops(inputs, characters, cases, log_probabilities.shape[1], self.referee_config.crop_width)
        logits = np.concatenate([
            np.asarray(self.network(crops[start : start + self.batch_size]), dtype=np.float64)
            for start in range(0, len(crops), self.batch_size)
        ])[:, 0]
        frames = case_frames(np.arange(len(cases)), first_frames, last_frames)
        scores = logits + self.referee_config.main_weight * margins(log_probabilities, frames, self.pair)
        frame_rows, columns, starts = frames
        pair_probabilities = np.maximum.reduceat(
            np.exp(log_probabilities[frame_rows[:, None], columns[:, None], self.pair]).sum(axis=-1), starts)
        second_probabilities = 1.0 / (1.0 + np.exp(-scores))
        chosen = np.where(scores > 0, self.pair[1], self.pair[0])
        confidences = pair_probabilities * np.where(scores > 0, second_probabilities, 1.0 - second_probabilities)
        return characters.revised(cases, chosen, confidences)
