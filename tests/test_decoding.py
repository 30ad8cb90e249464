"""The batch decoding against a plain reference: one image at a time, one column at a time.

`decoding.read_characters` decodes a whole batch with array operations; the reference
here reads each image on its own with Python loops (greedy decoding, then, where that
reads a length out of range, a search over every (characters read, symbol) state), so
the two share no code. Random logits cover blanks only, long repeats, too many and too
few characters, variable lengths, and heads.
"""

import numpy as np
import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.reading import decoding
from captcha_model.reading.solver import Solver


def reference_collapse(log_probabilities, path, blank):
    characters, previous = [], blank
    for frame, symbol in enumerate(path):
        probability = float(np.exp(log_probabilities[frame, symbol]))
        if symbol != blank and symbol != previous:
            characters.append([symbol, [frame], probability])
        elif symbol != blank:
            characters[-1][1].append(frame)
            characters[-1][2] = max(characters[-1][2], probability)
        previous = symbol
    return [(symbol, tuple(frames), probability) for symbol, frames, probability in characters]


def reference_best_path(log_probabilities, blank, min_length, max_length):
    """The most probable path reading min_length..max_length characters, or None: every state kept."""
    states = {(0, blank): (0.0, [])}
    for column in log_probabilities:
        following = {}
        for (count, last), (score, path) in states.items():
            for symbol, value in enumerate(column):
                key = (count + (symbol != blank and symbol != last), symbol)
                if key[0] <= max_length and (key not in following or score + value > following[key][0]):
                    following[key] = (score + value, path + [symbol])
        states = following
    accepted = [(score, path) for (count, _), (score, path) in states.items() if count >= min_length]
    return max(accepted)[1] if accepted else None


def reference_read(logits, config):
    """Per image, (class index, frames, confidence) of each character, as CTC reads it."""
    blank, images = config.num_classes, []
    for image in decoding.log_softmax(logits.astype(np.float64)):
        path = [int(symbol) for symbol in image.argmax(axis=-1)]
        characters = reference_collapse(image, path, blank)
        if not config.min_length <= len(characters) <= config.max_length:
            best = reference_best_path(image, blank, config.min_length, config.max_length)
            if best is not None:
                characters = reference_collapse(image, best, blank)
        images.append(characters)
    return images


def peaked_logits(random, images, frames, symbols, blank_share):
    """Logits whose columns each favour one symbol (the blank with probability `blank_share`), with noise."""
    favoured = np.where(random.random((images, frames)) < blank_share, symbols - 1,
                        random.integers(0, symbols - 1, (images, frames)))
    # Runs of one symbol: each column repeats the one before it half the time.
    for frame in range(1, frames):
        repeat = random.random(images) < 0.5
        favoured[repeat, frame] = favoured[repeat, frame - 1]
    logits = random.normal(0.0, 1.5, (images, frames, symbols))
    logits[np.arange(images)[:, None], np.arange(frames), favoured] += random.uniform(0.0, 6.0, (images, frames))
    return logits.astype(np.float32)


def edge_cases(random, frames, symbols):
    """Blanks only; one symbol in every column; a symbol in every column, alternating with blanks.

    Noise parts the symbols a column does not favour, so that one path is the most probable.
    """
    blank = symbols - 1
    columns = [[blank] * frames, [0] * frames, [frame % 2 * blank for frame in range(frames)]]
    logits = np.stack([np.eye(symbols)[column] * 8.0 for column in columns])
    return (logits + random.normal(0.0, 0.5, logits.shape)).astype(np.float32)


def assert_same_characters(found, expected):
    assert len(found) == len(expected)
    for found_characters, expected_characters in zip(found, expected):
        assert [(index, frames) for index, frames, _ in found_characters] == \
            [(index, frames) for index, frames, _ in expected_characters]
        np.testing.assert_allclose([confidence for _, _, confidence in found_characters],
                                   [confidence for _, _, confidence in expected_characters], rtol=1e-12)


@pytest.mark.parametrize("min_length, max_length, frames", [(4, 4, 11), (1, 8, 22), (3, 6, 11), (2, 3, 5)])
def test_batch_ctc_decoding_reads_as_the_reference_does(min_length, max_length, frames):
    config = CaptchaConfig(charset="0123456", min_length=min_length, max_length=max_length)
    symbols = config.num_classes + 1
    random = np.random.default_rng(frames * 10 + max_length)
    logits = np.concatenate([edge_cases(random, frames, symbols)]
                            + [peaked_logits(random, 60, frames, symbols, share) for share in (0.2, 0.5, 0.8, 0.95)])
    expected = reference_read(logits, config)
    characters = decoding.read_characters(logits, config)
    assert_same_characters(characters.per_image(), expected)
    # The batch holds readings of every kind: lengths read greedily out of range are searched again.
    greedy = [len(reference_collapse(image, image.argmax(axis=-1), config.num_classes))
              for image in decoding.log_softmax(logits.astype(np.float64))]
    assert any(length < min_length for length in greedy) and any(length > max_length for length in greedy)
    assert {len(image) for image in expected} >= set(range(min_length, min(max_length, frames) + 1))
    readings = decoding.readings(characters, config)
    assert [reading.text for reading in readings] == \
        ["".join(config.charset[index] for index, _, _ in image) for image in expected]
    for reading in readings:
        assert reading.confidence == (pytest.approx(np.prod(reading.character_confidences), rel=1e-12)
                                      if reading.text else 0.0)


def test_five_characters_cannot_fit_in_three_columns_so_greedy_reading_stays():
    config = CaptchaConfig(charset="0123456", min_length=5, max_length=5)
    logits = peaked_logits(np.random.default_rng(1), 20, 3, config.num_classes + 1, 0.3)
    assert_same_characters(decoding.read_characters(logits, config).per_image(), reference_read(logits, config))
    # A batch of blanks only reads nothing at all.
    blanks = edge_cases(np.random.default_rng(1), 3, config.num_classes + 1)[:1].repeat(2, axis=0)
    assert [reading.text for reading in decoding.decode_outputs(blanks, config)] == ["", ""]


def test_a_single_image_reads_as_it_does_in_a_batch():
    config = CaptchaConfig(charset="0123456", min_length=3, max_length=6)
    logits = peaked_logits(np.random.default_rng(2), 40, 11, config.num_classes + 1, 0.5)
    batch = decoding.decode_outputs(logits, config)
    assert [decoding.decode_outputs(logits[row : row + 1], config)[0] for row in range(len(logits))] == batch


def test_batch_heads_decoding_reads_as_the_reference_does():
    config = CaptchaConfig(architecture="seed", charset="0123456789", min_length=4, max_length=4)
    random = np.random.default_rng(3)
    heads = [random.dirichlet(np.ones(10), size=30).astype(np.float32) for _ in range(4)]
    expected = [[(int(head[row].argmax()), (position,), float(head[row].max())) for position, head in enumerate(heads)]
                for row in range(30)]
    assert decoding.read_characters(heads, config).per_image() == expected


class RecordedNetwork:
    """Stands in for a network: the rows of `outputs` (heads: a list, one array a head) that its inputs index."""

    runtime, parameters, model, lanes = "onnx", 0, None, 1

    def __init__(self, outputs):
        self.outputs = outputs

    def __call__(self, inputs):
        rows = inputs[:, 0, 0, 0]
        return [head[rows] for head in self.outputs] if isinstance(self.outputs, list) else self.outputs[rows]


@pytest.mark.parametrize("architecture", ["default", "seed"])
def test_a_batch_read_in_chunks_reads_as_in_one(architecture):
    config = CaptchaConfig(architecture=architecture, charset="0123456", min_length=4, max_length=4)
    random = np.random.default_rng(4)
    if architecture == "seed":
        outputs = [random.dirichlet(np.ones(7), size=10).astype(np.float32) for _ in range(4)]
    else:
        outputs = peaked_logits(random, 10, 11, config.num_classes + 1, 0.5)
    # Each input says which row of the recorded outputs is its own.
    inputs = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, axis=1)
    solver = Solver(RecordedNetwork(outputs), config, "recorded outputs", batch_size=3)
    assert solver.solve_inputs(inputs) == decoding.decode_outputs(outputs, config)
    assert solver.solve_inputs(inputs[:0]) == []
