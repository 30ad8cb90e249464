"""The app as a public Space: bounded disk, remote payloads refused before any download.

The served app is driven through gradio_client, as in test_app.py.
"""

import concurrent.futures
import os

import gradio.processing_utils
import numpy as np
import pytest
from app_server import serving
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from captcha_model.data import rendering

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
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=12)[1].save(path)
    assert client.predict(handle_file(str(path)), api_name="/solve")[0] == solver.solve([str(path)])[0].text
    assert downloads == []


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


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
        assert client.predict(handle_file(str(uploads[-1])), api_name="/solve")[0] == solver.solve([uploads[-1]])[0].text
    assert sent > 2 * bound


def test_every_answer_names_the_model_that_gave_it(client, solver, tmp_path):
    identity = {"name": "default", "source": "bundled default model", "revision": solver.revision, "fallback": None}
    assert identity["revision"].startswith("sha256:")
    line = f"Answered by **default**: bundled default model, revision `{solver.revision}`."
    assert line in client.predict("", 3, api_name="/generate")[3]
    path = tmp_path / "captcha.png"
    rendering.sample_captcha(solver.config, seed=13)[1].save(path)
    assert line in client.predict(handle_file(str(path)), api_name="/solve")[3]
    summary, _, _, report = client.predict(5, 1, api_name="/evaluate")
    assert line in summary and report["model"] == identity
    assert "**Fallback:**" not in summary


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


def test_a_flood_beyond_the_queue_is_refused_with_a_clear_message(solver, captcha_files, monkeypatch):
    monkeypatch.setattr(app, "QUEUE_SIZE", 6)
    monkeypatch.setattr(app, "READING_CONCURRENCY", 2)
    with serving(app.build_demo(app.make_actions(solver, None, "default"))) as url:
        outcomes = concurrent_solves(url, captcha_files, 40, 1)
        refusals = [refusal for _, refusal in outcomes if refusal]
        assert refusals and all("Queue is full" in refusal for refusal in refusals)
        # The server goes on serving.
        assert Client(url, verbose=False).predict(handle_file(str(captcha_files[0])), api_name="/solve")[0]
