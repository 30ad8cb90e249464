"""SharedReader: concurrent requests read in shared model calls, each getting its own readings."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from captcha_app.shared_reader import SharedReader
from captcha_model.data import rendering


class SlowFirstCall:
    """A solver whose first call takes long enough for every other request to arrive meanwhile."""

    def __init__(self, solver):
        self.solver = solver
        self.batches = []
        self.first = threading.Event()

    def solve_inputs(self, inputs):
        self.batches.append(len(inputs))
        if not self.first.is_set():
            self.first.set()
            time.sleep(0.5)
        return self.solver.solve_inputs(inputs)


def test_concurrent_requests_share_model_calls_and_get_their_own_readings(solver):
    inputs, _ = rendering.render_range(solver.config, 23, 0, 24)
    expected = [reading.text for reading in solver.solve_inputs(inputs)]
    slow = SlowFirstCall(solver)
    reader = SharedReader(slow, max_batch=16)
    # Requests of one and of two images; the first call holds the lead while the rest arrive.
    requests = [inputs[0:1], *(inputs[start : start + 2] for start in range(1, 23, 2)), inputs[23:24]]
    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(reader.read, requests[0])
        slow.first.wait(5)
        rest = [pool.submit(reader.read, request) for request in requests[1:]]
        answers = [first.result()] + [future.result(timeout=60) for future in rest]
    assert [reading.text for answer in answers for reading in answer] == expected
    assert [len(answer) for answer in answers] == [len(request) for request in requests]
    # One call for the first request, then the 23 images that waited, in batches of at most 16.
    assert slow.batches[0] == 1 and sum(slow.batches) == 24 and max(slow.batches) <= 16
    assert reader.calls == len(slow.batches) <= 3


def test_a_failed_call_fails_only_its_own_requests(solver):
    inputs, _ = rendering.render_range(solver.config, 24, 0, 2)

    class Failing:
        def solve_inputs(self, batch):
            raise ValueError("the network failed")

    with pytest.raises(ValueError, match="the network failed"):
        SharedReader(Failing()).read(inputs)
    reader = SharedReader(solver)
    expected = [reading.text for reading in solver.solve_inputs(inputs)]
    assert [reading.text for reading in reader.read(inputs)] == expected
    with pytest.raises(ValueError, match="at least 1"):
        SharedReader(solver, max_batch=0)
