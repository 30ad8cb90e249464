"""An image component for the app that takes only files sent to the server, never addresses.

Gradio fetches a file payload whose `path` is a URL on an allowed host (hf.co,
huggingface.co) into its cache, whole and before any of the app's code runs: a public
demo would download whatever a visitor names. `local_image` refuses such a payload
before anything is fetched, with a message saying what to send instead.
"""

import gradio as gr
from gradio_client import utils as client_utils

REMOTE_REFUSAL = (
    "This app reads image files sent to it, not addresses: {address!r} was not fetched. "
    "Upload the image itself (in Python: gradio_client.handle_file('captcha.png'))."
)


def refuse_remote(path):
    """Raise a visitor's error for a payload that names a URL instead of a received file."""
    if path is not None and client_utils.is_http_url_like(str(path)):
        raise gr.Error(REMOTE_REFUSAL.format(address=str(path)[:200]), print_exception=False)


def local_image(**options):
    """A `gr.Image(**options)` that moves into its cache only files on this server.

    Gradio hands every file of a payload to the component's `move_resource_to_block_cache`,
    which would download URLs; here a URL is refused first. The methods are wrapped on the
    instance rather than in a subclass, because Gradio writes a stub file beside every
    component class it sees defined, and the page and the API keep seeing a plain Image.
    """
    image = gr.Image(**options)
    move, async_move = image.move_resource_to_block_cache, image.async_move_resource_to_block_cache

    def move_local(url_or_file_path):
        refuse_remote(url_or_file_path)
        return move(url_or_file_path)

    async def async_move_local(url_or_file_path):
        refuse_remote(url_or_file_path)
        return await async_move(url_or_file_path)

    image.move_resource_to_block_cache = move_local
    image.async_move_resource_to_block_cache = async_move_local
    return image
