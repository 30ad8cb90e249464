"""A lane of work that runs one request at a time and lets only a few wait: the app's evaluations.

Gradio's queue has one size for every event, so without this a flood of slow evaluations would fill it and
keep visitors' readings out.
"""

import collections
import contextlib
import functools
import threading
import time


class WaitingLimit:
    """Evaluations run one at a time, and at most `limit` wait for their turn; `refusal` turns away the rest.

    Gradio's queue has one size for every event and no public count per concurrency lane, so the
    app keeps its own. `admit`, from the event's validator, runs before the request joins the
    queue and hands it a ticket; `turn`, around the evaluation, trades the ticket for a place in
    line and runs it when the one before it ends. The lane lets `limit` + 1 requests in at once,
    so that an admitted request reaches `turn` within moments; a ticket that never does (its
    request was cancelled while queued) lapses after SETTLING_SECONDS.
    """

    SETTLING_SECONDS = 10.0

    def __init__(self, limit, refusal):
        self.limit = limit
        self.refusal = refusal
        self.tickets = collections.deque()  # when each admitted request not yet in line was admitted
        self.in_line = 0  # requests inside `turn` waiting for the running one
        self.busy = False
        self.lock = threading.Lock()
        self.running = threading.Lock()

    def _lapse(self):
        """Forget the tickets of requests that never started; the lock is held."""
        now = time.monotonic()
        while self.tickets and now - self.tickets[0] > self.SETTLING_SECONDS:
            self.tickets.popleft()

    def waiting(self):
        """How many admitted requests wait, not counting the one running."""
        with self.lock:
            self._lapse()
            return len(self.tickets) + self.in_line

    def admit(self):
        """Count one more request in, or raise ValueError saying the line is full."""
        with self.lock:
            self._lapse()
            if len(self.tickets) + self.in_line + self.busy >= self.limit + 1:
                raise ValueError(self.refusal)
            self.tickets.append(time.monotonic())

    @contextlib.contextmanager
    def turn(self):
        """Wait in line, then hold the one running place while the body runs."""
        with self.lock:
            if self.tickets:
                self.tickets.popleft()
            self.in_line += 1
        self.running.acquire()
        with self.lock:
            self.in_line -= 1
            self.busy = True
        try:
            yield
        finally:
            with self.lock:
                self.busy = False
            self.running.release()

    def taking_turns(self, action):
        """`action`, run in its turn."""
        @functools.wraps(action)
        def run(*values):
            with self.turn():
                return action(*values)
        return run
