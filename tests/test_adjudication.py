"""A referee's decisions: glyph crops around the CTC columns that read them, and the sum of the referee's and the
main network's opinions that decides between the two characters of its pair."""

import numpy as np
import pytest

from captcha_model.config import RefereeConfig
from captcha_model.networks import model as model_lib, referee as referee_lib
from captcha_model.reading import adjudication, decoding


def constant_referee(config, referee_config, logit):
    """A real referee network whose logit is `logit` for any glyph."""
    referee = referee_lib.build_referee(config, referee_config)
    kernel, bias = referee.get_layer("logit").get_weights()
    referee.get_layer("logit").set_weights([np.zeros_like(kernel), np.full_like(bias, logit)])
    return referee


def test_column_centres_and_crops_know_their_pixels():
    # 11 columns over 88 pixels: column 5 is pixels 40-47, so its middle is 44.
    np.testing.assert_array_equal(adjudication.column_centers([5, 0], [5, 1], 88, 11), [44.0, 8.0])
    inputs = np.arange(2 * 3 * 10, dtype=np.uint8).reshape(2, 3, 10, 1)
    crops = adjudication.crop_glyphs(inputs, rows=[1, 0], centers=[5.0, 1.0], width=4)
    assert crops.shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(crops[0, :, :, 0], inputs[1, :, 3:7, 0])
    # A crop past the left edge is white where there is no image.
    np.testing.assert_array_equal(crops[1, :, :1, 0], 255)
    np.testing.assert_array_equal(crops[1, :, 1:, 0], inputs[0, :, 0:3, 0])


def test_crops_are_the_pixels_around_their_centres_or_white():
    random = np.random.default_rng(0)
    inputs = random.integers(0, 255, (3, 4, 20, 1), dtype=np.uint8)
    rows, centers = random.integers(0, 3, 200), random.uniform(-30.0, 50.0, 200)
    crops = adjudication.crop_glyphs(inputs, rows, centers, width=6)
    for crop, row, center in zip(crops, rows, centers):
        # Pixel by pixel: column left + k of the image, or white where there is none.
        left = round(center - 3)
        expected = [inputs[row, :, column] if 0 <= column < 20 else np.full((4, 1), 255)
                    for column in range(left, left + 6)]
        np.testing.assert_array_equal(crop, np.stack(expected, axis=1))


def test_adjudicate_lets_the_stronger_opinion_decide(solver):
    config = solver.config
    zero, letter, blank = config.charset.index("0"), config.charset.index("O"), config.num_classes
    # One image of 11 columns reading "A", "B", "0" and "C" in columns 1, 3, 5 and 8, with
    # a margin of 2 for "0" against "O" in column 5; blanks everywhere else.
    outputs = np.full((1, 11, config.num_classes + 1), -10.0)
    outputs[0, :, blank] = 5.0
    for column, character in ((1, "A"), (3, "B"), (8, "C")):
        outputs[0, column, config.charset.index(character)], outputs[0, column, blank] = 5.0, -10.0
    outputs[0, 5, zero], outputs[0, 5, letter], outputs[0, 5, blank] = 6.0, 4.0, -10.0
    characters = decoding.read_characters(outputs, config)
    assert [config.charset[index] for index, _, _ in characters.per_image()[0]] == list("AB0C")
    inputs = np.full((1, config.input_height, config.input_width, 1), 255, dtype=np.uint8)

    def read(logit, main_weight):
        referee_config = RefereeConfig(main_weight=main_weight)
        network = model_lib.KerasNetwork(constant_referee(config, referee_config, logit))
        referee = adjudication.Referee(network, config, referee_config)
        return referee.adjudicate(inputs, outputs, characters).per_image()[0]

    # A referee sure of "O" (logit 5) outweighs the main margin of 2 at weight 1, not at weight 3.
    index, frames, confidence = read(5.0, 1.0)[2]
    assert index == letter and frames == (5,)
    column = outputs[0, 5]
    pair_probability = (np.exp(column[zero]) + np.exp(column[letter])) / np.exp(column).sum()
    assert confidence == pytest.approx(pair_probability / (1 + np.exp(-3.0)), rel=1e-5)
    assert read(5.0, 3.0)[2][0] == zero
    # Characters outside the pair are left as they were read.
    assert read(5.0, 1.0)[:2] + read(5.0, 1.0)[3:] == characters.per_image()[0][:2] + characters.per_image()[0][3:]
