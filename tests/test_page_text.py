"""The words the web demo shows: charsets, lengths and sizes summarised, confidences as percentages rounded down,
verdicts, the placeholders of empty boxes and the line naming the model that answered."""

from PIL import Image

from captcha_app import page_text
from captcha_model.config import CaptchaConfig
from captcha_model.reading.decoding import Reading

RANGED = CaptchaConfig(min_length=1, max_length=8, captcha_width_range=(120, 240), captcha_height_range=(50, 100))


def test_helpers_describe_charsets_and_confidences():
    assert page_text.charset_summary("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "0-9, A-Z"
    assert page_text.charset_summary("AB7") == "A, B, 7"
    assert [page_text.confidence_category(value) for value in (0.999, 1.0, 0.29, 0.0)] == ["99%", "100%", "29%", "0%"]
    assert page_text.floor_percent(0.99996, 1) == "99.9%"
    assert set(page_text.CONFIDENCE_COLORS) == {f"{percentage}%" for percentage in range(101)}


def test_a_config_is_summarised_by_its_lengths_charset_and_sizes():
    assert page_text.captcha_summary(CaptchaConfig()) == "4 characters of 0-9, A-Z, drawn 170×80"
    assert page_text.captcha_summary(RANGED) == "1 to 8 characters of 0-9, A-Z, drawn 120×50 to 240×100"
    assert page_text.text_help(CaptchaConfig(charset="ABCDEF")) == "4 characters of A-F; empty: a random text"


def test_empty_boxes_stand_for_every_length_and_size_of_the_model():
    assert page_text.evaluation_placeholders(RANGED) == ("every length: 1 to 8", "every size: 120x50 to 240x100")
    assert page_text.evaluation_placeholders(CaptchaConfig()) == ("every length: 4", "every size: 170x80")
    assert page_text.generate_size_placeholder(RANGED) == "170x80"


def test_a_verdict_says_right_or_wrong_with_the_confidence_rounded_down():
    reading = Reading("7K2P", 0.99996, (1.0, 1.0, 1.0, 0.99996))
    assert page_text.verdict("7K2P", reading) == "✓ **Right**: read `7K2P` with 99.9% confidence."
    assert page_text.verdict("7K2Q", Reading("", 0.0, ())) == (
        "✗ **Wrong**: the captcha says `7K2Q`, the model read nothing (0.0% confidence).")
    assert page_text.character_confidences(reading) == [("7", "100%"), ("K", "100%"), ("2", "100%"), ("P", "99%")]


def test_the_answering_model_is_named_with_any_model_it_stands_in_for():
    identity = {"name": "default", "source": "bundled default model", "revision": "sha256:ab12", "runtime": "Keras",
                "fallback": None}
    line = "Answered by **default**: bundled default model, revision `sha256:ab12`, run by Keras."
    assert page_text.answered_by(identity) == line
    assert page_text.answered_by({**identity, "fallback": "Could not load 'x'."}) == (
        f"{line} **Fallback:** Could not load 'x'.")


def test_the_seeds_hint_lists_the_seeds_drawn_and_their_offsets():
    assert page_text.seeds_text([7]).startswith("The models trained on seeds 7, and validated and tested on those "
                                                "plus 1,000,000 and 2,000,000")
    assert page_text.seeds_text([1, 20, 7000]).startswith("The models trained on seeds 1, 20 and 7,000,")


def test_the_details_say_why_the_general_model_read_an_upload():
    config = CaptchaConfig()
    image = Image.new("RGB", (130, 48))
    general = CaptchaConfig(input_width=144, input_height=40)
    line = page_text.read_by_general("default", config, image, Reading("AB12", 0.5, (0.5,) * 4), general)
    assert line == ("**default** was trained on the captcha library's images of 170×80, not 130×48, so the general "
                    "model, made for captchas of any site, read this one (the picture of what the model sees is its "
                    "input, 144×40); **default** reads `AB12`.")
