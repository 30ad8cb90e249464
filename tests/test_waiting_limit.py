"""The lane of the app's evaluations: one runs at a time, at most the limit wait, and tickets of requests that
never start lapse."""

import threading

import pytest

from captcha_app.waiting_limit import WaitingLimit


def test_evaluations_take_turns_and_at_most_the_limit_wait(monkeypatch):
    limit = WaitingLimit(2, "full")
    for _ in range(3):
        limit.admit()
    # One will run and two wait: a fourth is refused before it joins the queue.
    with pytest.raises(ValueError, match="full"):
        limit.admit()
    started, release = threading.Event(), threading.Event()
    first = threading.Thread(target=limit.taking_turns(lambda: started.set() or release.wait(30)))
    first.start()
    started.wait(30)
    assert limit.waiting() == 2 and limit.busy
    release.set()
    first.join()
    assert limit.waiting() == 2 and not limit.busy
    # Tickets of requests that never start (cancelled while queued) lapse.
    monkeypatch.setattr(WaitingLimit, "SETTLING_SECONDS", 0.0)
    assert limit.waiting() == 0
    limit.admit()
