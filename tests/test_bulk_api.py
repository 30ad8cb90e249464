"""POST /bulk/solve: many images in one request, one JSON reading per image, the app's limits and messages."""

import io

import httpx
import pytest
from PIL import Image

from captcha_app import bulk_api
from captcha_model import image_input
from captcha_model.data import rendering
from captcha_model.reading import solver as solver_lib

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


@pytest.fixture(scope="module")
def url(app_url):
    return f"{app_url.rstrip('/')}{bulk_api.PATH}"


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def post(url, files, **fields):
    return httpx.post(url, files=[("files", (name, content, "image/png")) for name, content in files], data=fields,
                      timeout=120)


def test_a_hundred_captchas_are_read_in_one_request(url, solver):
    captchas = [rendering.sample_captcha(solver.config, 17, index) for index in range(100)]
    answer = post(url, [(f"{index}.png", png(image)) for index, (_, image) in enumerate(captchas)])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"]["name"] == "default" and body["model"]["revision"] == solver.revision
    expected = solver.solve([image for _, image in captchas])
    assert [record["file"] for record in body["readings"]] == [f"{index}.png" for index in range(100)]
    for record, reading in zip(body["readings"], expected, strict=False):
        assert record["text"] == reading.text
        assert record["confidence"] == pytest.approx(reading.confidence, abs=1e-5)
        assert [item["character"] for item in record["characters"]] == list(reading.text)
    assert sum(record["text"] == text for record, (text, _) in zip(body["readings"], captchas, strict=False)) >= 97


def test_each_bad_file_gets_the_apps_own_message_and_the_others_are_read(url, solver):
    text, image = rendering.sample_captcha(solver.config, 18)
    files = [
        ("good.png", png(image)),
        ("text.png", b"this is not an image"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(image_input.MAX_FILE_BYTES)),
        ("big-canvas.png", png(Image.new("1", (5000, 5000)))),
        ("empty.png", b""),
    ]
    records = post(url, files).json()["readings"]
    assert records[0]["text"] == solver.solve([image])[0].text
    for (name, content), record in zip(files[1:], records[1:], strict=False):
        with pytest.raises(ValueError) as expected:
            image_input.open_image(content)
        assert record == {"file": name, "error": str(expected.value)}
    assert "larger than the 10 MB accepted" in records[2]["error"]


def test_other_models_and_malformed_requests(url, solver):
    ctc = solver_lib.load_solver("ctc")
    _, image = rendering.sample_captcha(ctc.config.at(160, 60, 5), 19)
    body = post(url, [("a.png", png(image))], model="ctc").json()
    assert body["model"]["name"] == "ctc" and body["readings"][0]["text"] == ctc.solve([image])[0].text
    refused = post(url, [("a.png", png(image))], model="no-such-model")
    assert refused.status_code == 400 and "Unknown model 'no-such-model'" in refused.json()["error"]
    refused = httpx.post(url, data={"model": "default"}, timeout=30)
    assert refused.status_code == 400 and "multipart field 'files'" in refused.json()["error"]
    refused = post(url, [(f"{index}.png", b"x") for index in range(bulk_api.MAX_IMAGES + 1)])
    assert refused.status_code == 400 and f"at most {bulk_api.MAX_IMAGES} files" in refused.json()["error"]


def test_a_request_beyond_the_size_limit_is_refused_before_it_is_read(url, monkeypatch):
    monkeypatch.setattr(bulk_api, "MAX_REQUEST_BYTES", 4096)
    refused = post(url, [("a.png", bytes(8192))])
    assert refused.status_code == 413 and "bytes; at most 4,096 bytes are accepted" in refused.json()["error"]
