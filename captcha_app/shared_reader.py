"""Reading the captchas of many concurrent requests in shared model calls.

A network call costs much the same for one image as for a dozen, so a server answering
many visitors at once reads faster when their images go through the network together.
`SharedReader.read` is called from each request's thread: the first caller to find no call
running becomes the leader and reads everything that is waiting, again and again until
nothing waits; the others wait for their readings. Nobody waits for a batch to fill: a
lone request is read at once.
"""

import threading
from concurrent.futures import Future

import numpy as np


class SharedReader:
    """`read(inputs)` for one request's preprocessed inputs, sharing model calls with concurrent requests."""

    def __init__(self, solver, max_batch=64):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}.")
        self.solver = solver
        self.max_batch = max_batch
        self.waiting = []  # (inputs, future) of the requests not yet read
        self.leading = False
        self.lock = threading.Lock()
        self.calls = 0  # model calls made, for tests and benchmarks

    def read(self, inputs):
        """The solver's readings of `inputs` (from `data.preprocess`), as `Solver.solve_inputs` gives them."""
        future = Future()
        with self.lock:
            self.waiting.append((inputs, future))
            lead = not self.leading
            self.leading = True
        if lead:
            self._lead()
        return future.result()

    def _lead(self):
        """Read batches of waiting requests until none waits, then hand the lead back."""
        while True:
            with self.lock:
                batch, size = [], 0
                while self.waiting and (not batch or size + len(self.waiting[0][0]) <= self.max_batch):
                    inputs, future = self.waiting.pop(0)
                    batch.append((inputs, future))
                    size += len(inputs)
                if not batch:
                    self.leading = False
                    return
            self._read_batch(batch)

    def _read_batch(self, batch):
        try:
            readings = self.solver.solve_inputs(np.concatenate([inputs for inputs, _ in batch]))
            self.calls += 1
        except Exception as error:  # noqa: BLE001 - each request gets the error of the call it was in
            for _, future in batch:
                future.set_exception(error)
            return
        start = 0
        for inputs, future in batch:
            future.set_result(readings[start : start + len(inputs)])
            start += len(inputs)
