"""The captcha-break web demo and API: `python app.py`, or the Hugging Face Space.

Three tabs draw a captcha and read it, read an uploaded image, and measure accuracy
on fresh captchas; a fourth describes the model. Each tab's button is also a named
API endpoint (`/generate`, `/solve`, `/evaluate`) for `gradio_client`.

Serving: http://127.0.0.1:7860 unless GRADIO_SERVER_NAME or GRADIO_SERVER_PORT say
otherwise. `--model` or the CAPTCHA_MODEL environment variable names the model (a
.keras file or a Hub repo); the default is the one bundled with `captcha_model`, so the
demo works offline.

Everything about models, data and scoring lives in `captcha_model`; this file only
turns its results into components. The module-level `demo` is what Spaces and the
tests serve, built around a model loaded once at import.
"""

import argparse
import collections
import functools
import hashlib
import io
import json
import math
import os
import secrets
import tempfile
import threading
import time

import gradio as gr
import matplotlib.pyplot as plt
from PIL import Image

from captcha_model import data, evaluation, hub, model as model_lib, solver as solver_lib

MAX_EVALUATION_COUNT = 2000
# The queue holds at most QUEUE_SIZE waiting requests of every kind, and runs up to
# READING_CONCURRENCY readings at once. Evaluations run one at a time in their own lane and
# take many seconds, so at most MAX_WAITING_EVALUATIONS may wait: however many visitors ask
# for evaluations, readings keep most of the queue.
QUEUE_SIZE = 32
READING_CONCURRENCY = 2
EVALUATION_LANE = "evaluate"
MAX_WAITING_EVALUATIONS = 4
DEFAULT_EVALUATION_COUNT = 200
MAX_FAILURES_SHOWN = 24
# train.py draws from the streams --seed, --seed + 10**6 and --seed + 2 * 10**6 (1000,
# 1001000 and 2001000 for the bundled model), so with the usual small seeds, random
# captchas from here on are ones no model trained on.
FRESH_SEEDS = range(10**7, 10**9)
DEFAULT_GENERATE_SEED = 7
DEFAULT_EVALUATION_SEED = 424242
# Seeds and formats of the example uploads: one captcha per accepted family of files.
EXAMPLE_UPLOADS = [(101, "png"), (102, "jpeg"), (103, "gif"), (104, "webp"), (105, "bmp")]
# The network's input is tiny (40x88 by default); it is enlarged with square pixels so
# visitors see exactly the pixels the model reads.
MODEL_INPUT_DISPLAY_WIDTH = 352

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
"""


def load_app_solver(source):
    """(solver, notice): the model to serve and a note for visitors, or None.

    The only place the app loads a model. `source` is a .keras path, a Hub repo
    OWNER/NAME[@REVISION], or None for the bundled model; a model that cannot be had
    is replaced by the bundled one, and the notice says so on the page.
    """
    return hub.load_solver_with_fallback(source)


def user_error(message):
    """A `gr.Error` for a visitor's mistake: shown to them, not logged as a crash."""
    return gr.Error(str(message), print_exception=False)


def whole_number(value, name):
    """A component's number as an int, or a clear error for empty or fractional input."""
    if value is None or value == "":
        raise user_error(f"Enter a {name}.")
    if float(value) != int(float(value)):
        raise user_error(f"The {name} must be a whole number, got {value}.")
    return int(float(value))


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


def model_input_picture(image, config):
    """What the network reads for `image`, enlarged with square pixels for display."""
    pixels = data.preprocess([image], config)[0]
    picture = Image.fromarray(pixels[:, :, 0] if config.input_channels == 1 else pixels)
    zoom = max(1, MODEL_INPUT_DISPLAY_WIDTH // config.input_width)
    return picture.resize((config.input_width * zoom, config.input_height * zoom), Image.Resampling.NEAREST)


def save_figure(figure, path):
    """Write a matplotlib figure to `path` and release it, so serving does not accumulate figures."""
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


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


class CaptchaApp:
    """The functions behind the components, around one loaded solver.

    Each public method takes component values and returns component values, so it
    can be called, tested and served without a browser.
    """

    def __init__(self, solver, notice=None):
        self.solver = solver
        self.config = solver.config
        self.notice = notice
        self.metrics = solver.metrics
        self.files = tempfile.mkdtemp(prefix="captcha-break-")
        # One reading before serving builds the model's prediction function, so the
        # first visitor does not wait for it and concurrent first requests cannot race.
        solver.solve([data.sample_captcha(self.config, DEFAULT_GENERATE_SEED)[1]])

    def generate(self, text, seed):
        """Draw the captcha of `text` (random when empty) for `seed`, then read it.

        Returns the image's file, its true text, the reading, a verdict and per-character confidences.
        """
        seed = whole_number(seed, "seed")
        try:
            truth, image = data.sample_captcha(self.config, seed, text=(text or "").strip() or None)
        except ValueError as error:
            raise user_error(error) from None
        reading = self.solver.solve([image])[0]
        picture = self.picture_file(image, "captcha")
        return picture, truth, reading.text, verdict(truth, reading), character_confidences(reading)

    def picture_file(self, picture, name):
        """A PIL image as `name`.png in a folder named after its content, written atomically.

        Gradio writes a returned PIL image straight into a cache file named after its content,
        so visitors shown the same picture at once (every first page load shows the same
        captcha) could be sent a file that another request is rewriting. A returned file is
        copied into that cache atomically instead.
        """
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        content = buffer.getvalue()
        folder = os.path.join(self.files, hashlib.sha256(content).hexdigest())
        path = os.path.join(folder, f"{name}.png")
        if not os.path.exists(path):
            os.makedirs(folder, exist_ok=True)
            handle, partial = tempfile.mkstemp(suffix=".png", dir=folder)
            with os.fdopen(handle, "wb") as file:
                file.write(content)
            os.replace(partial, path)
        return path

    def check_generate_inputs(self, text, seed):
        """Messages under the text and seed boxes for input `generate` would refuse."""
        text = (text or "").strip()
        return [
            validation(lambda: data.check_text(text, self.config) if text else None),
            validation(lambda: whole_number(seed, "seed")),
        ]

    def new_random_captcha(self):
        """A random text on a seed no training run used: clears the text box and sets the seed."""
        seed = FRESH_SEEDS[secrets.randbelow(len(FRESH_SEEDS))]
        return "", seed, *self.generate("", seed)

    def solve(self, upload):
        """Read an uploaded image: its reading, per-character confidences, the model's input and details.

        `upload` is the image component's raw file payload: the app decodes the file
        itself, so a broken or oversized file gets a clear message instead of a
        decoding error from deep inside the web framework.
        """
        if not upload:
            raise user_error("Upload or paste an image first.")
        try:
            image = solver_lib.open_image(uploaded_path(upload))
            reading = self.solver.solve([image])[0]
        except ValueError as error:
            raise user_error(error) from None
        details = (
            f"Read `{reading.text or '(nothing)'}` with {floor_percent(reading.confidence, 1)} confidence "
            f"from a {image.width}×{image.height} {image.format} image in mode {image.mode}."
        )
        picture = self.picture_file(model_input_picture(image, self.config), "model-input")
        return reading.text, character_confidences(reading), picture, details

    def solve_if_present(self, upload):
        """`solve`, or empty outputs when the image was cleared."""
        return self.solve(upload) if upload else ("", None, None, "")

    def evaluate(self, count, seed, progress=gr.Progress()):
        """Read `count` fresh captchas of the stream `seed` and report how well it went.

        Returns a Markdown summary, a plot of confusions, the failures as (image,
        caption) pairs, and the full report as a dict.
        """
        count = self.evaluation_count(count)
        seed = whole_number(seed, "seed")
        description = f"Drawing and reading {count:,} captchas"
        progress(0, desc=description)
        report = evaluation.evaluate_stream(
            self.solver, count, seed, progress=False,
            on_progress=lambda fraction: progress(fraction, desc=description),
        )
        figure = evaluation.plot_confusions(report)
        plt.close(figure)
        failures = [
            (self.picture_file(data.sample_captcha(self.config, seed, failure.index)[1], "captcha"),
             f"#{failure.index}: {failure.truth} → {failure.predicted or '(nothing)'}")
            for failure in report.failures[:MAX_FAILURES_SHOWN]
        ]
        return self.evaluation_summary(report), figure, failures, report.to_dict()

    @staticmethod
    def evaluation_count(count):
        """The number of captchas to evaluate, or a clear error outside 1 to MAX_EVALUATION_COUNT."""
        count = whole_number(count, "number of captchas")
        if not 1 <= count <= MAX_EVALUATION_COUNT:
            raise user_error(f"Evaluate between 1 and {MAX_EVALUATION_COUNT:,} captchas at a time, not {count:,}.")
        return count

    def check_evaluate_inputs(self, count, seed, waiting_limit):
        """Messages under the count and seed boxes for input `evaluate` would refuse, or while the lane is full.

        Only a request that would run is counted in by `waiting_limit`.
        """
        checks = [validation(lambda: self.evaluation_count(count)), validation(lambda: whole_number(seed, "seed"))]
        if all(check["is_valid"] for check in checks):
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
            f"| Full-captcha accuracy | **{percent(report.accuracy)}** ({report.correct:,} of {report.count:,}; "
            f"95% interval {percent(low)} to {percent(high)}) |",
            f"| Per-character accuracy | {percent(report.character_accuracy)} (1 - edit distance / characters) |",
            f"| Speed | {report.images_per_second:,.0f} captchas/s (reading only, not drawing) |",
            f"| Failures | {failures} |",
        ])

    def model_headline(self):
        """One line naming the served model, for the top of the page."""
        architecture = model_lib.get_architecture(self.config.architecture)
        line = (
            f"**Model:** {self.solver.source} · `{architecture.name}` architecture ({architecture.description}) · "
            f"{self.solver.model.count_params():,} parameters · reads {length_summary(self.config)} "
            f"of {charset_summary(self.config.charset)}"
        )
        test = (self.metrics or {}).get("test")
        if test:
            line += f" · test accuracy {percent(test['accuracy'])} on {test['count']:,} fresh captchas"
        return line

    def model_details(self):
        """Markdown: the model's configuration and, where train.py left them, its training metrics."""
        config = self.config
        channels = "grayscale" if config.input_channels == 1 else "RGB"
        lines = [
            "### The model",
            f"- **Source:** {self.solver.source}",
            f"- **Architecture:** `{config.architecture}`, {model_lib.get_architecture(config.architecture).description}",
            f"- **Parameters:** {self.solver.model.count_params():,}",
            f"- **Captchas:** {length_summary(config)} of `{config.charset}`, "
            f"drawn {config.captcha_width}×{config.captcha_height}",
            f"- **Network input:** {config.input_width}×{config.input_height} {channels}",
            "### Training",
        ]
        metrics = self.metrics
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

    def network_diagram(self):
        """A PNG of the network's layers and shapes."""
        return save_figure(model_lib.plot_network(self.solver.model), os.path.join(self.files, "network.png"))

    def training_curve(self):
        """A PNG of the training history, or None where the metrics hold none."""
        history = (self.metrics or {}).get("history")
        if not history:
            return None
        path = os.path.join(self.files, "training_curve.png")
        evaluation.plot_training_curve(history, path)
        return path

    def keras_summary(self):
        """The network's layer table, as Keras prints it."""
        lines = []
        self.solver.model.summary(print_fn=lambda line, line_break=True: lines.append(line), line_length=90)
        return "\n".join(lines)


def confidence_display(elem_id):
    return gr.HighlightedText(label="Confidence per character", color_map=CONFIDENCE_COLORS,
                              show_legend=False, elem_id=elem_id)


def build_demo(app):
    """The Blocks UI around a `CaptchaApp`, with its queue configured."""
    config = app.config
    text_help = f"{length_summary(config)} of {charset_summary(config.charset)}"
    with gr.Blocks(title="captcha-break: read captchas with a small CNN", analytics_enabled=False) as demo:
        gr.Markdown(
            "# captcha-break\n"
            "A small Keras network that reads the text captchas drawn by the Python "
            "[`captcha`](https://pypi.org/project/captcha/) library. Draw one and watch it being read, "
            "upload your own, or measure accuracy on thousands. Every button is also an API endpoint: "
            "see *Use via API* at the bottom of the page."
        )
        gr.Markdown(app.model_headline(), elem_id="model-headline")
        if app.notice:
            gr.Markdown(f"**Warning:** {app.notice}", elem_id="model-notice")

        with gr.Tab("Generate & solve", id="generate"):
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(label="Captcha text", placeholder="empty: random text", info=text_help,
                                      elem_id="generate-text")
                    seed = gr.Number(label="Seed", value=DEFAULT_GENERATE_SEED, precision=0, elem_id="generate-seed",
                                     info="The same text and seed always draw the same image.")
                    generate_button = gr.Button("Generate & solve", variant="primary", elem_id="generate-button")
                    random_button = gr.Button("New random captcha", elem_id="random-button")
                with gr.Column(scale=3):
                    captcha = gr.Image(label="Captcha", format="png", interactive=False, height=200,
                                       buttons=["download", "fullscreen"], elem_id="generated-image")
                    with gr.Row():
                        truth = gr.Textbox(label="True text", interactive=False, elem_id="generated-truth")
                        generated_reading = gr.Textbox(label="Model's reading", interactive=False,
                                                       elem_id="generated-reading")
                    generated_verdict = gr.Markdown(label="Verdict", elem_id="verdict")
                    generated_confidences = confidence_display("generated-confidences")
            generate_outputs = [captcha, truth, generated_reading, generated_verdict, generated_confidences]
            # Invalid input is explained under its box before anything runs, and to API clients.
            generate_button.click(app.generate, [text, seed], generate_outputs, api_name="generate",
                                  validator=app.check_generate_inputs)
            text.submit(app.generate, [text, seed], generate_outputs, api_visibility="private",
                        validator=app.check_generate_inputs)
            random_button.click(app.new_random_captcha, None, [text, seed, *generate_outputs],
                                api_visibility="private")
            # The first visit opens on a captcha already read, not on empty boxes.
            demo.load(app.generate, [text, seed], generate_outputs, api_visibility="private")

        with gr.Tab("Upload & solve", id="upload"):
            with gr.Row():
                with gr.Column():
                    upload = gr.Image(label="Captcha image", type="filepath", image_mode=None,
                                      sources=["upload", "clipboard"], height=220, elem_id="upload-image")
                    gr.Markdown(
                        f"PNG, JPEG, GIF, WebP, BMP or TIFF, of any size and color mode, up to "
                        f"{solver_lib.MAX_FILE_BYTES // 2**20} MB and {solver_lib.MAX_PIXELS:,} pixels "
                        "(e.g. 4096×4096). Paste with Ctrl+V or drop a file."
                    )
                    solve_button = gr.Button("Solve", variant="primary", elem_id="solve-button")
                    gr.Examples(write_example_uploads(config, app.files), inputs=upload,
                                label="Example captchas (PNG, JPEG, GIF, WebP, BMP): click one")
                with gr.Column():
                    model_input = gr.Image(
                        label=f"What the model sees: {config.input_width}×{config.input_height}, enlarged",
                        interactive=False, format="png", height=220, buttons=["download"], elem_id="model-input",
                    )
                    upload_reading = gr.Textbox(label="Model's reading", interactive=False, elem_id="upload-reading")
                    upload_details = gr.Markdown(label="Details", elem_id="upload-details")
                    upload_confidences = confidence_display("upload-confidences")
            solve_outputs = [upload_reading, upload_confidences, model_input, upload_details]
            # The raw payload reaches `solve`, which decodes the file with clear errors.
            solve_button.click(app.solve, upload, solve_outputs, preprocess=False, api_name="solve")
            # Uploads, pastes and example clicks are read at once; clearing empties the outputs.
            upload.change(app.solve_if_present, upload, solve_outputs, preprocess=False, api_visibility="private")

        with gr.Tab("Accuracy", id="evaluate"):
            with gr.Row(equal_height=True):
                count = gr.Slider(1, MAX_EVALUATION_COUNT, value=DEFAULT_EVALUATION_COUNT, step=1,
                                  label="Captchas to read", elem_id="evaluate-count",
                                  info=f"At most {MAX_EVALUATION_COUNT:,} per run. Runs take turns, with at most "
                                       f"{MAX_WAITING_EVALUATIONS} waiting, so that no visitor can hog the server.")
                evaluation_seed = gr.Number(label="Seed", value=DEFAULT_EVALUATION_SEED, precision=0,
                                            elem_id="evaluate-seed",
                                            info="The bundled model trained on seed 1,000 and validated on 1,001,000: "
                                                 "other seeds give captchas the model has never seen.")
                evaluate_button = gr.Button("Evaluate", variant="primary", scale=0, min_width=160,
                                            elem_id="evaluate-button")
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
            evaluate_button.click(app.evaluate, [count, evaluation_seed], [summary, confusions, failures, report],
                                  api_name="evaluate", concurrency_limit=1, concurrency_id=EVALUATION_LANE,
                                  preprocess=False,
                                  validator=functools.partial(app.check_evaluate_inputs, waiting_limit=evaluation_limit))

        with gr.Tab("Model", id="model"):
            with gr.Row():
                with gr.Column():
                    gr.Markdown(app.model_details(), elem_id="model-details")
                    curve = app.training_curve()
                    if curve:
                        gr.Image(curve, label="Training curve", interactive=False, buttons=["fullscreen"])
                    with gr.Accordion("Keras summary", open=False):
                        gr.Code(app.keras_summary(), language=None, elem_id="keras-summary")
                with gr.Column():
                    gr.Image(app.network_diagram(), label="Network", show_label=False, interactive=False,
                             buttons=["download", "fullscreen"], elem_id="network-diagram")

    # Readings are quick and may run a few at a time; evaluations are long, so they queue
    # one at a time in their own lane, and the queue refuses visitors beyond its size.
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=READING_CONCURRENCY)
    return demo


# Launch settings shared by `python app.py` and the tests, so both serve the same page.
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "max_file_size": solver_lib.MAX_FILE_BYTES}


def launch(blocks, **options):
    """Serve `blocks` with this app's look and upload limit; `options` go to `Blocks.launch`."""
    return blocks.launch(**{**LAUNCH_OPTIONS, **options})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Serve the captcha-break web demo and its API.")
    parser.add_argument(
        "--model", default=os.environ.get(hub.MODEL_VARIABLE) or None,
        help=f"the model to serve: a .keras file or a Hub repo OWNER/NAME[@REVISION] "
             f"(default: ${hub.MODEL_VARIABLE}, else the bundled model)",
    )
    return parser.parse_args(argv)


# Run as `python app.py`, the command line names the model; imported, as by the tests,
# the environment does. Either way the model is loaded once, before serving.
MODEL_SOURCE = parse_args(None if __name__ == "__main__" else []).model
demo = build_demo(CaptchaApp(*load_app_solver(MODEL_SOURCE)))

if __name__ == "__main__":
    launch(demo)
