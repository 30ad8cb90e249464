"""The captcha-break web demo and API: `python app.py`, or the Hugging Face Space.

Three tabs draw a captcha of a chosen length and size and read it, read an uploaded
image, and measure accuracy on fresh captchas; a fourth describes the model. The
readings of the first two come with a saliency map per character: what the model read
it from. Each tab's button is also a named API endpoint (`/generate`, `/solve`,
`/explain`, `/evaluate`) for `gradio_client`.

Visitors choose the model at the top of the page among those bundled with
`captcha_model` and the one `--model` or the CAPTCHA_MODEL environment variable names
(a .keras file or a Hub repo); without either, the bundled `default` model is chosen,
so the demo works offline. Every endpoint takes the model's name as its last,
optional parameter.

Serving: http://127.0.0.1:7860 unless GRADIO_SERVER_NAME or GRADIO_SERVER_PORT say
otherwise. `--runtime onnx` reads with ONNX Runtime (the default where TensorFlow is not
installed, as with requirements-light.txt); saliency maps and the network's diagram and
Keras summary then are left out, since they need TensorFlow.

Everything about models, data and scoring lives in `captcha_model`; this file only
turns its results into components. The module-level `demo` is what Spaces and the
tests serve, built around the chosen model, loaded once at import; the others are
loaded when a visitor first picks them.
"""

import argparse
import collections
import dataclasses
import functools
import hashlib
import math
import os
import secrets
import tempfile
import threading
import time

import gradio as gr
from PIL import Image

from captcha_model import bulk_api, config as config_lib, data, evaluation, hub, runtime, solver as solver_lib
from captcha_model.local_files import local_image
from captcha_model.picture_store import PictureStore
from captcha_model.shared_reader import SharedReader

# The bundled model `captcha_model.load_solver(None)` loads, chosen when no other is named.
DEFAULT_MODEL = "default"
MAX_EVALUATION_COUNT = 2000
# The queue holds at most QUEUE_SIZE waiting requests of every kind, and runs up to
# READING_CONCURRENCY readings at once, whose images go through the network together (see
# captcha_model.shared_reader): fifty visitors at once are served, a flood beyond is refused.
# Evaluations run one at a time in their own lane and take many seconds, so at most
# MAX_WAITING_EVALUATIONS may wait: however many visitors ask for evaluations, readings keep
# most of the queue.
QUEUE_SIZE = 96
READING_CONCURRENCY = 16
EVALUATION_LANE = "evaluate"
MAX_WAITING_EVALUATIONS = 4
DEFAULT_EVALUATION_COUNT = 200
# An uploaded .zip of labelled captchas may unpack to this much; it holds at most MAX_EVALUATION_COUNT.
MAX_ZIP_BYTES = 50 * 2**20
# The pictures of answers and the uploads read are deleted, oldest first, beyond this many
# bytes or this age; Gradio deletes every other file it made for the app on the same schedule.
MAX_STORED_BYTES = 256 * 2**20
MAX_STORED_AGE_SECONDS = 3600
CACHE_CHECK_SECONDS = 600
MAX_FAILURES_SHOWN = 24
# train.py draws from the streams --seed, --seed + 10**6 and --seed + 2 * 10**6 (seeds 1000,
# 5000 and 7000 for the bundled default model and 14000 for its referee, 3000, 6000, 9000 and
# 13000 for the ctc one), so with the usual small seeds, random captchas from here on are ones
# no model trained on.
FRESH_SEEDS = range(10**7, 10**9)
DEFAULT_GENERATE_SEED = 7
DEFAULT_EVALUATION_SEED = 424242
# Seeds and formats of the example uploads: one captcha per accepted family of files.
EXAMPLE_UPLOADS = [(101, "png"), (102, "jpeg"), (103, "gif"), (104, "webp"), (105, "bmp")]
# The network's input is small (80x176 for the default model, 40x88 for ctc); it is
# enlarged with square pixels so visitors see exactly the pixels the model reads.
MODEL_INPUT_DISPLAY_WIDTH = 352
# The captcha sizes the app draws, (smallest, largest) in pixels. The captcha library draws
# any size, but below these the characters overlap into a smudge, and above them the
# picture is no longer a captcha.
CAPTCHA_WIDTHS = (40, 400)
CAPTCHA_HEIGHTS = (20, 200)
SIZES_TEXT = f"{CAPTCHA_WIDTHS[0]}x{CAPTCHA_HEIGHTS[0]} to {CAPTCHA_WIDTHS[1]}x{CAPTCHA_HEIGHTS[1]}"
# The length the generate tab starts at for a model that reads several: the most common one.
TYPICAL_LENGTH = 4

THEME = gr.themes.Soft(
    primary_hue="indigo",
    # System fonts: the default theme fetches web fonts, which an offline demo cannot.
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "monospace"],
)
CSS = """
.gradio-container { max-width: 1120px !important; margin: 0 auto !important; }
#model-input img { image-rendering: pixelated; }
/* Gradio shows images no larger than they are; a 170x80 captcha reads better enlarged. */
#generated-image img, #upload-image img { width: 340px !important; max-width: 100% !important; height: auto !important; object-fit: contain !important; }
#verdict p { font-size: 1.1rem; }
/* Saliency thumbnails show the whole captcha, not a square crop of it. */
#generated-saliency img, #upload-saliency img { object-fit: contain !important; }
"""


def load_app_solver(source, strict=False, runtime_name=None):
    """(solver, notice, name): the model to serve first, a note for visitors or None, and its name.

    `source` is a bundled model's name, a .keras path, a Hub repo OWNER/NAME[@REVISION],
    or None for the bundled default model; a model that cannot be had is replaced by the
    bundled default one, and the notice says so on the page and in every answer of that
    model; with `strict`, it raises ValueError instead. The name is how the page's model
    choice lists it: the source as given, or the bundled model's name.
    """
    solver, notice = hub.load_solver_with_fallback(source, strict, runtime_name)
    return solver, notice, DEFAULT_MODEL if notice or not source else source


def user_error(message):
    """A `gr.Error` for a visitor's mistake: shown to them, not logged as a crash."""
    return gr.Error(str(message), print_exception=False)


def whole_number(value, name):
    """A component's number as an int, or a clear error for empty or fractional input."""
    if value is None or str(value).strip() == "":
        raise user_error(f"Enter a {name}.")
    try:
        number = float(value)
    except ValueError:
        raise user_error(f"The {name} must be a whole number, got {value!r}.") from None
    if number != int(number):
        raise user_error(f"The {name} must be a whole number, got {value}.")
    return int(number)


def validation(check):
    """`gr.validate` for one input: valid unless `check()` raises ValueError, whose message is shown."""
    try:
        check()
    except ValueError as error:
        return gr.validate(False, getattr(error, "message", str(error)))
    return gr.validate(True, "")


def uploaded_path(upload):
    """The path of a file that Gradio received as an upload, or a clear error for anything else.

    `/solve` takes the raw payload, and Gradio only checks payloads marked as files: without
    this, a forged request could have the app open any file on the server by its path.
    """
    path = upload.get("path") if isinstance(upload, dict) else None
    folder = os.path.realpath(gr.utils.get_upload_folder())
    try:
        received = isinstance(path, str) and os.path.commonpath([os.path.realpath(path), folder]) == folder
    except ValueError:
        received = False
    if not received:
        raise user_error("Send the image as an uploaded file; this request names no file the server received.")
    return path


class WaitingLimit:
    """Admits a request only while fewer than `limit` requests of one concurrency lane wait.

    Gradio's queue has one size for every event, so a lane of slow events could fill it
    and leave the others no room. `admit` is called from the event's validator, which
    runs before the request joins the queue, so requests admitted in the last few seconds
    count as waiting too: they may not have joined it yet. `refusal` is the message for
    a request turned away.
    """

    SETTLING_SECONDS = 2.0

    def __init__(self, blocks, lane, limit, refusal):
        self.blocks = blocks
        self.lane = lane
        self.limit = limit
        self.refusal = refusal
        self.recent = collections.deque()
        self.lock = threading.Lock()

    def waiting(self):
        """How many requests of the lane wait in the queue, not counting those running."""
        # Gradio has no public count per lane; its queue keeps one list of waiting events
        # per concurrency id, and the tests check that this still finds them.
        lanes = self.blocks._queue.event_queue_per_concurrency_id
        return len(lanes[self.lane].queue) if self.lane in lanes else 0

    def admit(self):
        """Count one more request in, or raise ValueError saying the lane is full."""
        with self.lock:
            now = time.monotonic()
            while self.recent and now - self.recent[0] > self.SETTLING_SECONDS:
                self.recent.popleft()
            if self.waiting() + len(self.recent) >= self.limit:
                raise ValueError(self.refusal)
            self.recent.append(now)


def charset_summary(charset):
    """'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' -> '0-9, A-Z': runs of 3+ characters as ranges."""
    parts, start = [], 0
    for end in range(1, len(charset) + 1):
        if end == len(charset) or ord(charset[end]) != ord(charset[end - 1]) + 1:
            run = charset[start:end]
            parts.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else ", ".join(run))
            start = end
    return ", ".join(parts)


def length_summary(config):
    if config.fixed_length:
        return f"{config.min_length} characters"
    return f"{config.min_length} to {config.max_length} characters"


def size_summary(config):
    """'170×80', or '120×50 to 240×100' for a model trained on a range of sizes."""
    if config.fixed_size:
        return f"{config.captcha_width}×{config.captcha_height}"
    (low_width, high_width), (low_height, high_height) = config.captcha_width_range, config.captcha_height_range
    return f"{low_width}×{low_height} to {high_width}×{high_height}"


def captcha_summary(config):
    """What a model reads, e.g. '4 characters of 0-9, A-Z, drawn 170×80'."""
    return f"{length_summary(config)} of {charset_summary(config.charset)}, drawn {size_summary(config)}"


def typical_length(config):
    """The length the generate tab proposes for `config`: TYPICAL_LENGTH where the model reads it."""
    return min(max(TYPICAL_LENGTH, config.min_length), config.max_length)


def is_empty(value):
    return value is None or str(value).strip() == ""


def check_length(length, config):
    """A captcha length for `config`, None when empty, or a clear error outside the model's lengths."""
    length = None if is_empty(length) else whole_number(length, "length")
    if length is not None and not config.min_length <= length <= config.max_length:
        accepted = f"{config.min_length}" if config.fixed_length else f"from {config.min_length} to {config.max_length}"
        raise user_error(f"This model reads {length_summary(config)}: the length must be {accepted}, not {length}.")
    return length


def check_size(size):
    """A captcha size 'WIDTHxHEIGHT' as (width, height), None when empty, or a clear error."""
    if is_empty(size):
        return None
    try:
        # Visitors may well copy the page's own "170×80".
        width, height = config_lib.parse_size(str(size).replace("×", "x"))
    except ValueError as error:
        raise user_error(f"{error} Sizes from {SIZES_TEXT} are drawn.") from None
    if not (CAPTCHA_WIDTHS[0] <= width <= CAPTCHA_WIDTHS[1] and CAPTCHA_HEIGHTS[0] <= height <= CAPTCHA_HEIGHTS[1]):
        raise user_error(f"Captchas are drawn from {SIZES_TEXT} pixels (width from {CAPTCHA_WIDTHS[0]} to "
                         f"{CAPTCHA_WIDTHS[1]}, height from {CAPTCHA_HEIGHTS[0]} to {CAPTCHA_HEIGHTS[1]}), "
                         f"not {width}x{height}.")
    return width, height


def captchas_to_draw(config, length=None, size=None):
    """The config of the captchas to draw for a model: `config` at the length and size asked for.

    Empty values keep the model's own: a model trained on a range of lengths or sizes then
    draws from its whole range.
    """
    width, height = check_size(size) or (None, None)
    return config.at(width=width, height=height, length=check_length(length, config))


def percent(value):
    return f"{value:.1%}"


def floor_percent(confidence, decimals=0):
    """A confidence as a percentage rounded down, so that only certainty reads 100%."""
    scale = 10**decimals
    # Rounding to a millionth first keeps float error from turning 0.29 into 28%.
    return f"{math.floor(round(confidence * 100 * scale, 6)) / scale:.{decimals}f}%"


def confidence_category(confidence):
    """A character's confidence as a whole percentage: the categories of `CONFIDENCE_COLORS`."""
    return floor_percent(confidence)


# Every category `confidence_category` can return, coloured by how far to trust it.
CONFIDENCE_COLORS = {
    f"{percentage}%": "#16a34a" if percentage >= 90 else "#f59e0b" if percentage >= 60 else "#dc2626"
    for percentage in range(101)
}


def character_confidences(reading):
    """[('K', '99%'), ...] for `gr.HighlightedText`: each character read, in order, with its confidence."""
    return [(character, confidence_category(confidence)) for character, confidence in reading.characters()]


def verdict(truth, reading):
    """A one-line Markdown judgement of a reading against the captcha's true text."""
    if reading.text == truth:
        return f"✓ **Right**: read `{reading.text}` with {floor_percent(reading.confidence, 1)} confidence."
    read = f"`{reading.text}`" if reading.text else "nothing"
    return f"✗ **Wrong**: the captcha says `{truth}`, the model read {read} ({floor_percent(reading.confidence, 1)} confidence)."


def model_input_picture(pixels, config):
    """What the network reads (one image's `data.preprocess` output), enlarged with square pixels for display."""
    picture = Image.fromarray(pixels[:, :, 0] if config.input_channels == 1 else pixels)
    zoom = max(1, MODEL_INPUT_DISPLAY_WIDTH // config.input_width)
    return picture.resize((config.input_width * zoom, config.input_height * zoom), Image.Resampling.NEAREST)


def save_figure(figure, path):
    """Write a matplotlib figure to `path`."""
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def site_notice(config):
    """What the generate tab says for a model of a site's captchas."""
    return (f"This model reads the captchas of a site ({config.site['source']}), not those the captcha library "
            "draws, so it draws none here: upload one of that site's captchas in *Upload & solve*, or score a .zip "
            "of them in *Accuracy*.")


def write_example_uploads(config, directory):
    """Seeded captchas in each accepted format, for the upload tab: nothing binary is committed.

    File names carry the true text, so a visitor can check the reading.
    """
    paths = []
    for seed, file_format in EXAMPLE_UPLOADS:
        text, image = data.sample_captcha(config, seed)
        # GIF holds a palette and BMP is shown in grayscale, to exercise other image modes.
        image = {"gif": image.convert("P"), "bmp": image.convert("L")}.get(file_format, image)
        path = os.path.join(directory, f"captcha-{text}.{file_format}")
        image.save(path, format=file_format.upper())
        paths.append(path)
    return paths


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A loaded model, its shared reader and the pictures the Model tab shows of it, made once when it is loaded."""

    solver: solver_lib.Solver
    reader: SharedReader
    network_diagram: str
    training_curve: str | None


class CaptchaApp:
    """The functions behind the components, around the models visitors can choose.

    `solver` is the model chosen when the page opens, listed as `name` (default: its
    source); the other choices are the models bundled with `captcha_model`, loaded when a
    visitor first picks them and kept from then on. Each public method takes component
    values and returns component values, so it can be called, tested and served without
    a browser; `model`, the chosen model's name, is the last of them and defaults to `name`.
    """

    def __init__(self, solver, notice=None, name=None):
        self.name = name or solver.source
        self.notice = notice
        # Every model runs on the runtime of the first.
        self.runtime = solver.runtime
        # The pictures of each model and the example uploads last as long as the app; the
        # pictures of answers are stored once, in Gradio's cache, which serves them from there.
        self.files = tempfile.mkdtemp(prefix="captcha-break-")
        cache = gr.utils.get_upload_folder()
        os.makedirs(cache, exist_ok=True)
        self.store = PictureStore(tempfile.mkdtemp(prefix="captcha-break-", dir=cache), MAX_STORED_BYTES,
                                  MAX_STORED_AGE_SECONDS)
        # The first model leads the choice; the bundled ones follow in their own order.
        self.model_names = [self.name, *(name for name in solver_lib.BUNDLED_MODELS if name != self.name)]
        # What each model reads comes from its file's config, so that the page can describe
        # every choice, and refuse a text a model cannot have, without loading its network.
        self.configs = {
            name: solver.config if name == self.name else config_lib.read_config(solver_lib.BUNDLED_MODELS[name])
            for name in self.model_names
        }
        # One lock per model: two first requests for the same model load it once, while
        # the models already loaded keep serving.
        self.loading_locks = {name: threading.Lock() for name in self.model_names}
        self.served_models = {self.name: self.prepare(self.name, solver)}

    def prepare(self, name, solver):
        """A `ServedModel` for a freshly loaded `solver`, warmed up for its first visitor."""
        # Readings before serving build the model's prediction function, so the first visitor
        # does not wait for it and concurrent first requests cannot race; a second batch size
        # makes it take any size, as shared readings come in batches of every size.
        for count in (1, 2):
            solver.solve([data.sample_captcha(solver.config, DEFAULT_GENERATE_SEED, index)[1] for index in range(count)])
        folder = os.path.join(self.files, "model-" + hashlib.sha256(name.encode()).hexdigest()[:16])
        os.makedirs(folder)
        history = (solver.metrics or {}).get("history")
        curve = os.path.join(folder, "training_curve.png") if history else None
        if curve:
            evaluation.plot_training_curve(history, curve)
        # Drawing the network needs its Keras model, which ONNX Runtime does without.
        diagram = None if solver.model is None else save_figure(
            runtime.optional_module("model").plot_network(solver.model), os.path.join(folder, "network.png"))
        return ServedModel(solver, SharedReader(solver), diagram, curve)

    def check_model(self, model):
        """The name of a model visitors can choose: `model`, or this app's first one when empty."""
        model = model or self.name
        if model not in self.configs:
            choices = ", ".join(repr(name) for name in self.model_names)
            raise user_error(f"Unknown model {model!r}; the models are {choices}.")
        return model

    def config_of(self, model=None):
        """The config of the model named `model`, without loading it."""
        return self.configs[self.check_model(model)]

    def served(self, model=None):
        """The `ServedModel` named `model`, loaded on first use."""
        model = self.check_model(model)
        with self.loading_locks[model]:
            if model not in self.served_models:
                try:
                    solver = solver_lib.load_solver(model, self.runtime)
                    self.served_models[model] = self.prepare(model, solver)
                except ValueError as error:
                    raise user_error(f"Could not load the model {model!r}: {error}") from None
        return self.served_models[model]

    def solver_of(self, model=None):
        return self.served(model).solver

    def read(self, images, model=None):
        """Readings of decoded images, in a model call shared with concurrent requests; also their network inputs."""
        served = self.served(model)
        pixels = data.preprocess(images, served.solver.config)
        return served.reader.read(pixels), pixels

    def generate(self, text, seed, length=None, size=None, model=None):
        """Draw a captcha with the Python captcha library, then read it with the model.

        Args:
            text: the captcha's text, in the model's charset; empty for a random text.
            seed: a whole number; the same text, size and seed always draw the same image.
            length: the number of characters of a random text; empty for the model's own.
            size: the captcha's size as 'WIDTHxHEIGHT' in pixels, e.g. '160x60'; empty for the model's own.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80' or the app's first model (default).
        Returns:
            the image's file, its true text, the reading, a verdict naming the model, per-character confidences.
        """
        seed = whole_number(seed, "seed")
        text = (text or "").strip() or None
        config = self.config_of(model)
        if config.site:
            raise user_error(site_notice(config))
        # A text sets its own length: the length asked for counts only for random texts.
        captchas = captchas_to_draw(config, None if text else length, size)
        # One captcha has one size: the model's own where none was asked for, not one drawn from its range.
        captchas = captchas.at(width=captchas.captcha_width, height=captchas.captcha_height)
        try:
            truth, image = data.sample_captcha(captchas, seed, text=text)
        except ValueError as error:
            raise user_error(error) from None
        reading = self.read([image], model)[0][0]
        picture = self.picture_file(image, "captcha")
        return (picture, truth, reading.text, f"{verdict(truth, reading)}\n\n{self.answered_by(model)}",
                character_confidences(reading))

    def model_identity(self, model=None):
        """Which model answers for `model`: its name, source and revision, and the fallback notice or None."""
        model = self.check_model(model)
        solver = self.solver_of(model)
        return {"name": model, "source": solver.source, "revision": solver.revision,
                "fallback": self.notice if model == self.name else None}

    def answered_by(self, model=None):
        """A Markdown line naming the model that answered, and saying so where it stands in for another."""
        identity = self.model_identity(model)
        line = f"Answered by **{identity['name']}**: {identity['source']}, revision `{identity['revision']}`."
        return line + (f" **Fallback:** {identity['fallback']}" if identity["fallback"] else "")

    def show_generated(self, text, seed, length=None, size=None, model=None):
        """`generate` for a page that opens or changes model: for a model of a site's captchas, which
        draws none, the verdict says so instead."""
        config = self.config_of(model)
        if config.site:
            return None, "", "", site_notice(config), None
        return self.generate(text, seed, length, size, model)

    def picture_file(self, picture, name):
        """A PIL image as `name`.png in the app's bounded store, which Gradio serves without copying."""
        return self.store.save(picture, name)

    def check_generate_inputs(self, text, seed, length=None, size=None, model=None):
        """Messages under the boxes for input `generate` would refuse."""
        model_check = validation(lambda: self.check_model(model))
        config = self.configs.get(model or self.name)
        text = (text or "").strip()
        return [
            validation(lambda: data.check_text(text, config) if text and config else None),
            validation(lambda: whole_number(seed, "seed")),
            # A text sets its own length, and lengths are the model's to judge.
            validation(lambda: check_length(length, config) if config and not text else None),
            validation(lambda: check_size(size)),
            model_check,
        ]

    def new_random_captcha(self, length=None, size=None, model=None):
        """A random text on a seed no training run used: clears the text box and sets the seed."""
        seed = FRESH_SEEDS[secrets.randbelow(len(FRESH_SEEDS))]
        return "", seed, *self.generate("", seed, length, size, model)

    def solve(self, upload, model=None):
        """Read the text of a captcha image (PNG, JPEG, GIF, WebP, BMP or TIFF, up to 10 MB).

        Args:
            upload: the captcha image file.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80' or the app's first model (default).
        Returns:
            the text read, per-character confidences, the picture the network saw, details naming the model.
        """
        # `upload` is the image component's raw file payload: the app decodes the file itself, so a
        # broken or oversized file gets a clear message instead of an error from deep inside Gradio.
        image = self.open_upload(upload)
        readings, pixels = self.read([image], model)
        reading = readings[0]
        details = (
            f"Read `{reading.text or '(nothing)'}` with {floor_percent(reading.confidence, 1)} confidence "
            f"from a {image.width}×{image.height} {image.format} image in mode {image.mode}.\n\n{self.answered_by(model)}"
        )
        picture = self.picture_file(model_input_picture(pixels[0], self.config_of(model)), "model-input")
        return reading.text, character_confidences(reading), picture, details

    def open_upload(self, upload):
        """The decoded image of an upload's raw payload, or a clear error; the file counts towards the store's bound."""
        if not upload:
            raise user_error("Upload or paste an image first.")
        path = uploaded_path(upload)
        self.store.add(path)
        try:
            return solver_lib.open_image(path)
        except ValueError as error:
            raise user_error(error) from None

    def solve_if_present(self, upload, model=None):
        """`solve`, or empty outputs when the image was cleared."""
        return self.solve(upload, model) if upload else ("", None, None, "")

    def explain(self, upload, model=None):
        """Show why the model read a captcha image as it did: one heat map over the image per character.

        Args:
            upload: the captcha image file.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80' or the app's first model (default).
        Returns:
            (picture file, caption) pairs, the caption naming the character and its confidence.
        """
        return self.explain_picture(self.open_upload(upload), model)

    def explain_if_present(self, upload, model=None):
        """`explain`, or no pictures when the image was cleared."""
        return self.explain(upload, model) if upload else []

    def explain_picture(self, image, model=None):
        """`explain` for a decoded image: one `saliency.explain` call for all its characters; none without one.

        No pictures where the model runs on ONNX Runtime: saliency needs TensorFlow's gradients.
        """
        solver = self.solver_of(model)
        if image is None or solver.model is None:
            return []
        saliency = runtime.optional_module("saliency")
        characters = saliency.explain(solver, [image])[0]
        return [
            (self.picture_file(saliency.overlay(image, character.heatmap), "saliency"),
             f"{character.character} · {floor_percent(character.confidence, 1)}")
            for character in characters
        ]

    def evaluate(self, count, seed, length=None, size=None, model=None, progress=gr.Progress()):
        """Measure the model's accuracy: draw fresh captchas, read them and report how well it went.

        Args:
            count: how many captchas to draw and read, from 1 to 2000.
            seed: a whole number naming the stream of captchas; the bundled models never trained on seeds above 10,000,000.
            length: the number of characters of every captcha; empty for every length the model reads.
            size: the size of every captcha as 'WIDTHxHEIGHT' in pixels; empty for every size the model reads.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80' or the app's first model (default).
        Returns:
            a Markdown summary (accuracy with its 95% interval), a plot of confusions, the failures, the full report.
        """
        count = self.evaluation_count(count)
        seed = whole_number(seed, "seed")
        captchas = captchas_to_draw(self.config_of(model), length, size)
        solver = self.solver_of(model)
        description = f"Drawing and reading {count:,} captchas"
        progress(0, desc=description)
        report = evaluation.evaluate_stream(
            solver, count, seed, progress=False, captchas=captchas,
            on_progress=lambda fraction: progress(fraction, desc=description),
        )
        return self.report_outputs(report, lambda index: data.sample_captcha(captchas, seed, index)[1], model)

    def evaluate_zip(self, archive, model=None):
        """Read the labelled captchas of an uploaded `.zip` (a labels.csv with columns file,text, or images
        named for their text) and report how well it went, with the same outputs as `evaluate`."""
        if not archive:
            raise user_error("Upload a .zip of labelled captchas first.")
        solver = self.solver_of(model)
        try:
            captchas = evaluation.read_test_captchas(solver.config, uploaded_path(archive),
                                                     max_count=MAX_EVALUATION_COUNT, max_bytes=MAX_ZIP_BYTES)
        except ValueError as error:
            raise user_error(error) from None
        report = evaluation.evaluate_labelled(solver, captchas)
        return self.report_outputs(report, lambda index: captchas.images[index], model)

    def report_outputs(self, report, image_of, model=None):
        """The Accuracy tab's outputs for a report of `model`; `image_of(index)` is the captcha a failure names."""
        figure = evaluation.plot_confusions(report)
        failures = [
            (self.picture_file(image_of(failure.index), "captcha"),
             f"#{failure.index}: {failure.truth} → {failure.predicted or '(nothing)'}")
            for failure in report.failures[:MAX_FAILURES_SHOWN]
        ]
        summary = f"{self.evaluation_summary(report)}\n\n{self.answered_by(model)}"
        return summary, figure, failures, {**report.to_dict(), "model": self.model_identity(model)}

    @staticmethod
    def evaluation_count(count):
        """The number of captchas to evaluate, or a clear error outside 1 to MAX_EVALUATION_COUNT."""
        count = whole_number(count, "number of captchas")
        if not 1 <= count <= MAX_EVALUATION_COUNT:
            raise user_error(f"Evaluate between 1 and {MAX_EVALUATION_COUNT:,} captchas at a time, not {count:,}.")
        return count

    def check_evaluate_inputs(self, count, seed, length=None, size=None, model=None, *, waiting_limit):
        """Messages under the boxes for input `evaluate` would refuse, or while the lane is full.

        Only a request that would run is counted in by `waiting_limit`.
        """
        config = self.configs.get(model or self.name)
        checks = [
            validation(lambda: self.evaluation_count(count)),
            validation(lambda: whole_number(seed, "seed")),
            validation(lambda: check_length(length, config) if config else None),
            validation(lambda: check_size(size)),
            validation(lambda: self.check_model(model)),
        ]
        if all(check["is_valid"] for check in checks):
            checks[0] = validation(waiting_limit.admit)
        return checks

    def check_zip_inputs(self, archive, model=None, *, waiting_limit):
        """Messages for an evaluation of a .zip that `evaluate_zip` would refuse or the lane cannot take."""
        checks = [validation(lambda: None), validation(lambda: self.check_model(model))]
        if checks[1]["is_valid"]:
            checks[0] = validation(waiting_limit.admit)
        return checks

    @staticmethod
    def evaluation_summary(report):
        """Markdown: accuracy with its interval and sample size, per-character accuracy, speed and failures."""
        low, high = report.interval
        shown = min(len(report.failures), MAX_FAILURES_SHOWN)
        failures = f"{len(report.failures):,}" + (f", the first {shown} shown below" if shown else "")
        return "\n".join([
            f"### {percent(report.accuracy)} of {report.count:,} captchas read right",
            "| Measure | Result |",
            "|---|---|",
            f"| Captchas | {report.source} |",
            f"| Full-captcha accuracy | **{percent(report.accuracy)}** ({report.correct:,} of {report.count:,}; "
            f"95% interval {percent(low)} to {percent(high)}) |",
            f"| Per-character accuracy | {percent(report.character_accuracy)} (1 - edit distance / characters) |",
            f"| Speed | {report.images_per_second:,.0f} captchas/s (reading only, not drawing) |",
            f"| Failures | {failures} |",
        ])

    def model_headline(self, model=None):
        """One line naming the chosen model, for the top of the page."""
        solver = self.solver_of(model)
        architecture = config_lib.get_architecture(solver.config.architecture)
        line = (
            f"**Model:** {solver.source} · `{architecture.name}` architecture ({architecture.description}) · "
            f"{solver.network.parameters:,} parameters · reads {captcha_summary(solver.config)} · "
            f"runs on {solver_lib.RUNTIME_NAMES[solver.runtime]}"
        )
        test = (solver.metrics or {}).get("test")
        if test:
            line += f" · test accuracy {percent(test['accuracy'])} on {test['count']:,} fresh captchas"
        return line

    def model_details(self, model=None):
        """Markdown: the model's configuration and, where train.py left them, its training metrics."""
        solver = self.solver_of(model)
        config = solver.config
        channels = "grayscale" if config.input_channels == 1 else "RGB"
        lines = [
            "### The model",
            f"- **Source:** {solver.source}",
            f"- **Architecture:** `{config.architecture}`, {config_lib.get_architecture(config.architecture).description}",
            f"- **Parameters:** {solver.network.parameters:,}",
            f"- **Captchas:** {length_summary(config)} of `{config.charset}`, drawn {size_summary(config)}",
            f"- **Network input:** {config.input_width}×{config.input_height} {channels}"
            + (f", averaged to {config.input_width // config.input_pooling}×{config.input_height // config.input_pooling} "
               "before the trunk (the referee reads the full input)" if config.input_pooling > 1 else ""),
            "### Training",
        ]
        metrics = solver.metrics
        if not metrics:
            return "\n".join(lines + ["_No training metrics were found beside this model._"])
        lines.append(
            f"- **Run:** {metrics.get('epochs', '?')} epochs, {metrics.get('samples_seen', 0):,} captchas seen, "
            f"{metrics.get('wall_seconds', 0) / 60:.0f} minutes on the {metrics.get('device', '?')}"
        )
        history = metrics.get("history") or []
        if history and "val_accuracy" in history[-1]:
            lines.append(f"- **Last validation accuracy:** {percent(history[-1]['val_accuracy'])}")
        test = metrics.get("test")
        if test:
            low, high = test["accuracy_95ci"]
            lines += [
                f"- **Test accuracy:** **{percent(test['accuracy'])}** on {test['count']:,} fresh captchas "
                f"(95% interval {percent(low)} to {percent(high)})",
                f"- **Test per-character accuracy:** {percent(test['character_accuracy'])}",
            ]
        return "\n".join(lines)

    def network_diagram(self, model=None):
        """A PNG of the network's layers and shapes."""
        return self.served(model).network_diagram

    def training_curve(self, model=None):
        """A PNG of the training history, or None where the metrics hold none."""
        return self.served(model).training_curve

    def keras_summary(self, model=None):
        """The network's layer table, as Keras prints it."""
        network = self.solver_of(model).model
        if network is None:
            return "This model runs on ONNX Runtime, without Keras: no Keras summary."
        lines = []
        network.summary(print_fn=lambda line, line_break=True: lines.append(line), line_length=90)
        return "\n".join(lines)

    def text_help(self, model=None):
        """The hint under the captcha text box: what the model reads."""
        config = self.config_of(model)
        return f"{length_summary(config)} of {charset_summary(config.charset)}; empty: a random text"

    def choose_model(self, model, text, length):
        """The page's components for a newly chosen model, loading it if it is its first visitor.

        A typed text the model cannot have is cleared, and the length moves into the model's range.
        """
        model = self.check_model(model)
        config = self.config_of(model)
        text = (text or "").strip()
        keeps_text = validation(lambda: data.check_text(text, config) if text else None)["is_valid"]
        length = min(max(int(length or config.min_length), config.min_length), config.max_length)
        curve = self.training_curve(model)
        return (
            self.model_headline(model),
            gr.update(value=text if keeps_text else "", info=self.text_help(model)),
            gr.update(**length_slider_settings(config, length)),
            gr.update(placeholder=generate_size_placeholder(config)),
            gr.update(label=model_input_label(config)),
            *(gr.update(placeholder=placeholder) for placeholder in evaluation_placeholders(config)),
            self.model_details(model),
            gr.update(value=curve, visible=curve is not None),
            self.keras_summary(model),
            self.network_diagram(model),
        )


def model_input_label(config):
    return f"What the model sees: {config.input_width}×{config.input_height}, enlarged"


def span_text(low, high):
    """'4', or '1 to 8': the values an empty box stands for."""
    return f"{low}" if low == high else f"{low} to {high}"


def length_slider_settings(config, length):
    """The generate tab's length slider for `config`, at `length`, shown only for a model of several lengths.

    Gradio refuses a slider whose minimum is its maximum, so for a model of one length the
    hidden slider spans one more; the text box's hint names the length.
    """
    return {"minimum": config.min_length, "maximum": config.max_length + config.fixed_length, "value": length,
            "visible": not config.fixed_length}


def generate_size_placeholder(config):
    """The size an empty size box draws in the generate tab: the model's own."""
    return f"{config.captcha_width}x{config.captcha_height}"


def evaluation_placeholders(config):
    """The lengths and sizes that empty boxes evaluate on: the model's own ranges."""
    (low_width, high_width), (low_height, high_height) = config.captcha_width_range, config.captcha_height_range
    return (f"every length: {span_text(config.min_length, config.max_length)}",
            f"every size: {span_text(f'{low_width}x{low_height}', f'{high_width}x{high_height}')}")


def confidence_display(elem_id):
    return gr.HighlightedText(label="Confidence per character", color_map=CONFIDENCE_COLORS,
                              show_legend=False, elem_id=elem_id)


def saliency_display(elem_id):
    # The label sits in the gallery's corner and would hide the tops of the overlays, so a
    # heading above the gallery names it instead.
    gr.Markdown("**Why:** where the model read each character (heat over the captcha)")
    return gr.Gallery(label="Saliency per character", show_label=False, columns=4, height=150,
                      object_fit="contain", format="png", allow_preview=True, elem_id=elem_id)


def size_input(elem_id, placeholder, info):
    return gr.Textbox(label="Size (WIDTHxHEIGHT in pixels)", placeholder=placeholder, elem_id=elem_id,
                      info=f"From {SIZES_TEXT}; {info}", min_width=160)


def build_demo(app):
    """The Blocks UI around a `CaptchaApp`, with its queue configured."""
    config = app.config_of()
    with gr.Blocks(title="captcha-break: read captchas with a small CNN", analytics_enabled=False,
                   delete_cache=(CACHE_CHECK_SECONDS, MAX_STORED_AGE_SECONDS)) as demo:
        gr.Markdown(
            "# captcha-break\n"
            "A small Keras network that reads the text captchas drawn by the Python "
            "[`captcha`](https://pypi.org/project/captcha/) library. Draw one and watch it being read, "
            "upload your own, or measure accuracy on thousands. Every button is also an API endpoint: "
            "see *Use via API* at the bottom of the page."
        )
        model = gr.Radio(
            app.model_names, value=app.name, label="Model", elem_id="model-choice",
            info=" · ".join(f"{name}: {captcha_summary(app.config_of(name))}" for name in app.model_names),
        )
        headline = gr.Markdown(app.model_headline(), elem_id="model-headline")
        if app.notice:
            gr.Markdown(f"**Warning:** {app.notice}", elem_id="model-notice")

        with gr.Tab("Generate & solve", id="generate"):
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(label="Captcha text", placeholder="empty: random text", info=app.text_help(),
                                      elem_id="generate-text")
                    seed = gr.Number(label="Seed", value=DEFAULT_GENERATE_SEED, precision=0, elem_id="generate-seed",
                                     info="The same text, size and seed always draw the same image.")
                    length = gr.Slider(**length_slider_settings(config, typical_length(config)), step=1,
                                       label="Length of a random text", elem_id="generate-length",
                                       info="Within the lengths the model reads; a typed text sets its own.")
                    generate_size = size_input("generate-size", generate_size_placeholder(config),
                                               "empty: the model's own size")
                    generate_button = gr.Button("Generate & solve", variant="primary", elem_id="generate-button")
                    random_button = gr.Button("New random captcha", elem_id="random-button")
                with gr.Column(scale=3):
                    captcha = local_image(label="Captcha", format="png", type="pil", interactive=False, height=200,
                                       buttons=["download", "fullscreen"], elem_id="generated-image")
                    with gr.Row():
                        truth = gr.Textbox(label="True text", interactive=False, elem_id="generated-truth")
                        generated_reading = gr.Textbox(label="Model's reading", interactive=False,
                                                       elem_id="generated-reading")
                    generated_verdict = gr.Markdown(label="Verdict", elem_id="verdict")
                    generated_confidences = confidence_display("generated-confidences")
                    generated_saliency = saliency_display("generated-saliency")
            generate_inputs = [text, seed, length, generate_size, model]
            generate_outputs = [captcha, truth, generated_reading, generated_verdict, generated_confidences]

            def explain_generated(event):
                """Follow a successful drawing with the saliency of its reading."""
                event.success(app.explain_picture, [captcha, model], generated_saliency, api_visibility="private")

            # Invalid input is explained under its box before anything runs, and to API clients.
            # Raw values reach `generate`, so that its own messages explain refusals.
            explain_generated(generate_button.click(app.generate, generate_inputs, generate_outputs,
                                                    api_name="generate", preprocess=False,
                                                    validator=app.check_generate_inputs))
            explain_generated(text.submit(app.generate, generate_inputs, generate_outputs, api_visibility="private",
                                          preprocess=False, validator=app.check_generate_inputs))
            explain_generated(random_button.click(app.new_random_captcha, generate_inputs[2:],
                                                  [text, seed, *generate_outputs], api_visibility="private",
                                                  preprocess=False))
            # The first visit opens on a captcha already read, not on empty boxes.
            explain_generated(demo.load(app.show_generated, generate_inputs, generate_outputs,
                                        api_visibility="private", preprocess=False))

        with gr.Tab("Upload & solve", id="upload"):
            with gr.Row():
                with gr.Column():
                    upload = local_image(label="Captcha image", type="filepath", image_mode=None,
                                      sources=["upload", "clipboard"], height=220, elem_id="upload-image")
                    gr.Markdown(
                        f"PNG, JPEG, GIF, WebP, BMP or TIFF, of any size and color mode, up to "
                        f"{solver_lib.MAX_FILE_BYTES // 2**20} MB and {solver_lib.MAX_PIXELS:,} pixels "
                        "(e.g. 4096×4096). Paste with Ctrl+V or drop a file."
                    )
                    solve_button = gr.Button("Solve", variant="primary", elem_id="solve-button")
                    if not config.site:
                        gr.Examples(write_example_uploads(config, app.files), inputs=upload,
                                    label="Example captchas (PNG, JPEG, GIF, WebP, BMP): click one")
                        # Gradio keeps its copies of the examples for as long as it serves them.
                        app.store.keep(upload.keep_in_cache)
                with gr.Column():
                    model_input = gr.Image(
                        label=model_input_label(config), interactive=False, format="png", height=220,
                        buttons=["download"], elem_id="model-input",
                    )
                    upload_reading = gr.Textbox(label="Model's reading", interactive=False, elem_id="upload-reading")
                    upload_details = gr.Markdown(label="Details", elem_id="upload-details")
                    upload_confidences = confidence_display("upload-confidences")
                    upload_saliency = saliency_display("upload-saliency")
            solve_outputs = [upload_reading, upload_confidences, model_input, upload_details]
            # The raw payload reaches `solve` and `explain`, which decode the file with clear errors.
            solve_button.click(app.solve, [upload, model], solve_outputs, preprocess=False, api_name="solve").success(
                app.explain, [upload, model], upload_saliency, preprocess=False, api_name="explain")
            # Uploads, pastes and example clicks are read at once; clearing empties the outputs.
            solve_upload = upload.change(app.solve_if_present, [upload, model], solve_outputs, preprocess=False,
                                         api_visibility="private")
            solve_upload.success(app.explain_if_present, [upload, model], upload_saliency, preprocess=False,
                                 api_visibility="private")

        with gr.Tab("Accuracy", id="evaluate"):
            with gr.Row(equal_height=True):
                count = gr.Slider(1, MAX_EVALUATION_COUNT, value=DEFAULT_EVALUATION_COUNT, step=1,
                                  label="Captchas to read", elem_id="evaluate-count",
                                  info=f"At most {MAX_EVALUATION_COUNT:,} per run. Runs take turns, with at most "
                                       f"{MAX_WAITING_EVALUATIONS} waiting, so that no visitor can hog the server.")
                evaluation_seed = gr.Number(label="Seed", value=DEFAULT_EVALUATION_SEED, precision=0,
                                            elem_id="evaluate-seed",
                                            info="The bundled models trained on seeds 1,000, 3,000, 5,000, 6,000, 7,000, "
                                                 "9,000 and 13,000, and were validated and tested on those plus "
                                                 "1,000,000 and 2,000,000: other seeds give captchas they "
                                                 "have never seen.")
                evaluate_button = gr.Button("Evaluate", variant="primary", scale=0, min_width=160,
                                            elem_id="evaluate-button")
            length_placeholder, size_placeholder = evaluation_placeholders(config)
            with gr.Row():
                evaluation_length = gr.Textbox(label="Length (characters)", placeholder=length_placeholder,
                                               elem_id="evaluate-length", info="Empty: every length the model reads")
                evaluation_size = size_input("evaluate-size", size_placeholder, "empty: every size the model reads")
            with gr.Row(equal_height=True):
                archive = gr.File(label="Or your own labelled captchas: a .zip", file_types=[".zip"],
                                  elem_id="evaluate-zip", height=120)
                gr.Markdown(f"A `labels.csv` with columns `file,text`, or images named for their text (`7K2P.png`, "
                            f"`7K2P_01.png`); at most {MAX_EVALUATION_COUNT:,} images and "
                            f"{MAX_ZIP_BYTES // 2**20} MB unpacked.")
                evaluate_zip_button = gr.Button("Evaluate the .zip", scale=0, min_width=160,
                                                elem_id="evaluate-zip-button")
            summary = gr.Markdown(label="Summary", elem_id="evaluation-summary")
            with gr.Row():
                confusions = gr.Plot(label="Most confused characters", show_label=False, elem_id="confusions")
                failures = gr.Gallery(label="Failures: true text → read as", columns=2, height=400,
                                      object_fit="contain", format="png", elem_id="failures")
            with gr.Accordion("Full report (JSON)", open=False):
                report = gr.JSON(label="Report", elem_id="evaluation-report")
            evaluation_limit = WaitingLimit(
                demo, EVALUATION_LANE, MAX_WAITING_EVALUATIONS,
                f"{MAX_WAITING_EVALUATIONS} evaluations are already waiting to run, one at a time; try again "
                "in a minute. Reading captchas is not held up by them.",
            )
            # The validator runs before a request joins the queue: it refuses a bad count, or
            # one evaluation too many, at once. It sees the raw numbers, so that its message,
            # rather than the slider's own range check, explains a refusal.
            evaluate_button.click(app.evaluate, [count, evaluation_seed, evaluation_length, evaluation_size, model],
                                  [summary, confusions, failures, report],
                                  api_name="evaluate", concurrency_limit=1, concurrency_id=EVALUATION_LANE,
                                  preprocess=False,
                                  validator=functools.partial(app.check_evaluate_inputs, waiting_limit=evaluation_limit))
            # The raw payload reaches `evaluate_zip`, which checks that it names an uploaded file.
            evaluate_zip_button.click(app.evaluate_zip, [archive, model], [summary, confusions, failures, report],
                                      api_name="evaluate_zip", concurrency_limit=1, concurrency_id=EVALUATION_LANE,
                                      preprocess=False,
                                      validator=functools.partial(app.check_zip_inputs, waiting_limit=evaluation_limit))

        with gr.Tab("Model", id="model"):
            with gr.Row():
                with gr.Column():
                    model_details = gr.Markdown(app.model_details(), elem_id="model-details")
                    curve = app.training_curve()
                    training_curve = gr.Image(curve, label="Training curve", interactive=False,
                                              buttons=["fullscreen"], visible=curve is not None,
                                              elem_id="training-curve")
                    with gr.Accordion("Keras summary", open=False):
                        keras_summary = gr.Code(app.keras_summary(), language=None, elem_id="keras-summary")
                with gr.Column():
                    network_diagram = gr.Image(app.network_diagram(), label="Network", show_label=False,
                                               interactive=False, buttons=["download", "fullscreen"],
                                               elem_id="network-diagram")

        # A newly chosen model describes itself everywhere, then reads the captcha and the upload on show.
        chosen = model.change(
            app.choose_model, [model, text, length],
            [headline, text, length, generate_size, model_input, evaluation_length, evaluation_size,
             model_details, training_curve, keras_summary, network_diagram],
            api_visibility="private",
        )
        explain_generated(chosen.success(app.show_generated, generate_inputs, generate_outputs,
                                         api_visibility="private", preprocess=False))
        chosen.success(app.solve_if_present, [upload, model], solve_outputs, preprocess=False,
                       api_visibility="private").success(
            app.explain_if_present, [upload, model], upload_saliency, preprocess=False, api_visibility="private")

    # Readings are quick and may run a few at a time; evaluations are long, so they queue
    # one at a time in their own lane, and the queue refuses visitors beyond its size.
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=READING_CONCURRENCY)
    # Served beside Gradio's own routes by `launch`: bulk reading as plain JSON over HTTP.
    demo.extra_routes = [bulk_api.route(app.read, app.model_identity)]
    return demo


# Launch settings shared by `python app.py` and the tests, so both serve the same page.
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "max_file_size": solver_lib.MAX_FILE_BYTES}


def launch(blocks, **options):
    """Serve `blocks` with this app's look, upload limit and extra routes; `options` go to `Blocks.launch`."""
    return blocks.launch(**{**LAUNCH_OPTIONS, "app_kwargs": {"routes": blocks.extra_routes}, **options})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Serve the captcha-break web demo and its API.")
    parser.add_argument(
        "--model", default=os.environ.get(hub.MODEL_VARIABLE) or None,
        help=f"the model chosen when the page opens: a bundled model's name ({', '.join(solver_lib.BUNDLED_MODELS)}), "
             f"a .keras file or a Hub repo OWNER/NAME[@REVISION] (default: ${hub.MODEL_VARIABLE}, else "
             f"{DEFAULT_MODEL}); visitors can also choose any bundled model",
    )
    parser.add_argument("--runtime", choices=runtime.RUNTIMES,
                        help="run the networks with Keras or ONNX Runtime (default: Keras where TensorFlow is "
                             "installed, else ONNX Runtime)")
    parser.add_argument(
        "--strict", action="store_true", default=hub.strict_from_environment(),
        help=f"fail at start-up when --model cannot be loaded, instead of serving the bundled model with a "
             f"warning (default: on when ${hub.STRICT_VARIABLE} is 1)",
    )
    parser.add_argument(
        "--mcp", action="store_true",
        help="also serve the endpoints as tools for AI agents, over MCP at /gradio_api/mcp (default: on when "
             "GRADIO_MCP_SERVER is true, as on the Space)",
    )
    return parser.parse_args(argv)


# Run as `python app.py`, the command line names the first model; imported, as by the tests,
# the environment does. Either way it is loaded once, before serving.
ARGUMENTS = parse_args(None if __name__ == "__main__" else [])
MODEL_SOURCE = ARGUMENTS.model
demo = build_demo(CaptchaApp(*load_app_solver(MODEL_SOURCE, ARGUMENTS.strict, ARGUMENTS.runtime)))

if __name__ == "__main__":
    # None leaves it to GRADIO_MCP_SERVER.
    launch(demo, mcp_server=ARGUMENTS.mcp or None)
