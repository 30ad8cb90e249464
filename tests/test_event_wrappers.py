"""An action's ValueError reaches the visitor as a message, and its checks, with a waiting limit's, as a validator."""

import gradio as gr
import pytest

from captcha_app.event_wrappers import answering, validator
from captcha_app.waiting_limit import WaitingLimit


def refuse(message):
    raise ValueError(message)


def test_a_value_error_becomes_the_visitors_message_and_other_errors_stay_errors():
    assert answering(lambda text: text.upper())("ab") == "AB"
    with pytest.raises(gr.Error, match="Captcha text must have 4 characters"):
        answering(refuse)("Captcha text must have 4 characters")
    with pytest.raises(ZeroDivisionError):
        answering(lambda: 1 / 0)()


def test_checks_become_a_validator_that_admits_only_valid_requests_while_the_line_has_room():
    def checks_of(text, count):
        return [lambda: refuse("bad text") if not text else None, lambda: refuse("bad count") if count < 1 else None]

    limit = WaitingLimit(0, "the line is full")
    validate = validator(checks_of, limit)
    assert [check["message"] for check in validate("", 0)] == ["bad text", "bad count"]
    assert limit.waiting() == 0  # an invalid request takes no place in line
    assert all(check["is_valid"] for check in validate("AB", 3))
    # One request admitted and not yet run fills a lane that lets none wait.
    assert [(check["is_valid"], check["message"]) for check in validate("AB", 3)] == [
        (False, "the line is full"), (True, "")]
    assert [check["is_valid"] for check in validator(checks_of)("AB", 3)] == [True, True]
