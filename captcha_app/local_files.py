"""The app takes only files sent to it, never addresses: remote file payloads are refused before Gradio sees them.

Gradio fetches a file payload whose `path` is an http(s) URL into its cache, whole, while it
prepares an event's inputs: before the app's validators and functions run, even with
`preprocess=False`. A public demo would download whatever a visitor names. `RemoteFileRefusal`,
an ASGI middleware around the server (see `app.web_app`), reads the JSON body of every call of
an event and refuses one with such a payload, with a message saying what to send instead. A URL
of a file this server already received (`.../gradio_api/file=PATH`, as MCP clients pass uploads
back) names that file: the payload is rewritten to its path, which Gradio reads from disk.

MCP tool calls need no route of their own: Gradio's MCP server calls the app's queued events
over HTTP, through `/gradio_api/queue/join`, with the addresses it was given as payloads.
"""

import json
import os
import re
from urllib.parse import unquote, urlsplit

import gradio as gr
from gradio_client import utils as client_utils

FILE_ROUTE = "/gradio_api/file="

# The routes that hand an event its input values as JSON: joining the queue, the REST-like
# /call and /run routes, and the values streamed into a running event. Uploads go to
# /gradio_api/upload as multipart forms and are not inspected.
CALL_ROUTE = re.compile(r"/gradio_api/(?:queue/join|(?:call/v2|call|run|api|stream)/[^/]+)/?$")

# Input values are small (a file is sent as the path /gradio_api/upload gave it), so a larger
# call is refused rather than buffered: a body that is not read whole cannot be checked.
MAX_CALL_BYTES = 4 * 2**20

REMOTE_REFUSAL = (
    "This app reads image files sent to it, not addresses: {address!r} was not fetched. "
    "Upload the image itself (in Python: gradio_client.handle_file('captcha.png'))."
)
SIZE_REFUSAL = (
    f"A call of the app's endpoints is at most {MAX_CALL_BYTES // 2**20} MB of JSON; send files through "
    "/gradio_api/upload (gradio_client.handle_file does) and name them by the path it answers."
)


class RemoteAddress(ValueError):
    """A file payload names an address that is not a file this server received."""

    def __init__(self, address):
        super().__init__(REMOTE_REFUSAL.format(address=address[:200]))


def received_file(address):
    """The path of the file this server received that `address` (`.../gradio_api/file=PATH`) names, else None."""
    route = urlsplit(address).path
    if FILE_ROUTE not in route:
        return None
    received = os.path.realpath(unquote(route.split(FILE_ROUTE, 1)[1]))
    folder = os.path.realpath(gr.utils.get_upload_folder())
    if os.path.commonpath([received, folder]) == folder and os.path.isfile(received):
        return received
    return None


def local_payloads(value):
    """`value` with every file payload that names a received file by URL naming it by path; raises RemoteAddress.

    A file payload is a dict with a string `path`, as Gradio and gradio_client write it (with or
    without `meta`). Only `path` is checked: it is what Gradio fetches. It reads a payload's `url`
    only for components loaded from another app (`gr.load`), which this app has none of, and the
    page sends this server's own address there.
    """
    if isinstance(value, list):
        return [local_payloads(item) for item in value]
    if not isinstance(value, dict):
        return value
    path = value.get("path")
    if isinstance(path, str) and client_utils.is_http_url_like(path):
        received = received_file(path)
        if received is None:
            raise RemoteAddress(path)
        return {**value, "path": received}
    return {key: local_payloads(item) for key, item in value.items()}


def checked_call(body):
    """(the call's JSON body with received files named by path, None) or, if an input names an address,
    (the body, a check of each input).

    The refusals take the shape of Gradio's own validation answer (`gr.validate`), one per input
    in order, so that gradio_client raises a ValidationError with the message and the page shows
    it under the input. The input values are the body's `data` list, or for /call/v2 the body's
    keys, each a parameter's name.
    """
    by_name = not isinstance(body.get("data"), list)
    inputs = dict(body) if by_name else dict(enumerate(body["data"]))
    checks = []
    for key, value in inputs.items():
        try:
            inputs[key] = local_payloads(value)
            checks.append({"__type__": "validate", "is_valid": True, "message": ""})
        except RemoteAddress as refusal:
            checks.append({"__type__": "validate", "is_valid": False, "message": str(refusal),
                           **({"parameter_name": key} if by_name else {})})
    if not all(check["is_valid"] for check in checks):
        return body, checks
    return (inputs if by_name else {**body, "data": list(inputs.values())}), None


async def answer_json(send, status, content):
    """Answer an HTTP request with `content` as JSON."""
    payload = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class RemoteFileRefusal:
    """ASGI middleware: calls of an event whose file payloads name addresses are refused before Gradio reads them.

    Every POST to a call route (`CALL_ROUTE`) is read whole, up to MAX_CALL_BYTES (more is refused
    with HTTP 413). A body that is not a JSON object, or whose payloads are all local, reaches the
    app as it came, byte for byte; one naming received files by URL reaches it rewritten to their
    paths (see `local_payloads`); one naming any other address is answered with HTTP 422 and
    REMOTE_REFUSAL (see `checked_call`). Every other request passes untouched.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not CALL_ROUTE.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        body = await self.read_body(scope, receive)
        if body is None:
            await answer_json(send, 413, {"detail": SIZE_REFUSAL})
            return
        try:
            call = json.loads(body)
        except ValueError:
            call = None
        if isinstance(call, dict):
            checked, refusals = checked_call(call)
            if refusals:
                await answer_json(send, 422, {"detail": refusals})
                return
            if checked != call:
                body = json.dumps(checked).encode()
                headers = [(name, value) for name, value in scope["headers"] if name != b"content-length"]
                scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, self.replay(body, receive), send)

    @staticmethod
    async def read_body(scope, receive):
        """The request's whole body, or None where it is over MAX_CALL_BYTES."""
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > MAX_CALL_BYTES:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            # A client gone midway leaves a partial body, which the app refuses as it would have.
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_CALL_BYTES:
                return None
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def replay(body, receive):
        """An ASGI `receive` giving `body` as the request's one message, then waiting on the client as before."""
        sent = False

        async def replayed():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replayed
