"""Reliability and security: hostile uploads, many visitors, a full disk at start-up, secrets.

A public demo gets every kind of input and many visitors at once. Here the served app
(through gradio_client), the CLI and train.py meet each of them, and must answer with a
reading or a clear message, keep memory bounded and go on serving. Load figures are printed
to the terminal even when pytest captures output. Untrusted model files, and saves cut short
by a crash or a full disk, are in test_model_file.py.
"""

import collections
import io
import json
import logging
import os
import re
import shutil
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from app_server import serving
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from gradio_client.utils import Status
from hub_server import TOKEN
from PIL import Image

import app
import train
from captcha_app import demo_actions
from captcha_model import image_input, load_solver
from captcha_model.__main__ import main
from captcha_model.data import rendering

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Gradio's queue calls a pandas API that pandas 3 deprecates; nothing here can act on it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

# Every refusal of a file's content names the formats that are accepted.
FORMATS = "accepted formats are PNG, JPEG, GIF, WEBP, BMP, TIFF"
PIXELS = f"{image_input.MAX_PIXELS:,} pixels"
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "F"]
# Uploads whose reading must be the captcha's text: all but the one-bit image, which loses the
# anti-aliasing the model reads, and the blank 1x1 image.
READ_AS_TEXT = {"animated-gif", *(f"mode-{mode}" for mode in MODES if mode != "1")}
UPLOADS = [
    "empty-file", "text-file", "svg", "random-bytes", "truncated-png", "truncated-jpeg", "icon",
    "decompression-bomb", "5000x5000", "1x1", "animated-gif", *(f"mode-{mode}" for mode in MODES),
]
OVERSIZED_BYTES = 50 * 2**20


def encoded(image, file_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=file_format, **options)
    return buffer.getvalue()


def claimed_canvas_png(width, height):
    """A valid PNG header claiming a `width` x `height` canvas, with almost no pixel data behind it."""
    png = encoded(Image.new("1", (1, 1)), "PNG")
    header = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + png[24:29]
    return png[:12] + header + zlib.crc32(header).to_bytes(4, "big") + png[33:]


def in_mode(image, mode):
    """The captcha in PIL mode `mode`, saved in a format that keeps that mode."""
    converted = image.convert("L").convert(mode) if mode in ("I;16", "F") else image.convert(mode)
    return encoded(converted, {"CMYK": "JPEG", "F": "TIFF"}.get(mode, "PNG"))


@pytest.fixture(scope="module")
def captcha(config):
    """(text, image) of the captcha the hostile uploads are made from."""
    return rendering.sample_captcha(config, seed=31)


@pytest.fixture(scope="module")
def uploads(captcha, tmp_path_factory):
    """Every kind of file a visitor may send, as {name: (path, refusal)}, in the order of UPLOADS.

    `refusal` is the regular expression of the message refusing the file, or None where
    the file is an image that must be read.
    """
    image = captcha[1]
    folder = tmp_path_factory.mktemp("uploads")
    frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    contents = {
        "empty-file": (b"", "The file is empty; expected a PNG, JPEG"),
        "text-file": (b"this is not an image\n", FORMATS),
        "svg": (b"<svg xmlns='http://www.w3.org/2000/svg' width='170' height='80'/>", FORMATS),
        "random-bytes": (np.random.default_rng(0).bytes(5000), FORMATS),
        "truncated-png": (encoded(image, "PNG")[:2000], f"damaged or truncated.*{FORMATS}"),
        "truncated-jpeg": (encoded(image, "JPEG")[:400], FORMATS),
        "icon": (encoded(Image.new("RGB", (32, 32)), "ICO"), f"ICO images are not accepted; {FORMATS}"),
        "decompression-bomb": (claimed_canvas_png(60000, 60000), f"claims a canvas far beyond the {PIXELS}"),
        "5000x5000": (encoded(Image.new("1", (5000, 5000)), "PNG"), f"5000x5000; at most {PIXELS}"),
        "1x1": (encoded(Image.new("RGB", (1, 1), "white"), "PNG"), None),
        "animated-gif": (encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]), None),
        **{f"mode-{mode}": (in_mode(image, mode), None) for mode in MODES},
    }
    assert list(contents) == UPLOADS
    files = {}
    for name, (content, refusal) in contents.items():
        path = folder / name.replace(";", "-")
        path.write_bytes(content)
        files[name] = (path, refusal)
    return files


@pytest.fixture(scope="module")
def oversized(tmp_path_factory):
    """A 50 MB file starting like a PNG; sparse, so it costs no disk."""
    path = tmp_path_factory.mktemp("oversized") / "huge.png"
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(OVERSIZED_BYTES)
    return path


@pytest.fixture(scope="module")
def good_captcha(solver, tmp_path_factory):
    """(path, reading) of a plain PNG captcha, read after each hostile upload.

    The reading is the package's own, so that the server is checked for answering as it
    should, whatever the accuracy of the bundled model.
    """
    path = tmp_path_factory.mktemp("good") / "captcha.png"
    rendering.sample_captcha(solver.config, seed=8)[1].save(path)
    return path, solver.solve([str(path)])[0].text


@pytest.fixture(scope="module")
def url():
    with serving() as address:
        yield address


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


def solve(client, path):
    return client.predict(handle_file(str(path)), api_name="/solve")


# Hostile uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", UPLOADS)
def test_every_kind_of_upload_gets_a_reading_or_says_what_is_accepted(
        client, solver, uploads, captcha, good_captcha, name):
    path, refusal = uploads[name]
    if refusal is None:
        reading, confidences, _, details = solve(client, path)
        # The app reads the file exactly as the package does, with the general model where the default one never
        # read pictures of its size.
        with Image.open(path) as image:
            reader = solver if solver.config.covers(*image.size) else load_solver("general")
        assert reading == reader.solve([str(path)])[0].text
        assert "".join(item["token"] for item in confidences) == reading
        assert details.startswith(f"Read `{reading or '(nothing)'}`")
        if name in READ_AS_TEXT:
            assert reading == captcha[0], details
    else:
        with pytest.raises(AppError, match=refusal):
            solve(client, path)
    good, expected = good_captcha
    assert solve(client, good)[0] == expected


def test_an_oversized_file_is_refused_by_the_client_and_by_the_server(client, url, oversized, good_captcha):
    with pytest.raises(ValueError, match=f"maximum file size of {image_input.MAX_FILE_BYTES} bytes"):
        solve(client, oversized)
    # A client that does not check is cut off by the server once the limit is passed.
    with open(oversized, "rb") as handle:
        response = httpx.post(f"{url}gradio_api/upload", files={"files": ("huge.png", handle)}, timeout=60)
    assert response.status_code == 413
    assert f"maximum allowed size of {image_input.MAX_FILE_BYTES} bytes" in response.text
    good, expected = good_captcha
    assert solve(client, good)[0] == expected


def test_the_page_states_the_limits(client):
    page = json.dumps(client.config)
    assert f"up to {image_input.MAX_FILE_BYTES // 2**20} MB and {image_input.MAX_PIXELS:,} pixels" in page
    assert f"At most {demo_actions.MAX_EVALUATION_COUNT:,} per run" in page
    assert f"at most {app.MAX_WAITING_EVALUATIONS} waiting" in page
    assert client.config["max_file_size"] == image_input.MAX_FILE_BYTES


def test_a_forged_request_cannot_make_the_app_open_a_server_file(client, good_captcha):
    good, expected = good_captcha
    # gradio_client uploads only payloads marked as files; a bare path reaches the server as it is.
    for forged in ({"path": str(good)}, {"path": "/no/such/file.png"}, {"path": "/etc/hostname"}):
        with pytest.raises(AppError, match="names no file the server received"):
            client.predict(forged, api_name="/solve")
    assert solve(client, good)[0] == expected


def test_the_cli_reads_or_refuses_every_kind_of_file_and_keeps_going(uploads, oversized, good_captcha, capsys):
    good, expected = good_captcha
    paths = [str(path) for path, _ in uploads.values()] + [str(oversized), str(good)]
    assert main(["solve", *paths]) == 1
    captured = capsys.readouterr()
    read = dict(line.split("\t")[:2] for line in captured.out.splitlines())
    for path, refusal in uploads.values():
        if refusal is None:
            assert str(path) in read
        else:
            assert re.search(f"^{re.escape(str(path))}: .*{refusal}", captured.err, re.MULTILINE), path
    limit = f"{image_input.MAX_FILE_BYTES // 2**20} MB"
    assert f"{oversized}: {oversized} is larger than the {limit} accepted.\n" in captured.err
    assert read[str(good)] == expected


def resident_megabytes(field):
    """VmRSS (resident now) or VmHWM (resident at the peak) of this process, in MB."""
    with open("/proc/self/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)[1]) // 1024


@pytest.mark.slow
@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's peak-memory reset")
def test_hostile_uploads_keep_the_servers_memory_bounded(client, uploads, oversized, good_captcha, capsys):
    # Decoding the bomb alone would take 3.4 GB, and the 5000x5000 image 100 MB as RGBA.
    solve(client, good_captcha[0])
    baseline = resident_megabytes("VmRSS")
    # Writing 5 resets the peak to the current size (Linux 4.0 and later).
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    for _ in range(2):
        for path, _ in [*uploads.values(), (oversized, None)]:
            try:
                solve(client, path)
            except ValueError:
                pass
    growth = resident_megabytes("VmHWM") - baseline
    with capsys.disabled():
        print(f"\npeak memory growth of the server over two rounds of hostile uploads: {growth} MB")
    assert growth < 64


# Many visitors at once ---------------------------------------------------------------------

READINGS = 200
VISITORS = 24


@pytest.mark.slow
def test_200_concurrent_readings_all_succeed_in_time(client, solver, config, tmp_path, capsys, record_property):
    # Fewer visitors than the queue holds, with room to spare for waiting evaluations.
    assert VISITORS <= app.QUEUE_SIZE - app.MAX_WAITING_EVALUATIONS
    captchas = []
    for index in range(8):
        path = tmp_path / f"captcha-{index}.png"
        rendering.sample_captcha(config, seed=50, index=index)[1].save(path)
        # What the package reads alone is what every concurrent reading must return.
        captchas.append((path, solver.solve([str(path)])[0].text))
    shared = Client(client.src, verbose=False, max_workers=VISITORS)

    def read(number):
        path, expected = captchas[number % len(captchas)]
        started = time.perf_counter()
        reading = shared.predict(handle_file(str(path)), api_name="/solve")[0]
        return time.perf_counter() - started, reading == expected

    started = time.perf_counter()
    with ThreadPoolExecutor(VISITORS) as pool:
        results = list(pool.map(read, range(READINGS), timeout=180))
    wall = time.perf_counter() - started
    latencies = np.array([latency for latency, _ in results])
    record_property("readings_per_second", round(READINGS / wall, 2))
    record_property("latency_p95_seconds", round(float(np.percentile(latencies, 95)), 3))
    summary = (
        f"{READINGS} /solve calls from {VISITORS} threads (the app reads {app.READING_CONCURRENCY} at a time): "
        f"{READINGS / wall:.1f} readings/s, latency p50 {np.percentile(latencies, 50):.2f} s, "
        f"p95 {np.percentile(latencies, 95):.2f} s, max {latencies.max():.2f} s, {wall:.1f} s in all"
    )
    with capsys.disabled():
        print(f"\n{summary}")
    assert all(right for _, right in results), summary
    assert wall < 150 and np.percentile(latencies, 95) < 20, summary


def test_visitors_shown_the_same_captcha_at_once_each_get_it_whole(url, config):
    # Every first page load draws the same captcha, so its picture is asked for many times at once.
    shared = Client(url, verbose=False, max_workers=VISITORS)
    expected = rendering.sample_captcha(config, 8, text="7K2P")[1].tobytes()

    def draw(_):
        with Image.open(shared.predict("7K2P", 8, api_name="/generate")[0]) as image:
            return image.convert("RGB").tobytes() == expected

    with ThreadPoolExecutor(VISITORS) as pool:
        assert all(pool.map(draw, range(2 * VISITORS), timeout=120))


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


def test_readings_are_answered_while_an_evaluation_runs(client, url, good_captcha):
    good, expected = good_captcha
    evaluation = Client(url, verbose=False).submit(600, 5, api_name="/evaluate")
    wait_for(lambda: evaluation.status().code in (Status.PROCESSING, Status.PROGRESS), 30, "the evaluation's start")
    latencies = []
    while not evaluation.done():
        started = time.perf_counter()
        assert solve(client, good)[0] == expected
        latencies.append(time.perf_counter() - started)
    assert len(latencies) >= 5, f"only {len(latencies)} readings while an evaluation of 600 captchas ran"
    assert max(latencies) < 5
    assert evaluation.result()[3]["count"] == 600


@pytest.mark.slow
def test_a_flood_of_evaluations_is_refused_and_leaves_readings_room(client, url, good_captcha):
    good, expected = good_captcha
    evaluator = Client(url, verbose=False, max_workers=40)
    # More than the whole queue holds: without a limit of their own they would fill it.
    jobs = [evaluator.submit(300, seed, api_name="/evaluate") for seed in range(app.QUEUE_SIZE + 4)]
    try:
        wait_for(lambda: all(job.done() or job.status().code in (Status.IN_QUEUE, Status.PROCESSING, Status.PROGRESS)
                             for job in jobs), 60, "every evaluation's admission or refusal")
        refused = [job for job in jobs if job.done() and isinstance(job.exception(), ValidationError)]
        for job in refused:
            assert "evaluations are already waiting" in str(job.exception())
        # One evaluation runs, at most MAX_WAITING_EVALUATIONS wait, and the page's own count finds them.
        assert len(jobs) - len(refused) <= app.MAX_WAITING_EVALUATIONS + 1
        waiting = app.EVALUATIONS.waiting()
        assert 1 <= waiting <= app.MAX_WAITING_EVALUATIONS
        assert solve(client, good)[0] == expected
    finally:
        for job in jobs:
            job.cancel()


# Training faults ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_fails_at_start_up(tmp_path):
    output = tmp_path / "run"
    output.mkdir()
    # Writes to /dev/full fail as they would on a full disk: "No space left on device".
    (output / ".write-test").symlink_to("/dev/full")
    started = time.monotonic()
    with pytest.raises(ValueError, match="Cannot write to output directory .*No space left on device"):
        train.main(["--output", str(output)])
    assert time.monotonic() - started < 5


def test_too_little_room_for_the_model_or_the_training_cache_fails_at_start_up(tmp_path, monkeypatch):
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**40, 2**40 - 50 * 2**20, 50 * 2**20))
    with pytest.raises(ValueError, match="Only 50 MB free under .*; training needs at least 100 MB"):
        train.main(["--output", str(tmp_path / "run")])
    # Room for the model, but not for the 1.4 GB of captchas rendered before the first step.
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**40, 2**40 - 500 * 2**20, 500 * 2**20))
    with pytest.raises(ValueError, match=r"Only 500 MB free under .*cache.*; the cache of 400,000 rendered captchas "
                                         r"\(--train-size\) needs at least 1,3\d\d MB"):
        train.main(["--output", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")])
    assert os.listdir(tmp_path / "cache") == []


# Secrets -----------------------------------------------------------------------------------


def test_the_token_never_reaches_the_page_the_api_or_the_logs(hub_server, good_captcha, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    # The Hub receives the token with the request, and answers that the repo does not exist.
    captcha_app = app.make_actions(*app.load_first("tester/no-such-model"))
    assert captcha_app.models.notice.startswith("Could not load the model 'tester/no-such-model'")
    good, expected = good_captcha
    with serving(app.build_demo(captcha_app)) as address:
        pages = [httpx.get(f"{address}{path}", timeout=30).text for path in ("", "config", "gradio_api/info")]
        assert Client(address, verbose=False).predict(handle_file(str(good)), api_name="/solve")[0] == expected
    assert any(request[1].startswith("/api/models/tester/no-such-model") for request in hub_server.requests)
    assert "Could not load the model 'tester/no-such-model'" in pages[1]
    for output in [*pages, *capfd.readouterr(), caplog.text]:
        assert TOKEN not in output
