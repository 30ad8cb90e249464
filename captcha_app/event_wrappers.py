"""How the page's events call the app's actions: a ValueError an action raises becomes a message on the page
instead of a logged crash, and an action's checks become the validator Gradio runs before a request joins the
queue."""

import functools

import gradio as gr


def answering(action):
    """`action` as an event's function: a ValueError becomes a message for the visitor, not a logged crash."""
    @functools.wraps(action)
    def answer(*values):
        try:
            return action(*values)
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None
    return answer


def validation(check):
    """`gr.validate` for one input: valid unless `check()` raises ValueError, whose message is shown."""
    try:
        check()
    except ValueError as error:
        return gr.validate(False, str(error))
    return gr.validate(True, "")


def validator(checks_of, waiting_limit=None):
    """An event's validator from an action's checks; with `waiting_limit`, a valid request must also be admitted."""
    def validate(*values):
        checks = [validation(check) for check in checks_of(*values)]
        if waiting_limit and all(check["is_valid"] for check in checks):
            checks[0] = validation(waiting_limit.admit)
        return checks
    return validate
