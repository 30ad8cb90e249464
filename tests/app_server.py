"""The app served in-process on a free port for the tests, as `python app.py` serves it (`app.web_app` under
uvicorn); or `python app.py` served by a process of its own.

The module-level `app.demo` is served once per test session, however many tests and files ask for it:
starting a server costs seconds, and a Blocks is mounted on one server at a time.
"""

import contextlib
import os
import socket
import subprocess
import threading
import time

import httpx
import uvicorn

import app

# The URL of the session's server of `app.demo`, once started; it stops when the test session ends.
SHARED = {}
# A test stops its server once its clients are done: their idle event streams need not hold it for the whole
# grace that `python app.py` gives (app.SHUTDOWN_SECONDS, kept by `serving_program`).
STOP_GRACE_SECONDS = 1


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(blocks, actions=None, **options):
    """Serve `blocks` (with the bulk route of `actions`, if given) on a free port: (URL, the server, its thread)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.web_app(blocks, actions, **options), host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=STOP_GRACE_SECONDS))
    thread = threading.Thread(target=server.run, name=f"app-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app's server did not start within a minute"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/", server, thread


def stop(blocks, server, thread):
    server.should_exit = True
    thread.join(timeout=30)
    blocks.close(verbose=False)


def shared_url():
    """The URL of `app.demo` with its bulk route, served from the first call until the session ends."""
    if "url" not in SHARED:
        SHARED["url"], server, thread = start(app.demo, app.ACTIONS)
        SHARED["stop"] = lambda: stop(app.demo, server, thread)
    return SHARED["url"]


def stop_shared():
    """Stop the session's server of `app.demo`, if one was started (see conftest.py)."""
    if "stop" in SHARED:
        SHARED.pop("stop")()
        SHARED.pop("url")


@contextlib.contextmanager
def serving(blocks=None, actions=None, **options):
    """Serve `blocks` as `python app.py` does, and yield its URL; closed afterwards.

    Without `blocks`, the session's server of `app.demo` (see `shared_url`), which stays up.
    `actions` (see `app.make_actions`) adds the bulk route; `options` go to `gr.mount_gradio_app`,
    e.g. `mcp_server=True` as `python app.py --mcp` passes.
    """
    if blocks is None:
        assert actions is None and not options, "app.demo is served as python app.py serves it, once per session"
        yield shared_url()
        return
    url, server, thread = start(blocks, actions, **options)
    try:
        yield url
    finally:
        stop(blocks, server, thread)


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
        # A stopped app ends within its shutdown grace (app.SHUTDOWN_SECONDS), open connections or not.
        server.wait(timeout=20)
