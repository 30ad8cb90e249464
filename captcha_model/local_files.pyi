"""An image component for the app that takes only files sent to the server, never addresses.

Gradio fetches a file payload whose `path` is a URL on an allowed host (hf.co,
huggingface.co) into its cache, whole and before any of the app's code runs: a public
demo would download whatever a visitor names. `LocalImage` refuses such a payload
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

from gradio.events import Dependency

class LocalImage(gr.Image):
    """`gr.Image` that moves into its cache only files on this server.

    Gradio hands every file of a payload to the component's `move_resource_to_block_cache`,
    which would download URLs; here a URL is refused there. As a template of `gr.Image`,
    the page and the API see it as an ordinary Image.
    """

    is_template = True

    def move_resource_to_block_cache(self, url_or_file_path):
        refuse_remote(url_or_file_path)
        return super().move_resource_to_block_cache(url_or_file_path)

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        refuse_remote(url_or_file_path)
        return await super().async_move_resource_to_block_cache(url_or_file_path)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component