"""What a visitor types into the demo, checked: whole numbers, counts, lengths and sizes, each refused with what is
accepted, and the captchas to draw for a model where boxes are left empty."""

import pytest

from captcha_app import visitor_input
from captcha_model.config import CaptchaConfig, read_config
from captcha_model.reading.solver import BUNDLED_MODELS


def test_captchas_to_draw_keeps_the_models_own_values_where_none_is_asked_for():
    config = read_config(BUNDLED_MODELS["ctc"])
    assert visitor_input.captchas_to_draw(config) == config
    assert visitor_input.captchas_to_draw(config, "", " ") == config
    assert visitor_input.captchas_to_draw(config, 6, "200x70") == config.at(200, 70, 6)
    assert visitor_input.captchas_to_draw(config, "3", "150×60") == config.at(150, 60, 3)
    with pytest.raises(ValueError, match="not 150x19"):
        visitor_input.captchas_to_draw(config, size="150x19")


@pytest.mark.parametrize("value, message", [(None, "Enter a seed."), (" ", "Enter a seed."),
                                            ("seven", "The seed must be a whole number, got 'seven'."),
                                            (2.5, "The seed must be a whole number, got 2.5.")])
def test_a_number_box_takes_whole_numbers_only(value, message):
    assert visitor_input.whole_number("12", "seed") == visitor_input.whole_number(12.0, "seed") == 12
    with pytest.raises(ValueError, match=f"^{message}$"):
        visitor_input.whole_number(value, "seed")


def test_a_count_lies_between_one_and_the_maximum():
    assert visitor_input.check_count("2000", 2000) == 2000
    with pytest.raises(ValueError, match="Evaluate between 1 and 2,000 captchas at a time, not 2,001."):
        visitor_input.check_count(2001, 2000)


def test_a_size_is_a_width_and_height_the_demo_draws_or_empty():
    assert visitor_input.check_size(" ") is None
    assert visitor_input.check_size("400x200") == (400, 200) and visitor_input.check_size("40×20") == (40, 20)
    with pytest.raises(ValueError, match=r"not 401x100\.$"):
        visitor_input.check_size("401x100")
    with pytest.raises(ValueError, match="got 'big'. Sizes from 40x20 to 400x200 are drawn."):
        visitor_input.check_size("big")


def test_a_length_is_one_the_model_reads_or_empty():
    config = read_config(BUNDLED_MODELS["ctc"])
    assert visitor_input.check_length("", config) is None and visitor_input.check_length("8", config) == 8
    with pytest.raises(ValueError, match="This model reads 4 characters: the length must be 4, not 5."):
        visitor_input.check_length(5, CaptchaConfig())
