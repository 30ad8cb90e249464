"""The app as a public Space: bounded disk, remote payloads refused before any download.

The served app is driven through gradio_client, as in test_app.py.
"""

import concurrent.futures
import contextlib
import hashlib
import os

import gradio as gr
import gradio.processing_utils
import httpx
import numpy as np
import pytest
from app_server import serving
from gradio_client import Client, handle_file
from gradio_client.exceptions import ValidationError
from PIL import Image

import app
from captcha_app.local_files import MAX_CALL_BYTES, REMOTE_REFUSAL
from captcha_model.data import rendering
from captcha_model.reading import solver as solver_lib

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


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


@pytest.mark.slow
def test_many_uploads_and_generations_keep_the_cache_under_its_bound(solver, tmp_path, monkeypatch):
    cache = tmp_path / "gradio"
    bound = 2 * 2**20
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    monkeypatch.setattr(app, "MAX_STORED_BYTES", bound)
    blocks = app.build_demo(app.make_actions(solver, None, "default"))
    noise = np.random.default_rng(0)
    uploads = []
    for index in range(16):
        # Noise does not compress: each file is about 300 KB, 2.3 times the bound in all.
        path = tmp_path / f"noise-{index}.png"
        Image.fromarray(noise.integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(path)
        uploads.append(path)
    sent = sum(os.path.getsize(path) for path in uploads)
    with serving(blocks) as url:
        # What Gradio holds for the page itself (examples, model pictures) stays; answers come on top.
        fixed = folder_bytes(cache)
        client = Client(url, verbose=False, download_files=str(tmp_path / "client"))
        for index, path in enumerate(uploads):
            client.predict(handle_file(str(path)), api_name="/solve")
            if index % 4 == 0:
                client.predict(handle_file(str(path)), api_name="/explain")
            picture, truth, reading, _, _ = client.predict("", 100 + index, api_name="/generate")
            assert folder_bytes(cache) - fixed <= bound, f"after {index + 1} uploads and generations"
        # The newest answer is whole and still served.
        assert Image.open(picture).convert("RGB").tobytes() == rendering.sample_captcha(solver.config, 115)[1].tobytes()
        reading = client.predict(handle_file(str(uploads[-1])), api_name="/solve")[0]
        assert reading == solver.solve([uploads[-1]])[0].text
    assert sent > 2 * bound


def test_every_answer_names_the_model_that_gave_it(client, solver, tmp_path):
    runtime = solver_lib.RUNTIME_NAMES[solver.runtime]
    identity = {"name": "default", "source": "bundled default model", "revision": solver.revision,
                "runtime": runtime, "fallback": None}
    assert identity["revision"].startswith("sha256:")
    line = f"Answered by **default**: bundled default model, revision `{solver.revision}`, run by {runtime}."
    assert line in client.predict("", 3, api_name="/generate")[3]
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=13)[1].save(path)
    assert line in client.predict(handle_file(str(path)), api_name="/solve")[3]
    summary, _, _, report = client.predict(5, 1, api_name="/evaluate")
    assert line in summary and report["model"] == identity
    assert "**Fallback:**" not in summary


@pytest.mark.slow
def test_a_fallback_is_visible_in_every_answer_of_the_model_it_stands_in_for(hub_server, solver, tmp_path):
    blocks = app.build_demo(app.make_actions(*app.load_first("tester/missing")))
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=13)[1].save(path)
    with serving(blocks) as url:
        client = Client(url, verbose=False)
        fallback = "**Fallback:** Could not load the model 'tester/missing', so the bundled model is used instead"
        assert fallback in client.predict("", 3, api_name="/generate")[3]
        assert fallback in client.predict(handle_file(str(path)), api_name="/solve")[3]
        summary, _, _, report = client.predict(5, 1, api_name="/evaluate")
        assert fallback in summary
        assert report["model"]["name"] == "default"
        assert report["model"]["fallback"].startswith("Could not load the model 'tester/missing'")
        # A model chosen on purpose is no fallback.
        assert "Fallback" not in client.predict("", 3, 6, "", "ctc", api_name="/generate")[3]


def test_each_generated_picture_is_stored_once(client, tmp_path):
    """N calls of /generate leave N pictures on the server's disk: the store's files, served where they lie.

    The server's files are its picture store's folder and Gradio's cache (GRADIO_TEMP_DIR), the store's folder
    lying inside it; the session's client saves what it receives elsewhere, so every copy found is the server's.
    """
    count = 12
    served = []
    for seed in range(910_000, 910_000 + count):
        with open(client.predict("", seed, api_name="/generate")[0], "rb") as picture:
            served.append(hashlib.sha256(picture.read()).hexdigest())
    assert len(set(served)) == count
    on_disk = []
    for folder in {gr.utils.get_upload_folder(), app.ACTIONS.store.folder}:
        for root, _, names in os.walk(folder):
            for name in names:
                if name.endswith(".png"):
                    with contextlib.suppress(FileNotFoundError), open(os.path.join(root, name), "rb") as file:
                        on_disk.append((os.path.join(root, name), hashlib.sha256(file.read()).hexdigest()))
    copies = {path for path, digest in on_disk if digest in set(served)}
    assert len(copies) == count, sorted(copies)


def concurrent_solves(url, paths, clients, requests_each):
    """`clients` Clients sending `requests_each` /solve requests at once: [(reading or None, refusal or None)]."""
    sessions = [Client(url, verbose=False, download_files=False) for _ in range(clients)]

    def visit(number):
        outcomes = []
        for request in range(requests_each):
            try:
                path = paths[(number + request) % len(paths)]
                outcomes.append((sessions[number].predict(handle_file(str(path)), api_name="/solve")[0], None))
            except Exception as error:  # noqa: BLE001 - a refusal of any kind is what is counted
                outcomes.append((None, str(error)))
        return outcomes

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return [outcome for outcomes in pool.map(visit, range(clients)) for outcome in outcomes]


@pytest.fixture(scope="module")
def captcha_files(solver, tmp_path_factory):
    folder = tmp_path_factory.mktemp("captchas")
    paths = []
    for index in range(10):
        path = folder / f"{index}.png"
        rendering.sample_captcha(solver.config, 26, index)[1].save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_fifty_clients_at_once_are_all_served_in_shared_model_calls(solver, captcha_files):
    captcha_app = app.make_actions(solver, None, "default")
    reader = captcha_app.models.get("default").reader
    expected = {path: solver.solve([str(path)])[0].text for path in captcha_files}
    with serving(app.build_demo(captcha_app)) as url:
        calls = reader.calls
        outcomes = concurrent_solves(url, captcha_files, 50, 2)
    assert [refusal for _, refusal in outcomes if refusal] == []
    assert sorted(reading for reading, _ in outcomes) == sorted(
        expected[captcha_files[(number + request) % 10]] for number in range(50) for request in range(2))
    # Readings that were in flight together went through the network together.
    assert reader.calls - calls < len(outcomes)


@pytest.mark.slow
def test_a_flood_beyond_the_queue_is_refused_with_a_clear_message(solver, captcha_files, monkeypatch):
    monkeypatch.setattr(app, "QUEUE_SIZE", 6)
    monkeypatch.setattr(app, "READING_CONCURRENCY", 2)
    with serving(app.build_demo(app.make_actions(solver, None, "default"))) as url:
        outcomes = concurrent_solves(url, captcha_files, 40, 1)
        refusals = [refusal for _, refusal in outcomes if refusal]
        assert refusals and all("Queue is full" in refusal for refusal in refusals)
        # The server goes on serving.
        assert Client(url, verbose=False).predict(handle_file(str(captcha_files[0])), api_name="/solve")[0]
