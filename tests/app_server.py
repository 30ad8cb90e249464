"""The app's module-level `demo`, or another one it builds, served in-process on a free port for the tests;
or `python app.py` served by a process of its own."""

import contextlib
import os
import socket
import subprocess
import time

import httpx

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


@contextlib.contextmanager
def serving_program(command, cwd):
    """Run `command` (such as `python app.py`) with GRADIO_SERVER_PORT set to a free port; yield its
    URL once it serves, within two minutes. It is stopped afterwards."""
    port = free_port()
    environment = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    environment.pop("GRADIO_SERVER_NAME", None)
    server = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{' '.join(command)} did not start serving within two minutes"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
