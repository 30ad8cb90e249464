"""Saliency maps: one per character read, drawn over the captcha, and honest."""

import numpy as np
import pytest

from captcha_model import load_solver
from captcha_model.data import preprocessing, rendering
from captcha_model.networks import model as model_lib
from captcha_model.reading import saliency
from captcha_model.reading.solver import BUNDLED_MODELS, Solver

SEED = 515151


def most_salient_box(heatmap, box_height, box_width):
    """(top, left) of the box with the largest heat sum, from a summed-area table."""
    table = np.pad(heatmap.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (table[box_height:, box_width:] - table[:-box_height, box_width:]
            - table[box_height:, :-box_width] + table[:-box_height, :-box_width])
    return np.unravel_index(sums.argmax(), sums.shape)


def masked(inputs, row, top, left, box_height, box_width):
    """Image `row` of `inputs` with a box painted white, the captchas' background."""
    copy = inputs[row : row + 1].copy()
    copy[0, top : top + box_height, left : left + box_width] = 255
    return copy


def test_one_map_per_character_read_with_the_readings_confidences(solver):
    images, _ = rendering.draw_range(solver.config, SEED, 0, 4)
    readings = solver.solve(images)
    explanations = saliency.explain(solver, images)
    for reading, characters in zip(readings, explanations):
        assert "".join(item.character for item in characters) == reading.text
        assert [item.confidence for item in characters] == pytest.approx(list(reading.character_confidences))
        for item in characters:
            assert item.heatmap.shape == (solver.config.input_height, solver.config.input_width)
            assert item.heatmap.min() >= 0 and item.heatmap.max() == pytest.approx(1.0)
    # Different characters are read in different places: their maps peak in different columns.
    peaks = [int(item.heatmap.sum(axis=0).argmax()) for item in explanations[0]]
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)


@pytest.mark.parametrize("name", sorted(BUNDLED_MODELS))
def test_masking_the_most_salient_region_costs_more_than_a_random_one(name):
    solver = load_solver(name)
    config = solver.config
    images, _ = rendering.draw_range(config.at(length=min(max(config.min_length, 4), config.max_length)), SEED, 0, 12)
    inputs = preprocessing.preprocess(images, config)
    explanations = saliency.explain_inputs(solver, inputs)
    baseline = saliency.score_characters(solver, inputs, explanations)
    box_height, box_width = config.input_height // 2, config.input_width // 8
    rng = np.random.default_rng(0)
    salient_drops, random_drops = [], []
    for row, characters in enumerate(explanations):
        for position, item in enumerate(characters):
            def drop(top, left, row=row, position=position, item=item):
                changed = masked(inputs, row, top, left, box_height, box_width)
                return baseline[row][position] - saliency.score_characters(solver, changed, [[item]])[0][0]

            salient_drops.append(drop(*most_salient_box(item.heatmap, box_height, box_width)))
            random_drops.append(np.mean([
                drop(rng.integers(0, config.input_height - box_height + 1),
                     rng.integers(0, config.input_width - box_width + 1))
                for _ in range(5)
            ]))
    salient_drops, random_drops = np.array(salient_drops), np.array(random_drops)
    assert len(salient_drops) >= 40
    assert salient_drops.mean() > random_drops.mean() + 0.2
    assert (salient_drops > random_drops).mean() > 0.7


def test_overlay_has_the_captchas_size_and_shows_the_heat(solver):
    _, image = rendering.sample_captcha(solver.config.at(160, 60), SEED)
    heatmap = np.zeros((solver.config.input_height, solver.config.input_width))
    heatmap[:, :10] = 1.0
    picture = saliency.overlay(image, heatmap)
    assert picture.size == image.size and picture.mode == "RGB"
    pixels = np.asarray(picture, dtype=float)
    # The hot left edge takes the colour map's hue; the cold rest stays gray.
    assert np.ptp(pixels[:, :5], axis=-1).mean() > 30
    assert np.ptp(pixels[:, -40:], axis=-1).mean() < 1


def test_per_character_heads_are_explained_too():
    config = model_lib.default_config("seed")
    solver = Solver(model_lib.KerasNetwork(model_lib.build_model(config)), config, "an untrained seed network")
    images, _ = rendering.draw_range(config, SEED, 0, 2)
    explanations = saliency.explain(solver, images)
    assert [len(characters) for characters in explanations] == [4, 4]
    assert [item.frames for item in explanations[0]] == [(0,), (1,), (2,), (3,)]


def test_bad_input_is_refused(solver):
    with pytest.raises(ValueError, match="at least one image"):
        saliency.explain(solver, [])
    with pytest.raises(ValueError, match="Could not read the file as an image"):
        saliency.explain(solver, [b"not an image"])
