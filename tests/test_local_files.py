"""The app takes files sent to it, never addresses: payloads naming an address are refused before Gradio could fetch
them, on every call route, while uploads, and the addresses of files the server received, are read."""

import gradio.processing_utils
import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import ValidationError

from captcha_app import local_files
from captcha_app.local_files import MAX_CALL_BYTES, REMOTE_REFUSAL
from captcha_model.data import rendering

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


# An address on a host Gradio would download from (its allow-list holds hf.co and huggingface.co).
REMOTE_IMAGE = "https://huggingface.co/datasets/someone/captchas/resolve/main/captcha.png"


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
    with pytest.raises(ValidationError, match="reads image files sent to it, not addresses.*was not fetched"):
        client.predict(handle_file(REMOTE_IMAGE), api_name=endpoint)
    assert downloads == []


def file_payload(path):
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("route", ["call/solve", "call/v2/solve", "run/solve", "queue/join"])
def test_every_call_route_refuses_an_address_before_gradio_reads_it(app_url, downloads, route):
    """Raw HTTP calls, as curl or another client sends them, get the refusal as Gradio's validation answer."""
    body = ({"upload": file_payload(REMOTE_IMAGE)} if route == "call/v2/solve" else
            {"data": [file_payload(REMOTE_IMAGE), "default"], "fn_index": 0, "session_hash": "remote"})
    answer = httpx.post(f"{app_url}gradio_api/{route}", json=body, timeout=30)
    assert answer.status_code == 422, answer.text
    refusal = next(check for check in answer.json()["detail"] if not check["is_valid"])
    assert refusal["message"] == REMOTE_REFUSAL.format(address=REMOTE_IMAGE)
    assert downloads == []


def test_a_call_too_large_to_check_is_refused(app_url, downloads):
    padding = "x" * (MAX_CALL_BYTES + 1)
    answer = httpx.post(f"{app_url}gradio_api/call/solve", json={"data": [file_payload(REMOTE_IMAGE), padding]},
                        timeout=30)
    assert answer.status_code == 413 and "/gradio_api/upload" in answer.json()["detail"]
    assert downloads == []


def test_an_uploaded_file_is_still_read(client, solver, tmp_path, downloads):
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=12)[1].save(path)
    assert client.predict(handle_file(str(path)), api_name="/solve")[0] == solver.solve([str(path)])[0].text
    assert downloads == []


def test_the_address_of_an_uploaded_file_reads_that_file_without_fetching_it(client, app_url, solver, tmp_path,
                                                                              downloads):
    """As MCP clients pass an upload back: `.../gradio_api/file=PATH` of a file the server received."""
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=14)[1].save(path)
    with open(path, "rb") as file:
        uploaded = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("captcha.png", file, "image/png")},
                              timeout=30).json()[0]
    address = f"{app_url}gradio_api/file={uploaded}"
    assert client.predict(handle_file(address), api_name="/solve")[0] == solver.solve([str(path)])[0].text
    assert downloads == []


def test_the_address_of_a_file_the_server_did_not_receive_is_refused(client, app_url, tmp_path, downloads):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"")
    for address in (f"{app_url}gradio_api/file={outside}", f"{app_url}gradio_api/file=../../../../etc/passwd"):
        with pytest.raises(ValidationError, match="not addresses"):
            client.predict(handle_file(address), api_name="/solve")
    assert downloads == []


def test_a_received_files_address_is_rewritten_to_its_path_and_any_other_address_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    received = tmp_path / "uploads" / "0a1b" / "captcha.png"
    received.parent.mkdir(parents=True)
    received.write_bytes(b"")
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"")
    payload = {"path": f"http://127.0.0.1:7860/gradio_api/file={received}", "meta": {"_type": "gradio.FileData"}}
    local = {"image": {"path": str(outside)}, "texts": ["7K2P"]}
    assert local_files.local_payloads([payload, local, 8]) == [{**payload, "path": str(received)}, local, 8]
    for address in (REMOTE_IMAGE, f"http://127.0.0.1:7860/gradio_api/file={outside}"):
        with pytest.raises(local_files.RemoteAddress, match="reads image files sent to it, not addresses"):
            local_files.local_payloads({"files": [{"path": address}]})


def test_a_call_naming_an_address_gets_one_check_per_input_in_gradios_shape():
    body = {"data": [file_payload(REMOTE_IMAGE), "default"], "fn_index": 0}
    checked, checks = local_files.checked_call(body)
    assert checked is body and [check["is_valid"] for check in checks] == [False, True]
    assert checks[0]["message"] == REMOTE_REFUSAL.format(address=REMOTE_IMAGE)
    # /call/v2 names its inputs, and each refusal the input it is about.
    _, checks = local_files.checked_call({"upload": file_payload(REMOTE_IMAGE), "model": "ctc"})
    assert checks[0]["parameter_name"] == "upload" and "parameter_name" not in checks[1]
    assert local_files.checked_call({"data": ["7K2P", 8]}) == ({"data": ["7K2P", 8]}, None)
