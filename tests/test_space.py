"""The app as a public Space: bounded disk, the model named in every answer, many visitors at once.

The served app is driven through gradio_client, as in test_app.py. Remote payloads refused
before any download are in test_local_files.py.
"""

import concurrent.futures
import contextlib
import hashlib
import os
import threading

import gradio as gr
import numpy as np
import pytest
from app_server import serving
from gradio_client import Client, handle_file
from PIL import Image

import app
from captcha_model import load_solver
from captcha_model.data import rendering
from captcha_model.reading import solver as solver_lib

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


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
        # Pictures of this size go to the general model, which the app names.
        reading, _, _, details = client.predict(handle_file(str(uploads[-1])), api_name="/solve")
        assert "Answered by **general**" in details
        assert reading == load_solver("general").solve([uploads[-1]])[0].text
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
    # Each client connects in its own thread, then all send together.
    everyone_connected = threading.Barrier(clients)

    def visit(number):
        session = Client(url, verbose=False, download_files=False)
        everyone_connected.wait(timeout=120)
        outcomes = []
        for request in range(requests_each):
            try:
                path = paths[(number + request) % len(paths)]
                outcomes.append((session.predict(handle_file(str(path)), api_name="/solve")[0], None))
            except Exception as error:  # noqa: BLE001 - a refusal of any kind is what is counted
                outcomes.append((None, str(error)))
        # Its open event stream would hold the server's shutdown for its whole grace period.
        session.close()
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
