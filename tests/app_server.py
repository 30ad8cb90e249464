"""The app's module-level `demo`, served in-process on a free port for the app and browser tests."""

import contextlib
import socket

import app


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving():
    """Serve `app.demo` as `python app.py` does, and yield its URL; closed afterwards."""
    port = free_port()
    app.launch(app.demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()
