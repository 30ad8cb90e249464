"""The app's module-level `demo`, or another one it builds, served in-process on a free port for the tests."""

import contextlib
import socket

import app


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(blocks=None, **options):
    """Serve `blocks` (default: `app.demo`) as `python app.py` does, and yield its URL; closed afterwards.

    `options` go to `launch`, e.g. `mcp_server=True` as `python app.py --mcp` passes.
    """
    blocks = blocks or app.demo
    port = free_port()
    app.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        blocks.close()
