"""An image component for the app that takes only files sent to the server, never addresses.

Gradio fetches a file payload whose `path` is a URL on an allowed host (hf.co,
huggingface.co) into its cache, whole and before any of the app's code runs: a public
demo would download whatever a visitor names. `local_image` refuses such a payload
before anything is fetched, with a message saying what to send instead. A URL of a file
this server already received (`.../gradio_api/file=PATH`, as MCP clients pass uploads
back) names that file, which is read from disk.
"""

import os
from urllib.parse import unquote, urlsplit

import gradio as gr
from gradio_client import utils as client_utils

FILE_ROUTE = "/gradio_api/file="

REMOTE_REFUSAL = (
    "This app reads image files sent to it, not addresses: {address!r} was not fetched. "
    "Upload the image itself (in Python: gradio_client.handle_file('captcha.png'))."
)


def local_path(path):
    """`path`, or the received file a URL of this server's names; a visitor's error for any other URL."""
    if path is None or not client_utils.is_http_url_like(str(path)):
        return path
    route = urlsplit(str(path)).path
    if FILE_ROUTE in route:
        received = os.path.realpath(unquote(route.split(FILE_ROUTE, 1)[1]))
        folder = os.path.realpath(gr.utils.get_upload_folder())
        if os.path.commonpath([received, folder]) == folder and os.path.isfile(received):
            return received
    raise gr.Error(REMOTE_REFUSAL.format(address=str(path)[:200]), print_exception=False)


def local_image(**options):
    """A `gr.Image(**options)` that moves into its cache only files on this server.

    Gradio hands every file of a payload to the component's `move_resource_to_block_cache`,
    which would download URLs; here a URL is refused first, unless it names a file received.
    The methods are wrapped on the instance rather than in a subclass, because Gradio writes
    a stub file beside every component class it sees defined, and the page and the API keep
    seeing a plain Image.
    """
    image = gr.Image(**options)
    move, async_move = image.move_resource_to_block_cache, image.async_move_resource_to_block_cache

    def move_local(url_or_file_path):
        return move(local_path(url_or_file_path))

    async def async_move_local(url_or_file_path):
        return await async_move(local_path(url_or_file_path))

    image.move_resource_to_block_cache = move_local
    image.async_move_resource_to_block_cache = async_move_local
    return image
