"""The "Your captchas" tab of the web app: drop a site's captchas, correct their pre-labels, train, take the model.

`build` lays the tab out inside the app's Blocks and wires it to `your_captchas.Workspaces`, one
workspace per page session, deleted when the page is closed. The grid shows PAGE_SIZE captchas a
page, least sure first, whatever the zip holds: a text typed (or a pre-label confirmed) with Enter
is saved and the next box takes the focus, the first of the next page after the last.
"""

import gradio as gr

from captcha_app import page_text, training_run, your_captchas
from captcha_app.event_wrappers import answering
from captcha_app.your_captchas import PAGE_SIZE
from captcha_model.reading.solver import GENERAL_MODEL

COLUMNS = 4
# How often the Train button's progress bar looks at the run.
PROGRESS_SECONDS = 1.0
MAX_FAILURES_SHOWN = 24
NO_CAPTCHAS = "_No captchas yet: drop a .zip above._"

CELL_ID = "your-label-{}"
# The browser moves the focus itself, at once, so that typing goes on while the label is saved.
FOCUS_NEXT = """(text) => {{
  const next = document.querySelector('#{next} input, #{next} textarea');
  if (next) {{ next.focus(); next.select(); }}
  return [text];
}}"""
FOCUS_FIRST = """() => {{
  setTimeout(() => {{
    const first = document.querySelector('#{first} input, #{first} textarea');
    if (first) {{ first.focus(); first.select(); }}
  }}, 100);
}}"""


def prelabelling_model(models):
    """The name of the model that pre-labels a fresh zip: the general one where it is served, else the app's first."""
    return GENERAL_MODEL if GENERAL_MODEL in models.names else models.name


def cell_label(index, row):
    """What a grid box is titled: the captcha's number and the model's confidence, or that a person typed it."""
    if row.typed:
        return f"#{index + 1} · ✓ typed"
    return f"#{index + 1} · {page_text.floor_percent(row.confidence)} sure"


def page_info(workspace):
    if not workspace.rows:
        return NO_CAPTCHAS
    return (f"Page {workspace.page + 1} of {workspace.page_count()} · {len(workspace.rows):,} captchas · "
            f"{workspace.typed_count():,} typed or confirmed")


def page_outputs(workspace, page):
    """The grid's images, its text boxes and the page line, for page `page`."""
    shown = workspace.turn_to(page)
    images, boxes = [], []
    for slot in range(PAGE_SIZE):
        if slot < len(shown):
            index, row = shown[slot]
            images.append(gr.update(value=workspace.image_path(row), visible=True))
            boxes.append(gr.update(value=row.text, label=cell_label(index, row), visible=True))
        else:
            images.append(gr.update(value=None, visible=False))
            boxes.append(gr.update(value="", visible=False))
    return [*images, *boxes, page_info(workspace)]


def result_outputs(workspace, status):
    """The result's Markdown (what happened, held-out accuracy with its interval) and the captchas it misreads."""
    result = workspace.result()
    if result is None:
        return status, gr.update(value=[], visible=False)
    low, high = result.interval
    text = (f"{status}\n\n### {page_text.percent(result.accuracy)} of {result.count:,} held-out captchas read right\n"
            f"95% interval {page_text.percent(low)} to {page_text.percent(high)}: your typed labels that training "
            f"never saw. {len(result.failures):,} misread" + (", shown below." if result.failures else "."))
    shown = [(path, f"{truth} → {read or '(nothing)'}") for path, truth, read in result.failures[:MAX_FAILURES_SHOWN]]
    return text, gr.update(value=shown, visible=bool(shown))


def build(demo, actions, policy=None, workspaces=None):
    """The tab's components and events, inside the current `gr.Tab` of `demo`.

    `actions` is the app's `DemoActions` (its models pre-label, its upload folder is the only one read);
    `policy` is the `TrainingPolicy` (default: from the environment). Returns the `Workspaces` of the page's sessions.
    """
    policy = policy or training_run.training_policy()
    workspaces = workspaces or your_captchas.Workspaces()
    models = actions.models

    def workspace_of(request):
        return workspaces.of(request.session_hash if request else None)

    gr.Markdown(
        "Drop a `.zip` of one site's captchas: labelled (a `labels.csv` with columns `file,text`), partly or not at "
        f"all. Each is pre-labelled by a model, least sure first; type the right text and press **Enter** (or just "
        f"**Enter** on a right one) and the next box takes over. Then train a model on your labels, measured on "
        f"those it never saw, and download it or push it to the Hub. At most {your_captchas.MAX_IMAGES:,} images "
        f"and {your_captchas.MAX_UNPACKED_BYTES // 2**20} MB unpacked; your captchas are seen by nobody else and "
        "deleted when you close the page."
    )
    with gr.Row(equal_height=True):
        archive = gr.File(label="Your captchas: a .zip", file_types=[".zip"], elem_id="your-zip", height=120)
        with gr.Column():
            names_are_labels = gr.Checkbox(label="The file names are the labels (7K2P.png, 7K2P_01.png)",
                                           elem_id="your-names-are-labels")
            load_button = gr.Button("Pre-label", variant="primary", elem_id="your-load-button")
            prelabel_again_button = gr.Button("Pre-label again (with your newest model)", elem_id="your-prelabel-again")
    summary = gr.Markdown(elem_id="your-summary")
    status = gr.Markdown(elem_id="your-status")
    with gr.Row():
        previous_button = gr.Button("← Previous page", size="sm", elem_id="your-previous")
        info = gr.Markdown(NO_CAPTCHAS, elem_id="your-page")
        next_button = gr.Button("Next page →", size="sm", elem_id="your-next")
    images, boxes = [], []
    for start in range(0, PAGE_SIZE, COLUMNS):
        with gr.Row(equal_height=True):
            for slot in range(start, start + COLUMNS):
                with gr.Column(min_width=160):
                    images.append(gr.Image(show_label=False, interactive=False, visible=False, height=80,
                                           buttons=[], elem_classes="your-captcha", elem_id=f"your-image-{slot}"))
                    boxes.append(gr.Textbox(lines=1, max_lines=1, visible=False, elem_id=CELL_ID.format(slot),
                                            elem_classes="your-label"))
    grid = [*images, *boxes, info]

    with gr.Row(equal_height=True):
        # A slider needs a range, even where training is off or capped below a minute.
        most = max(policy.max_minutes, 1.0)
        minutes = gr.Slider(0.5, most, value=min(5.0, most), step=0.5, label="Minutes of training",
                            interactive=policy.enabled, visible=policy.enabled, elem_id="your-minutes")
        train_button = gr.Button("Train", variant="primary", interactive=policy.enabled, elem_id="your-train")
        stop_button = gr.Button("Stop", variant="stop", elem_id="your-stop")
    gr.Markdown(policy.reason, elem_id="your-training-policy")
    # High enough to show the training's progress bar, which Gradio draws over the output.
    result = gr.Markdown(min_height=80, elem_id="your-result")
    failures = gr.Gallery(label="Held-out captchas it misreads: your label → its reading", columns=4, height=260,
                          object_fit="contain", visible=False, elem_id="your-failures")
    with gr.Row(equal_height=True):
        download_button = gr.Button("Download (.zip: labels.csv, and the model with its ONNX export once trained)",
                                    elem_id="your-download")
        download = gr.File(label="Download", interactive=False, elem_id="your-download-file")
    with gr.Row(equal_height=True):
        repo = gr.Textbox(label="Hub repo (OWNER/NAME)", elem_id="your-repo")
        token = gr.Textbox(label="Hugging Face token (write access)", type="password", elem_id="your-token",
                           info="Used for this push only: never stored or logged.")
        push_button = gr.Button("Push to the Hub", elem_id="your-push")
    pushed = gr.Markdown(elem_id="your-pushed")

    def load(upload, labels_from_names, request: gr.Request):
        if not upload:
            raise ValueError("Drop a .zip of your captchas first.")
        workspace = workspace_of(request)
        text = workspace.load(actions.uploaded_path(upload), models.solver(prelabelling_model(models)),
                              labels_from_names)
        return [text, "", *page_outputs(workspace, 0), "", gr.update(value=[], visible=False)]

    def prelabel_again(request: gr.Request):
        workspace = workspace_of(request)
        text = workspace.prelabel_again(models.solver(prelabelling_model(models)))
        return [text, "", *page_outputs(workspace, 0)]

    def previous_page(request: gr.Request):
        workspace = workspace_of(request)
        return page_outputs(workspace, workspace.page - 1)

    def next_page(request: gr.Request):
        workspace = workspace_of(request)
        return page_outputs(workspace, workspace.page + 1)

    def saver(slot):
        """The Enter of box `slot`; Gradio hands a request only to a function whose own signature names it."""
        def save_slot(text, request: gr.Request):
            return save(slot, text, request)
        return save_slot

    def save(slot, text, request):
        workspace = workspace_of(request)
        index = workspace.page * PAGE_SIZE + slot
        row, note = workspace.correct(index, text, models.config(prelabelling_model(models)))
        saved = f"Saved #{index + 1} as `{row.text}` · {workspace.typed_count():,} typed or confirmed. {note}"
        return gr.update(value=row.text, label=cell_label(index, row)), saved

    def save_and_turn(text, request: gr.Request):
        """The last box of a page: save it, then show the next page."""
        _, saved = save(PAGE_SIZE - 1, text, request)
        return [saved, *next_page(request)]

    def train(minutes_asked, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        workspace = workspace_of(request)
        run = workspace.start_training(minutes_asked, policy)
        progress(0, desc="Starting")
        while not run.wait(PROGRESS_SECONDS):
            fraction, line = run.progress()
            progress(fraction, desc=line)
        return result_outputs(workspace, workspace.end_of_training())

    def stop(request: gr.Request):
        workspace_of(request).stop_training()

    def take_away(request: gr.Request):
        return workspace_of(request).download()

    def push(repo_id, token_text, request: gr.Request):
        url = workspace_of(request).push(repo_id, token_text)
        return f"Pushed: [{url}]({url})", ""

    def clear_token():
        return ""

    private = {"api_visibility": "private"}
    load_button.click(answering(load), [archive, names_are_labels], [summary, status, *grid, result, failures],
                      preprocess=False, **private)
    prelabel_again_button.click(answering(prelabel_again), None, [summary, status, *grid], **private)
    previous_button.click(answering(previous_page), None, grid, **private)
    next_button.click(answering(next_page), None, grid, **private)
    for slot, box in enumerate(boxes[:-1]):
        box.submit(answering(saver(slot)), box, [box, status], queue=False,
                   js=FOCUS_NEXT.format(next=CELL_ID.format(slot + 1)), **private)
    boxes[-1].submit(answering(save_and_turn), boxes[-1], [status, *grid], **private).success(
        None, js=FOCUS_FIRST.format(first=CELL_ID.format(0)))
    train_button.click(answering(train), minutes, [result, failures], concurrency_limit=None, **private)
    stop_button.click(answering(stop), None, None, queue=False, **private)
    download_button.click(answering(take_away), None, download, **private)
    # The token box is emptied whatever the push's outcome: the token lives only as long as the request.
    push_button.click(answering(push), [repo, token], [pushed, token], **private).then(clear_token, None, token,
                                                                                    **private)

    def leave(request: gr.Request):
        workspaces.close(request.session_hash)

    demo.unload(leave)
    return workspaces
