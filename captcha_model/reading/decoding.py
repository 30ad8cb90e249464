"""Reading network outputs: texts, the columns each character came from, and confidences.

Both runtimes (Keras and ONNX Runtime, see `captcha_model.reading.runtime`) hand their network's
outputs to these functions, so a reading is computed by one piece of code whatever ran the
network. Two output kinds exist (see `config.ARCHITECTURES`):

- "heads": one softmax per character position (the tutorial's four classifiers);
- "ctc": per-column logits over the charset plus a blank, read with CTC.

A batch is decoded as a whole with NumPy, with no Python loop over its images: its
characters are kept flat in a `Characters`. Only NumPy is needed here.
"""

import dataclasses
import itertools
import math

import numpy as np

from captcha_model.config import get_architecture


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the network read in one image."""

    text: str
    confidence: float
    character_confidences: tuple

    def characters(self):
        """(character, confidence) pairs, in reading order."""
        return list(zip(self.text, self.character_confidences))


@dataclasses.dataclass(frozen=True)
class Characters:
    """The characters read in a batch of images, one entry per character, image after image.

    Character k is class `indices[k]` of image `rows[k]`, emitted by the output positions
    `first_frames[k]..last_frames[k]` (a CTC character's run of columns, or a head's own
    position), with probability `confidences[k]`; `counts` says how many each image has.
    """

    counts: np.ndarray
    indices: np.ndarray
    first_frames: np.ndarray
    last_frames: np.ndarray
    confidences: np.ndarray

    @property
    def rows(self):
        return np.repeat(np.arange(len(self.counts)), self.counts)

    @property
    def offsets(self):
        """Where each image's characters start, and after the last, where they end (a list)."""
        return [0, *itertools.accumulate(self.counts.tolist())]

    def revised(self, positions, indices, confidences):
        """A copy in which the characters at `positions` are `indices` read with `confidences`."""
        new_indices, new_confidences = self.indices.copy(), self.confidences.copy()
        new_indices[positions], new_confidences[positions] = indices, confidences
        return dataclasses.replace(self, indices=new_indices, confidences=new_confidences)

    def per_image(self):
        """Per image, its characters as (class index, frames, confidence) tuples, in reading order."""
        characters = [(index, tuple(range(first, last + 1)), confidence) for index, first, last, confidence
                      in zip(self.indices.tolist(), self.first_frames.tolist(), self.last_frames.tolist(),
                             self.confidences.tolist())]
        offsets = self.offsets
        return [characters[start:end] for start, end in zip(offsets[:-1], offsets[1:])]


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def read_characters(outputs, config):
    """Model outputs for a batch -> the `Characters` read in its images.

    A character's confidence is its probability (for CTC: the highest over its columns).
    CTC readings take the most probable symbol of every column (greedy decoding) unless
    that reads a number of characters the model was not trained for; then they take the
    most probable path that reads an accepted number (`best_paths`).
    """
    if get_architecture(config.architecture).output_kind == "heads":
        probabilities = np.stack([np.asarray(head) for head in outputs], axis=1)
        images, positions = probabilities.shape[:2]
        frames = np.tile(np.arange(positions), images)
        return Characters(counts=np.full(images, positions), indices=probabilities.argmax(axis=-1).ravel(),
                          first_frames=frames, last_frames=frames,
                          confidences=probabilities.max(axis=-1).ravel().astype(np.float64))
    blank = config.num_classes
    log_probabilities = log_softmax(np.asarray(outputs, dtype=np.float64))
    paths = log_probabilities.argmax(axis=-1)
    characters = collapse(log_probabilities, paths, blank)
    wrong = (characters.counts < config.min_length) | (characters.counts > config.max_length)
    if not wrong.any():
        return characters
    paths[wrong] = best_paths(log_probabilities[wrong], paths[wrong], blank, config.min_length, config.max_length)
    return collapse(log_probabilities, paths, blank)


def collapse(log_probabilities, paths, blank):
    """One symbol per column of each image -> the `Characters` they read: repeats merge, blanks separate."""
    emitting = paths != blank
    changes = np.empty_like(emitting)
    changes[:, :1] = True
    changes[:, 1:] = paths[:, 1:] != paths[:, :-1]
    rows, frames = np.nonzero(emitting)
    symbols = paths[rows, frames]
    # Among the emitting columns, in order, a character starts where the symbol changes (or after a
    # blank, or in a new image), and ends just before the next one starts.
    starts = changes[rows, frames]
    ends = np.empty_like(starts)
    ends[:-1], ends[-1:] = starts[1:], True
    probabilities = np.exp(log_probabilities[rows, frames, symbols])
    # A character's confidence is the largest probability over its run of columns.
    confidences = np.maximum.reduceat(probabilities, starts.nonzero()[0]) if len(probabilities) else probabilities
    return Characters(counts=np.bincount(rows[starts], minlength=len(paths)), indices=symbols[starts],
                      first_frames=frames[starts], last_frames=frames[ends], confidences=confidences)


def best_paths(log_probabilities, fallback, blank, min_length, max_length):
    """Per image, the most probable CTC path (one symbol per column) that reads min_length..max_length
    characters; its `fallback` path where no such path fits in the columns.

    Greedy decoding reads one character too few where two equal characters touch and no
    column between them is blank ("ZZIS" as "ZIS"), or one too many where a glyph's
    columns split into two readings. This Viterbi pass over the states (characters read
    so far, symbol of the current column), run for all images at once, finds the best path
    among those of an accepted length.
    """
    images, frames, symbols = log_probabilities.shape
    every_image, every_symbol = np.arange(images)[:, None], np.arange(symbols)
    characters = every_symbol != blank
    score = np.full((images, max_length + 1, symbols), -np.inf)
    score[:, 0, blank] = 0.0  # Before the first column nothing is read, as after a blank.
    # The (count, symbol) state of the previous column, per column and state.
    came_count = np.empty((frames, images, max_length + 1, symbols), dtype=int)
    came_symbol = np.empty_like(came_count)
    count_of_state = np.arange(max_length + 1)[:, None]
    for frame in range(frames):
        # A column of the same symbol continues the current character (or blank run).
        new_score, from_count, from_symbol = score.copy(), came_count[frame], came_symbol[frame]
        from_count[:] = count_of_state
        from_symbol[:] = every_symbol
        # A blank may follow anything and reads nothing.
        best = score.argmax(axis=-1)
        new_score[:, :, blank] = np.take_along_axis(score, best[..., None], axis=-1)[..., 0]
        from_symbol[:, :, blank] = best
        # A character other than the previous column's symbol starts the next character:
        # from the best symbol of one character fewer, or from the second best where that is itself.
        previous = score[:, :-1]
        ranked = np.argsort(previous, axis=-1)[..., ::-1]
        first, second = ranked[..., :1], ranked[..., 1:2]
        start_from = np.where(every_symbol == first, second, first)
        starts = np.take_along_axis(previous, start_from, axis=-1)
        better = characters & (starts > new_score[:, 1:])
        new_score[:, 1:][better] = starts[better]
        from_count[:, 1:][better] = np.broadcast_to(count_of_state[:-1], better.shape)[better]
        from_symbol[:, 1:][better] = start_from[better]
        score = new_score + log_probabilities[:, frame, None, :]
    accepted = score[:, min_length:].reshape(images, -1)
    best_state = accepted.argmax(axis=-1)
    count, symbol = best_state // symbols + min_length, best_state % symbols
    paths = np.empty((images, frames), dtype=fallback.dtype)
    for frame in reversed(range(frames)):
        paths[:, frame] = symbol
        count, symbol = (came_count[frame, every_image[:, 0], count, symbol],
                         came_symbol[frame, every_image[:, 0], count, symbol])
    return np.where(np.isfinite(accepted).any(axis=-1)[:, None], paths, fallback)


def decode_outputs(outputs, config):
    """Model outputs for a batch -> one `Reading` per image.

    A character's confidence is its probability (for CTC: the highest over the
    columns that emitted it); the text's confidence is their product.
    """
    return readings(read_characters(outputs, config), config)


def readings(characters, config):
    """`Characters` of a batch -> one `Reading` per image."""
    text = "".join([config.charset[index] for index in characters.indices.tolist()])
    confidences = characters.confidences.tolist()
    offsets = characters.offsets
    return [Reading(text=text[start:end], confidence=float(math.prod(confidences[start:end])) if end > start else 0.0,
                    character_confidences=tuple(confidences[start:end]))
            for start, end in zip(offsets[:-1], offsets[1:])]
