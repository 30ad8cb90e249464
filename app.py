"""The captcha-break web demo and API: `python app.py`, or the Hugging Face Space.

Three tabs draw a captcha of a chosen length and size and read it, read an uploaded
image, and measure accuracy on fresh captchas; "Your captchas" pre-labels a visitor's .zip of
a site's captchas for them to correct, trains on it and hands the model over
(`captcha_app.your_captchas_tab`); the last describes the model. The
readings of the first two come with a saliency map per character: what the model read
it from. Each tab's button is also a named API endpoint (`/generate`, `/solve`,
`/explain`, `/evaluate`, `/evaluate_zip`) for `gradio_client`.

Visitors choose the model at the top of the page among those bundled with
`captcha_model` and the one `--model` or the CAPTCHA_MODEL environment variable names
(a .keras file or a Hub repo); without either, the bundled `default` model is chosen,
so the demo works offline. Every endpoint takes the model's name as its last,
optional parameter. ONNX Runtime reads wherever a model has its ONNX export (the bundled
models do), else Keras (`--runtime` chooses); saliency maps and the network's diagram and
Keras summary need the Keras model, loaded the first time they are asked for, and are left
out where TensorFlow is not installed.

This file is the page: its layout and which action each event runs, and the server around
it (`web_app`: the page mounted on a FastAPI app beside `POST /bulk/solve`, served by uvicorn).
The actions are `captcha_app.demo_actions`, around the models of `captcha_app.served_models`,
with their words from `captcha_app.page_text`. The module-level `demo` is what Spaces and the
tests serve, built around the chosen model, loaded once at import.
"""

import argparse
import functools
import os
import shutil
import tempfile
import weakref

import fastapi
import gradio as gr
import uvicorn

from captcha_app import bulk_api, page_text, visitor_input, your_captchas_tab
from captcha_app.demo_actions import MAX_EVALUATION_COUNT, MAX_ZIP_BYTES, DemoActions, write_example_uploads
from captcha_app.event_wrappers import answering, validator
from captcha_app.local_files import RemoteFileRefusal
from captcha_app.picture_store import PictureStore
from captcha_app.served_models import DEFAULT_MODEL, ServedModels, load_first
from captcha_app.waiting_limit import WaitingLimit
from captcha_model import environment, image_input
from captcha_model.reading import runtime
from captcha_model.reading.solver import BUNDLED_MODELS

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
# How long `python app.py` waits for open connections when it is stopped.
SHUTDOWN_SECONDS = 5
DEFAULT_EVALUATION_COUNT = 200
DEFAULT_EVALUATION_SEED = 424242
# The pictures of answers and the uploads read are deleted, oldest first, beyond this many
# bytes or this age; Gradio deletes every other file it made for the app on the same schedule.
MAX_STORED_BYTES = 256 * 2**20
MAX_STORED_AGE_SECONDS = 3600
CACHE_CHECK_SECONDS = 600
# The length the generate tab starts at for a model that reads several: the most common one.
TYPICAL_LENGTH = 4
DEFAULT_GENERATE_SEED = 7

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
#generated-image img, #upload-image img {
  width: 340px !important; max-width: 100% !important; height: auto !important; object-fit: contain !important;
}
#verdict p { font-size: 1.1rem; }
/* Saliency thumbnails show the whole captcha, not a square crop of it. */
#generated-saliency img, #upload-saliency img { object-fit: contain !important; }
"""


def evaluation_limit():
    """The `WaitingLimit` of a page's evaluations, with the message for those turned away."""
    return WaitingLimit(
        MAX_WAITING_EVALUATIONS,
        f"{MAX_WAITING_EVALUATIONS} evaluations are already waiting to run, one at a time; try again "
        "in a minute. Reading captchas is not held up by them.",
    )


def make_actions(solver, notice=None, name=None):
    """The `DemoActions` around `solver` (see `served_models.load_first`) and the bundled models.

    The pictures of each model and the example uploads last as long as the app, and their folders are
    removed with it; the pictures of answers are stored once, in Gradio's cache, which serves them from there.
    """
    cache = gr.utils.get_upload_folder()
    os.makedirs(cache, exist_ok=True)
    models = ServedModels(solver, tempfile.mkdtemp(prefix="captcha-break-"), notice, name)
    store = PictureStore(tempfile.mkdtemp(prefix="captcha-break-", dir=cache), MAX_STORED_BYTES,
                         MAX_STORED_AGE_SECONDS)
    actions = DemoActions(models, store, cache)
    # The app's folders go with its actions: when they are dropped, or when the process exits.
    for folder in (models.pictures, store.folder):
        weakref.finalize(actions, shutil.rmtree, folder, ignore_errors=True)
    return actions


def evaluating(actions, limit):
    """`actions.evaluate` as the Evaluate button's function, run in its turn of `limit`, with a progress bar."""
    evaluate_answering = answering(actions.evaluate)

    # Gradio hands an event its progress bar through a parameter defaulting to `gr.Progress()`.
    def evaluate(count, seed, length=None, size=None, model=None, progress=gr.Progress()):  # noqa: B008
        progress(0, desc="Waiting for the evaluations before it")
        with limit.turn():
            progress(0, desc="Drawing and reading captchas")
            return evaluate_answering(count, seed, length, size, model,
                                      lambda fraction: progress(fraction, desc="Drawing and reading captchas"))
    evaluate.__doc__ = actions.evaluate.__doc__
    return evaluate


def typical_length(config):
    """The length the generate tab proposes for `config`: TYPICAL_LENGTH where the model reads it."""
    return min(max(TYPICAL_LENGTH, config.min_length), config.max_length)


def length_slider_settings(config, length):
    """The generate tab's length slider for `config`, at `length`, shown only for a model of several lengths.

    Gradio refuses a slider whose minimum is its maximum, so for a model of one length the
    hidden slider spans one more; the text box's hint names the length.
    """
    return {"minimum": config.min_length, "maximum": config.max_length + config.fixed_length, "value": length,
            "visible": not config.fixed_length}


def choose_model(actions, model, text, length):
    """The page's components for a newly chosen model, loading it if it is its first visitor.

    A typed text the model cannot have is cleared, and the length moves into the model's range.
    """
    config = actions.models.config(model)
    length = min(max(int(length or config.min_length), config.min_length), config.max_length)
    headline, details, curve = actions.model_tab(model)
    return (
        headline,
        gr.update(value=actions.kept_text(text, model), info=page_text.text_help(config)),
        gr.update(**length_slider_settings(config, length)),
        gr.update(placeholder=page_text.generate_size_placeholder(config)),
        gr.update(label=page_text.model_input_label(config)),
        *(gr.update(placeholder=placeholder) for placeholder in page_text.evaluation_placeholders(config)),
        details,
        gr.update(value=curve, visible=curve is not None),
    )


def confidence_display(elem_id):
    return gr.HighlightedText(label="Confidence per character", color_map=page_text.CONFIDENCE_COLORS,
                              show_legend=False, elem_id=elem_id)


def saliency_display(elem_id):
    # The label sits in the gallery's corner and would hide the tops of the overlays, so a
    # heading above the gallery names it instead.
    gr.Markdown("**Why:** where the model read each character (heat over the captcha)")
    return gr.Gallery(label="Saliency per character", show_label=False, columns=4, height=150,
                      object_fit="contain", format="png", allow_preview=True, elem_id=elem_id)


def size_input(elem_id, placeholder, info):
    return gr.Textbox(label="Size (WIDTHxHEIGHT in pixels)", placeholder=placeholder, elem_id=elem_id,
                      info=f"From {visitor_input.SIZES_TEXT}; {info}", min_width=160)


def build_demo(actions, evaluations=None):
    """The page around `DemoActions` (see `make_actions`), with its queue configured.

    `evaluations` is the `WaitingLimit` its evaluations take turns in (default: one of its own).
    """
    evaluations = evaluations or evaluation_limit()
    models = actions.models
    config = models.config()
    headline_text, details_text, curve = actions.model_tab()
    with gr.Blocks(title="captcha-break: read captchas with a small CNN", analytics_enabled=False,
                   delete_cache=(CACHE_CHECK_SECONDS, MAX_STORED_AGE_SECONDS)) as demo:
        gr.Markdown(
            "# captcha-break\n"
            "Small Keras networks that read the text captchas drawn by the Python "
            "[`captcha`](https://pypi.org/project/captcha/) library, and a general one, still weak, for other "
            "sites' captchas. Draw one and watch it being read, "
            "upload your own, or measure accuracy on thousands. Every button is also an API endpoint: "
            "see *Use via API* at the bottom of the page."
        )
        model = gr.Radio(
            models.names, value=models.name, label="Model", elem_id="model-choice",
            info=" · ".join(f"{name}: {page_text.captcha_summary(models.config(name))}" for name in models.names),
        )
        headline = gr.Markdown(headline_text, elem_id="model-headline")
        if models.notice:
            gr.Markdown(f"**Warning:** {models.notice}", elem_id="model-notice")

        with gr.Tab("Generate & solve", id="generate") as generate_tab:
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(label="Captcha text", placeholder="empty: random text",
                                      info=page_text.text_help(config), elem_id="generate-text")
                    seed = gr.Number(label="Seed", value=DEFAULT_GENERATE_SEED, precision=0, elem_id="generate-seed",
                                     info="The same text, size and seed always draw the same image.")
                    length = gr.Slider(**length_slider_settings(config, typical_length(config)), step=1,
                                       label="Length of a random text", elem_id="generate-length",
                                       info="Within the lengths the model reads; a typed text sets its own.")
                    generate_size = size_input("generate-size", page_text.generate_size_placeholder(config),
                                               "empty: the model's own size")
                    generate_button = gr.Button("Generate & solve", variant="primary", elem_id="generate-button")
                    random_button = gr.Button("New random captcha", elem_id="random-button")
                with gr.Column(scale=3):
                    captcha = gr.Image(label="Captcha", format="png", type="pil", interactive=False, height=200,
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
                event.success(answering(actions.explain_picture), [captcha, model], generated_saliency,
                              api_visibility="private")

            # Invalid input is explained under its box before anything runs, and to API clients. Raw
            # values reach the actions (as for evaluations, below), also because the length slider's range
            # follows the chosen model on the page only: Gradio would check it against the first model's.
            generate = answering(actions.generate)
            check_generate = validator(actions.generate_checks)
            explain_generated(generate_button.click(generate, generate_inputs, generate_outputs, api_name="generate",
                                                    preprocess=False, validator=check_generate))
            explain_generated(text.submit(generate, generate_inputs, generate_outputs, api_visibility="private",
                                          preprocess=False, validator=check_generate))
            explain_generated(random_button.click(answering(actions.new_random_captcha), generate_inputs[2:],
                                                  [text, seed, *generate_outputs], api_visibility="private",
                                                  preprocess=False))
            # The first visit opens on a captcha already read, not on empty boxes.
            explain_generated(demo.load(answering(actions.show_generated), generate_inputs, generate_outputs,
                                        api_visibility="private", preprocess=False))

        with gr.Tab("Upload & solve", id="upload") as upload_tab:
            with gr.Row():
                with gr.Column():
                    upload = gr.Image(label="Captcha image", type="filepath", image_mode=None,
                                      sources=["upload", "clipboard"], height=220, elem_id="upload-image")
                    gr.Markdown(
                        f"PNG, JPEG, GIF, WebP, BMP or TIFF, of any size and color mode, up to "
                        f"{image_input.MAX_FILE_BYTES // 2**20} MB and {image_input.MAX_PIXELS:,} pixels "
                        "(e.g. 4096×4096). Paste with Ctrl+V or drop a file."
                    )
                    ignore_case = gr.Checkbox(label="Ignore case: give the text in upper case, for sites that do",
                                              elem_id="ignore-case")
                    solve_button = gr.Button("Solve", variant="primary", elem_id="solve-button")
                    if not config.site:
                        examples = write_example_uploads(config, models.pictures)
                        gr.Examples(examples, inputs=upload,
                                    label="Example captchas (PNG, JPEG, GIF, WebP, BMP): click one")
                        # A clicked example is read from Gradio's copy, which must outlive every reading.
                        actions.store.keep(examples)
                with gr.Column():
                    model_input = gr.Image(
                        label=page_text.model_input_label(config), interactive=False, format="png", height=220,
                        buttons=["download"], elem_id="model-input",
                    )
                    upload_reading = gr.Textbox(label="Model's reading", interactive=False, elem_id="upload-reading")
                    upload_details = gr.Markdown(label="Details", elem_id="upload-details")
                    upload_confidences = confidence_display("upload-confidences")
                    upload_saliency = saliency_display("upload-saliency")
            solve_outputs = [upload_reading, upload_confidences, model_input, upload_details]
            # Gradio's image preprocessing would open the file before the app could check where it
            # lies and refuse a broken one clearly: the raw payload reaches `solve` and `explain`.
            solve_button.click(answering(actions.solve), [upload, model, ignore_case], solve_outputs, preprocess=False,
                               api_name="solve").success(
                answering(actions.explain), [upload, model], upload_saliency, preprocess=False, api_name="explain")

            def read_upload(trigger):
                """Read the upload, then explain the reading; empty outputs where the image was cleared."""
                trigger(answering(actions.solve_if_present), [upload, model, ignore_case], solve_outputs,
                        preprocess=False, api_visibility="private").success(
                    answering(actions.explain_if_present), [upload, model], upload_saliency, preprocess=False,
                    api_visibility="private")

            # Uploads, pastes and example clicks are read at once, and read again when case is ignored or not.
            read_upload(upload.change)
            read_upload(ignore_case.change)

        with gr.Tab("Accuracy", id="evaluate") as evaluate_tab:
            with gr.Row(equal_height=True):
                count = gr.Slider(1, MAX_EVALUATION_COUNT, value=DEFAULT_EVALUATION_COUNT, step=1,
                                  label="Captchas to read", elem_id="evaluate-count",
                                  info=f"At most {MAX_EVALUATION_COUNT:,} per run. Runs take turns, with at most "
                                       f"{MAX_WAITING_EVALUATIONS} waiting, so that no visitor can hog the server.")
                evaluation_seed = gr.Number(label="Seed", value=DEFAULT_EVALUATION_SEED, precision=0,
                                            elem_id="evaluate-seed",
                                            info=page_text.seeds_text(models.stage_seeds))
                evaluate_button = gr.Button("Evaluate", variant="primary", scale=0, min_width=160,
                                            elem_id="evaluate-button")
            length_placeholder, size_placeholder = page_text.evaluation_placeholders(config)
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
            # The validator runs before a request joins the queue: it refuses a bad count, or one
            # evaluation too many, at once. Gradio would preprocess the values before it, and a value
            # a component refuses there fails the request with a bare HTTP 400, its message only in the
            # server's log: raw values reach the validator, whose messages say what is accepted.
            # Evaluations run one at a time (see `WaitingLimit`), those waiting inside the lane.
            evaluation_lane = {"concurrency_id": EVALUATION_LANE, "concurrency_limit": MAX_WAITING_EVALUATIONS + 1}
            evaluate_button.click(evaluating(actions, evaluations), [count, evaluation_seed, evaluation_length,
                                                                     evaluation_size, model],
                                  [summary, confusions, failures, report], api_name="evaluate", **evaluation_lane,
                                  preprocess=False, validator=validator(actions.evaluate_checks, evaluations))
            # The raw payload reaches `evaluate_zip`, which checks that it names an uploaded file.
            evaluate_zip_button.click(answering(evaluations.taking_turns(actions.evaluate_zip)), [archive, model],
                                      [summary, confusions, failures, report], api_name="evaluate_zip",
                                      **evaluation_lane, preprocess=False,
                                      validator=validator(actions.evaluate_zip_checks, evaluations))

        with gr.Tab("Your captchas", id="yours") as yours_tab:
            your_captchas_tab.build(demo, actions)

        with gr.Tab("Model", id="model") as model_tab:
            with gr.Row():
                with gr.Column():
                    model_details = gr.Markdown(details_text, elem_id="model-details")
                    training_curve = gr.Image(curve, label="Training curve", interactive=False,
                                              buttons=["fullscreen"], visible=curve is not None,
                                              elem_id="training-curve")
                    with gr.Accordion("Keras summary", open=False):
                        keras_summary = gr.Code(language=None, elem_id="keras-summary")
                with gr.Column():
                    network_diagram = gr.Image(label="Network", show_label=False,
                                               interactive=False, buttons=["download", "fullscreen"],
                                               elem_id="network-diagram")

        # A newly chosen model describes itself everywhere, then reads the captcha and the upload on show.
        chosen = model.change(
            answering(functools.partial(choose_model, actions)), [model, text, length],
            [headline, text, length, generate_size, model_input, evaluation_length, evaluation_size,
             model_details, training_curve],
            api_visibility="private",
        )
        # The network's parts need its Keras model, loaded when the Model tab first shows them rather than at
        # start-up; a model chosen elsewhere on the page leaves them blank until the tab opens.
        model_tab_open = gr.State(False)
        for tab in (generate_tab, upload_tab, evaluate_tab, yours_tab):
            tab.select(lambda: False, None, model_tab_open, api_visibility="private", queue=False)
        model_tab.select(lambda: True, None, model_tab_open, api_visibility="private", queue=False).then(
            answering(actions.network_tab), [model], [keras_summary, network_diagram], api_visibility="private")
        chosen.success(answering(actions.network_tab_if_open), [model, model_tab_open],
                       [keras_summary, network_diagram], api_visibility="private")
        explain_generated(chosen.success(answering(actions.show_generated), generate_inputs, generate_outputs,
                                         api_visibility="private", preprocess=False))
        read_upload(chosen.success)

    # Readings are quick and may run a few at a time; evaluations are long, so they queue
    # one at a time in their own lane, and the queue refuses visitors beyond its size.
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=READING_CONCURRENCY)
    return demo


# The page's look and upload limit, shared by `python app.py` and the tests, so both serve the same page.
PAGE_OPTIONS = {"theme": THEME, "css": CSS, "max_file_size": image_input.MAX_FILE_BYTES}


def web_app(blocks, actions=None, **options):
    """The server's FastAPI app: `blocks` at /, and with `actions` (see `make_actions`) bulk reading beside it.

    `POST /bulk/solve` answers plain JSON over HTTP (see `captcha_app.bulk_api`). `options` go to
    `gr.mount_gradio_app`, e.g. `mcp_server=True` as `python app.py --mcp` passes. Calls of the
    page's events that name files by address are refused before Gradio would fetch them
    (see `captcha_app.local_files.RemoteFileRefusal`).
    """
    # The bulk route comes before the page, which is mounted at / and answers every other path.
    # FastAPI's own documentation pages are left out: the page documents its API.
    routes = [bulk_api.route(actions.read, actions.models.identity)] if actions else []
    server = fastapi.FastAPI(routes=routes, docs_url=None, redoc_url=None, openapi_url=None)
    server.add_middleware(RemoteFileRefusal)
    return gr.mount_gradio_app(server, blocks, path="/", **{**PAGE_OPTIONS, **options})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Serve the captcha-break web demo and its API.")
    parser.add_argument(
        "--model", default=environment.model_from_environment(),
        help=f"the model chosen when the page opens: a bundled model's name ({', '.join(BUNDLED_MODELS)}), "
             f"a .keras file or a Hub repo OWNER/NAME[@REVISION] (default: ${environment.MODEL_VARIABLE}, else "
             f"{DEFAULT_MODEL}); visitors can also choose any bundled model",
    )
    parser.add_argument("--runtime", choices=runtime.RUNTIMES, help=runtime.RUNTIME_HELP)
    parser.add_argument(
        "--strict", action="store_true", default=environment.strict_from_environment(),
        help=f"fail at start-up when --model cannot be loaded, instead of serving the bundled model with a "
             f"warning (default: on when ${environment.STRICT_VARIABLE} is 1)",
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
ACTIONS = make_actions(*load_first(MODEL_SOURCE, ARGUMENTS.strict, ARGUMENTS.runtime))
EVALUATIONS = evaluation_limit()
demo = build_demo(ACTIONS, EVALUATIONS)

if __name__ == "__main__":
    # The address Gradio's own launch would take, as Spaces set it.
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    # An --mcp left out (None) leaves MCP to GRADIO_MCP_SERVER.
    server = web_app(demo, ACTIONS, server_name=host, server_port=port, mcp_server=ARGUMENTS.mcp or None)
    print(f"* Running on local URL:  http://{host}:{port}", flush=True)
    # Open event streams would hold a graceful shutdown for as long as they last: a stop (Ctrl-C, SIGTERM) gives
    # them a few seconds, then ends.
    uvicorn.run(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS)
