"""Bulk reading over HTTP: `POST /bulk/solve` with many image files, one JSON answer.

For those who read captchas by the hundred: a multipart request with up to
MAX_IMAGES files (form field `files`, and optionally `model`) is answered with one reading
per file, in order, each with its per-character confidences, or the reason the file was
refused. Each file meets the app's own limits and messages (`image_input.open_image`), and all
the good ones go through the network together, in calls shared with the app's other
readings. The whole request is refused, before it is read, beyond MAX_REQUEST_BYTES.

    curl -F files=@a.png -F files=@b.png http://127.0.0.1:7860/bulk/solve
"""

import gradio as gr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from captcha_model.image_input import open_image

PATH = "/bulk/solve"
MAX_IMAGES = 1000
MAX_REQUEST_BYTES = 100 * 2**20


def refusal(status, message):
    return JSONResponse({"error": message}, status_code=status)


def reading_record(name, reading):
    """One file's answer: the text read, its confidence and each character's."""
    return {
        "file": name,
        "text": reading.text,
        "confidence": round(reading.confidence, 6),
        "characters": [{"character": character, "confidence": round(confidence, 6)}
                       for character, confidence in reading.characters()],
    }


def read_files(files, read, model):
    """[(file name, bytes)] -> one record per file: its reading, or the reason it was refused.

    `read(images, model)` returns the readings of decoded images (and anything else, ignored).
    """
    records, images, positions = [], [], []
    for name, content in files:
        try:
            images.append(open_image(content))
        except ValueError as error:
            records.append({"file": name, "error": str(error)})
            continue
        positions.append(len(records))
        records.append(None)
    if images:
        for position, reading in zip(positions, read(images, model)[0], strict=True):
            records[position] = reading_record(files[position][0], reading)
    return records


def route(read, identity):
    """The Starlette route of `POST /bulk/solve`.

    `read(images, model)` reads decoded images with the model named `model` (None: the
    app's first), `identity(model)` describes that model; both raise ValueError or `gr.Error`
    for an unknown model.
    """

    async def bulk_solve(request: Request):
        length = request.headers.get("content-length")
        if length is None:
            return refusal(411, "Send the request with a Content-Length header.")
        if int(length) > MAX_REQUEST_BYTES:
            return refusal(413, f"The request is {int(length):,} bytes; at most {MAX_REQUEST_BYTES:,} bytes are "
                                "accepted at once. Send the images in several requests.")
        try:
            form = await request.form(max_files=MAX_IMAGES, max_fields=10)
        except HTTPException as error:
            return refusal(400, f"{error.detail} Send at most {MAX_IMAGES} files in the field 'files'.")
        try:
            uploads = form.getlist("files")
            if not uploads or any(isinstance(upload, str) for upload in uploads):
                return refusal(400, "Send the images as files in the multipart field 'files' "
                                    "(curl -F files=@captcha.png ...).")
            files = [(upload.filename, await upload.read()) for upload in uploads]
            model = form.get("model") or None
            try:
                records = await run_in_threadpool(read_files, files, read, model)
                answered_by = await run_in_threadpool(identity, model)
            except (ValueError, gr.Error) as error:
                return refusal(400, getattr(error, "message", str(error)))
        finally:
            await form.close()
        return JSONResponse({"model": answered_by, "readings": records})

    return Route(PATH, bulk_solve, methods=["POST"])
