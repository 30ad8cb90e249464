"""Reading network outputs: texts, the columns each character came from, and confidences.

Both runtimes (Keras and ONNX Runtime, see `captcha_model.runtime`) hand their network's
outputs to these functions, so a reading is computed by one piece of code whatever ran the
network. Two output kinds exist (see `config.ARCHITECTURES`):

- "heads": one softmax per character position (the tutorial's four classifiers);
- "ctc": per-column logits over the charset plus a blank, read with CTC.

Only NumPy is needed here.
"""

import dataclasses

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


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def read_characters(outputs, config):
    """Model outputs for a batch -> per image, the characters read as (class index, frames, confidence).

    `frames` are the output positions that emitted the character: the CTC columns of its
    run (repeats merge, blanks separate), or the head's own position. A character's
    confidence is its probability (for CTC: the highest over its columns).

    CTC readings take the most probable symbol of every column (greedy decoding) unless
    that reads a number of characters the model was not trained for; then they take the
    most probable path that reads an accepted number (`best_path`).
    """
    if get_architecture(config.architecture).output_kind == "heads":
        probabilities = np.stack([np.asarray(head) for head in outputs], axis=1)
        return [
            [(int(row[position].argmax()), (position,), float(row[position].max())) for position in range(len(row))]
            for row in probabilities
        ]
    blank = config.num_classes
    images = []
    for log_probabilities in log_softmax(np.asarray(outputs, dtype=np.float64)):
        characters = _collapse(log_probabilities, log_probabilities.argmax(axis=-1), blank)
        if not config.min_length <= len(characters) <= config.max_length:
            path = best_path(log_probabilities, blank, config.min_length, config.max_length)
            if path is not None:
                characters = _collapse(log_probabilities, path, blank)
        images.append(characters)
    return images


def _collapse(log_probabilities, path, blank):
    """One symbol per column -> the characters it reads: repeats merge, blanks separate."""
    characters, previous = [], blank
    for frame, index in enumerate(path):
        probability = float(np.exp(log_probabilities[frame, index]))
        if index != blank and index != previous:
            characters.append([int(index), [frame], probability])
        elif index != blank:
            characters[-1][1].append(frame)
            characters[-1][2] = max(characters[-1][2], probability)
        previous = index
    return [(index, tuple(frames), confidence) for index, frames, confidence in characters]


def best_path(log_probabilities, blank, min_length, max_length):
    """The most probable CTC path (one symbol per column) that reads min_length..max_length characters.

    Greedy decoding reads one character too few where two equal characters touch and no
    column between them is blank ("ZZIS" as "ZIS"), or one too many where a glyph's
    columns split into two readings. This Viterbi pass over the states (characters read
    so far, symbol of the current column) finds the best path among those of an accepted
    length. Returns None when no such path fits in the columns.
    """
    frames, symbols = log_probabilities.shape
    every_symbol = np.arange(symbols)
    characters = every_symbol != blank
    score = np.full((max_length + 1, symbols), -np.inf)
    score[0, blank] = 0.0  # Before the first column nothing is read, as after a blank.
    # came_from[frame, count, symbol] = the (count, symbol) state of the previous column.
    came_from = np.zeros((frames, max_length + 1, symbols, 2), dtype=int)
    for frame in range(frames):
        new_score = np.full_like(score, -np.inf)
        for count in range(max_length + 1):
            # A column of the same symbol continues the current character (or blank run).
            new_score[count] = score[count]
            came_from[frame, count, :, 0] = count
            came_from[frame, count, :, 1] = every_symbol
            # A blank may follow anything and reads nothing.
            best = int(score[count].argmax())
            new_score[count, blank] = score[count, best]
            came_from[frame, count, blank, 1] = best
            if count == 0:
                continue
            # A character other than the previous column's symbol starts the count-th character.
            first, second = np.argsort(score[count - 1])[::-1][:2]
            start_from = np.where(every_symbol == first, second, first)
            starts = score[count - 1, start_from]
            better = characters & (starts > new_score[count])
            new_score[count, better] = starts[better]
            came_from[frame, count, better, 0] = count - 1
            came_from[frame, count, better, 1] = start_from[better]
        score = new_score + log_probabilities[frame]
    accepted = score[min_length:]
    if not np.isfinite(accepted).any():
        return None
    count, symbol = np.unravel_index(accepted.argmax(), accepted.shape)
    count += min_length
    path = []
    for frame in reversed(range(frames)):
        path.append(int(symbol))
        count, symbol = came_from[frame, count, symbol]
    return path[::-1]


def decode_outputs(outputs, config):
    """Model outputs for a batch -> one `Reading` per image.

    A character's confidence is its probability (for CTC: the highest over the
    columns that emitted it); the text's confidence is their product.
    """
    return readings(read_characters(outputs, config), config)


def readings(images_characters, config):
    """`read_characters` results -> one `Reading` per image."""
    return [
        _reading([index for index, _, _ in characters], [confidence for _, _, confidence in characters], config)
        for characters in images_characters
    ]


def _reading(indices, confidences, config):
    text = "".join(config.charset[int(index)] for index in indices)
    confidences = tuple(float(value) for value in confidences)
    return Reading(text=text, confidence=float(np.prod(confidences)) if confidences else 0.0,
                   character_confidences=confidences)
