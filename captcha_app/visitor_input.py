"""What a visitor types into the web demo, checked: captcha lengths, sizes, counts and seeds.

Each check returns the value to use (None where a box was left empty, meaning the
model's own) or raises ValueError with a message that says what was wrong and what is
accepted; the app shows it under the box, or as the answer of an API call.
"""

from captcha_app.page_text import length_summary
from captcha_model import config as config_lib

# The captcha sizes the demo draws; outside them the library's text barely fits or the page is huge.
CAPTCHA_WIDTHS = (40, 400)
CAPTCHA_HEIGHTS = (20, 200)
SIZES_TEXT = f"{CAPTCHA_WIDTHS[0]}x{CAPTCHA_HEIGHTS[0]} to {CAPTCHA_WIDTHS[1]}x{CAPTCHA_HEIGHTS[1]}"


def is_empty(value):
    return value is None or str(value).strip() == ""


def whole_number(value, name):
    """A box's number as an int, or a clear error for empty or fractional input."""
    if is_empty(value):
        raise ValueError(f"Enter a {name}.")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"The {name} must be a whole number, got {value!r}.") from None
    if number != int(number):
        raise ValueError(f"The {name} must be a whole number, got {value}.")
    return int(number)


def check_count(count, maximum):
    """The number of captchas to evaluate, or a clear error outside 1 to `maximum`."""
    count = whole_number(count, "number of captchas")
    if not 1 <= count <= maximum:
        raise ValueError(f"Evaluate between 1 and {maximum:,} captchas at a time, not {count:,}.")
    return count


def check_length(length, config):
    """A captcha length for `config`, None when empty, or a clear error outside the model's lengths."""
    length = None if is_empty(length) else whole_number(length, "length")
    if length is not None and not config.min_length <= length <= config.max_length:
        accepted = f"{config.min_length}" if config.fixed_length else f"from {config.min_length} to {config.max_length}"
        raise ValueError(f"This model reads {length_summary(config)}: the length must be {accepted}, not {length}.")
    return length


def check_size(size):
    """A captcha size 'WIDTHxHEIGHT' as (width, height), None when empty, or a clear error."""
    if is_empty(size):
        return None
    try:
        # Visitors may well copy the page's own "170×80".
        width, height = config_lib.parse_size(str(size).replace("×", "x"))
    except ValueError as error:
        raise ValueError(f"{error} Sizes from {SIZES_TEXT} are drawn.") from None
    if not (CAPTCHA_WIDTHS[0] <= width <= CAPTCHA_WIDTHS[1] and CAPTCHA_HEIGHTS[0] <= height <= CAPTCHA_HEIGHTS[1]):
        raise ValueError(f"Captchas are drawn from {SIZES_TEXT} pixels (width from {CAPTCHA_WIDTHS[0]} to "
                         f"{CAPTCHA_WIDTHS[1]}, height from {CAPTCHA_HEIGHTS[0]} to {CAPTCHA_HEIGHTS[1]}), "
                         f"not {width}x{height}.")
    return width, height


def captchas_to_draw(config, length=None, size=None):
    """The config of the captchas to draw for a model: `config` at the length and size asked for.

    Empty values keep the model's own: a model trained on a range of lengths or sizes then
    draws from its whole range.
    """
    width, height = check_size(size) or (None, None)
    return config.at(width=width, height=height, length=check_length(length, config))
