"""The app as a public Space: remote payloads refused before any download.

The served app is driven through gradio_client, as in test_app.py.
"""

import gradio.processing_utils
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app_server import serving

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

# An address on a host Gradio would download from (its allow-list holds hf.co and huggingface.co).
REMOTE_IMAGE = "https://huggingface.co/datasets/someone/captchas/resolve/main/captcha.png"


@pytest.fixture(scope="module")
def client():
    with serving() as url:
        yield Client(url, verbose=False)


@pytest.fixture
def downloads(monkeypatch, tmp_path):
    """Gradio's download functions, recording each address asked for instead of fetching it."""
    asked = []

    def record(url, cache_dir):
        asked.append(url)
        path = tmp_path / "downloaded.png"
        path.write_bytes(b"")
        return str(path)

    async def record_async(url, cache_dir):
        return record(url, cache_dir)

    monkeypatch.setattr(gradio.processing_utils, "ssrf_protected_download", record)
    monkeypatch.setattr(gradio.processing_utils, "async_ssrf_protected_download", record_async)
    return asked


@pytest.mark.parametrize("endpoint", ["/solve", "/explain"])
def test_a_payload_naming_an_address_is_refused_and_nothing_is_fetched(client, downloads, endpoint):
    with pytest.raises(AppError, match="reads image files sent to it, not addresses.*was not fetched"):
        client.predict(handle_file(REMOTE_IMAGE), api_name=endpoint)
    assert downloads == []


def test_an_uploaded_file_is_still_read(client, solver, tmp_path, downloads):
    from captcha_model import data

    path = tmp_path / "captcha.png"
    data.sample_captcha(solver.config, seed=12)[1].save(path)
    assert client.predict(handle_file(str(path)), api_name="/solve")[0] == solver.solve([str(path)])[0].text
    assert downloads == []
