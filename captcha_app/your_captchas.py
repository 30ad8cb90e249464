"""A visitor's own captchas in the app: unpacked, pre-labelled, corrected, trained on, downloaded, pushed.

A `Workspace` is one visitor's: a private temporary folder holding the images of the `.zip` they
dropped (bounded: MAX_IMAGES images, MAX_UNPACKED_BYTES unpacked), the rows of their pre-labels
(`captcha_model.reading.prelabel`, least sure first) with the corrections they typed, and the
models their training runs wrote. Each run (`captcha_app.training_run`, a subprocess that can be
stopped) writes a folder of its own, and only a run that finishes replaces the last good model.
`Workspaces` keeps one workspace per page session, at most MAX_TRAININGS_AT_ONCE runs across them,
and deletes a workspace (its files, and any run) when its visitor leaves, when it has been idle for
IDLE_SECONDS, or when the server stops. Nothing here needs Gradio: the tab (`your_captchas_tab`)
wires it to the page, and every refusal is a ValueError with a message for the visitor.
"""

import atexit
import dataclasses
import os
import shutil
import tempfile
import threading
import time
import zipfile

from captcha_app.training_run import MAX_TRAININGS_AT_ONCE, TrainingRun, read_result
from captcha_model.data import labelled
from captcha_model.publishing import hub
from captcha_model.reading import prelabel, runtime, solver as solver_lib
from captcha_model.training import onnx_export, site_training

# One visitor's zip: at most this many images and bytes unpacked, refused before anything is decoded.
MAX_IMAGES = 5000
MAX_UNPACKED_BYTES = 50 * 2**20
# Captchas shown per page of the grid: a page is what the browser draws, whatever the zip holds.
PAGE_SIZE = 24
MAX_LABEL_LENGTH = 32
# With images left unlabelled, a run trains on the typed labels, then once more with the readings it is sure of.
SELF_TRAINING_ROUNDS = 1
# A run is killed this long after its minutes are up: starting, testing and exporting take time of their own.
FINISHING_SECONDS = 300
# Workspaces whose visitor has not been seen for this long are deleted, run and all.
IDLE_SECONDS = 2 * 3600
LABELS_FILE = labelled.LABELS_FILE
DOWNLOAD_FILE = "captcha-model.zip"
# Held while a run is counted and started, so that two visitors starting at once count each other.
TRAINING_STARTS = threading.Lock()


def check_label(text):
    """A typed label, stripped; ValueError where it is empty, too long, or holds spaces or control characters."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Type the captcha's text: a label cannot be empty.")
    if len(text) > MAX_LABEL_LENGTH:
        raise ValueError(f"A label is at most {MAX_LABEL_LENGTH} characters; this one has {len(text)}.")
    odd = sorted({character for character in text if character.isspace() or not character.isprintable()})
    if odd:
        raise ValueError(f"A label holds the captcha's characters only, without spaces or control characters; "
                         f"this one holds {''.join(odd)!r}.")
    return text


def unknown_characters(text, config):
    """The characters of `text` that a model of `config` does not read, in order of first appearance."""
    known = set(config.charset)
    return "".join(dict.fromkeys(character for character in text if character not in known))


def safe_member(folder, name):
    """The path in `folder` for a zip entry's `name`, or None where the name would lead outside it."""
    path = os.path.realpath(os.path.join(folder, name))
    return path if path.startswith(os.path.realpath(folder) + os.sep) else None


class Workspace:
    """One visitor's captchas, labels, runs and models, in a temporary folder of its own (see the module)."""

    def __init__(self, trainings_running=lambda: 0):
        self.folder = tempfile.mkdtemp(prefix="captcha-break-yours-")
        self.images = os.path.join(self.folder, "images")
        self.rows = []
        self.summary = ""
        self.page = 0
        self.model_folder = None
        self.model_solver = None
        self.training = None
        self.runs = 0
        self.last_used = time.monotonic()
        self.trainings_running = trainings_running
        self.lock = threading.RLock()

    # The captchas and their labels.

    def load(self, archive, solver, labels_from_names=False):
        """Unpack the `.zip` at `archive`, pre-label its images with `solver`; returns a summary for the visitor.

        The zip's own labels (a labels.csv, or with `labels_from_names` the file names) are kept as typed.
        What came before (images, labels, models) is replaced only once the new zip has been read.
        """
        with self.lock:
            self.check_idle()
            name = os.path.basename(archive)
            try:
                captchas = labelled.read_partly_labelled(archive, labels_from_names, MAX_IMAGES, MAX_UNPACKED_BYTES)
            except ValueError as error:
                raise ValueError(str(error).replace(archive, name)) from None
            unpacked = os.path.join(self.folder, "unpacking")
            shutil.rmtree(unpacked, ignore_errors=True)
            os.makedirs(unpacked)
            skipped = list(captchas.skipped)
            for member in captchas.names:
                path = safe_member(unpacked, captchas.listed_as(member))
                if path is None:
                    skipped.append((member, "a name that leads outside the zip's folder"))
                    continue
                try:
                    content = captchas.files.read(member)
                except ValueError as error:
                    skipped.append((member, f"unreadable image: {error}"))
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as file:
                    file.write(content)
            prelabel.write_rows([prelabel.Row(captchas.listed_as(member), text, None, True)
                                 for member, text in captchas.typed.items()], os.path.join(unpacked, LABELS_FILE))
            try:
                found = prelabel.prelabel(unpacked, solver)
            except ValueError as error:
                shutil.rmtree(unpacked, ignore_errors=True)
                raise ValueError(str(error).replace(unpacked, name)) from None
            shutil.rmtree(self.images, ignore_errors=True)
            os.replace(unpacked, self.images)
            self.forget_models()
            notes = ["The zip has no labels.csv: every image is pre-labelled by the model, for you to check."
                     ] if captchas.labels_from == "nothing" else []
            self.take(found, skipped, f"{name}: ", notes)
            return self.summary

    def prelabel_again(self, solver):
        """Read every row a person has not typed again, with the newest trained model or else `solver`."""
        with self.lock:
            self.check_loaded()
            self.check_idle()
            prelabel.write_rows(self.rows, os.path.join(self.images, LABELS_FILE))
            reader = self.newest_solver() or solver
            self.take(prelabel.prelabel(self.images, reader), [], "Pre-labelled again: ")
            return self.summary

    def take(self, found, skipped, heading, notes=()):
        """Hold the rows of `found` (a `prelabel.Prelabels`), with a summary (after `heading`, with `notes` and what
        was `skipped` before pre-labelling); the copies prelabel skipped leave the folder, so that the images there
        are the rows."""
        for member, _ in found.skipped:
            path = safe_member(self.images, member)
            if path and os.path.isfile(path):
                os.remove(path)
        self.rows = list(found.rows)
        self.page = 0
        prelabel.write_rows(self.rows, os.path.join(self.images, LABELS_FILE))
        lines = [f"{heading}{len(self.rows):,} captchas, {found.typed_count:,} labelled (kept as typed) and "
                 f"{found.read_count:,} read by the model, least sure first.", *notes, *found.warnings]
        every_skip = [*skipped, *found.skipped]
        if every_skip:
            lines.append(labelled.describe_skipped(every_skip))
        self.summary = "\n\n".join(lines)

    def check_loaded(self):
        if not self.rows:
            raise ValueError("Drop a .zip of your captchas first.")

    def check_idle(self):
        if self.training and self.training.running():
            raise ValueError("A training run is going on: stop it first, or wait for it to end.")

    def page_count(self):
        return max(1, -(-len(self.rows) // PAGE_SIZE))

    def turn_to(self, page):
        """Show page `page` (clamped to the pages there are); returns [(row index, Row)] on it."""
        with self.lock:
            self.last_used = time.monotonic()
            self.page = min(max(0, int(page)), self.page_count() - 1)
            start = self.page * PAGE_SIZE
            return list(enumerate(self.rows[start:start + PAGE_SIZE], start))

    def image_path(self, row):
        return os.path.join(self.images, row.file)

    def correct(self, index, text, config=None):
        """Set the text of row `index` as typed by the person; returns (the row, a note on characters that the
        pre-labelling model of `config` does not read, or "")."""
        text = check_label(text)
        with self.lock:
            self.last_used = time.monotonic()
            if not 0 <= index < len(self.rows):
                raise ValueError("That captcha is no longer in the grid; drop the .zip again or turn the page.")
            row = dataclasses.replace(self.rows[index], text=text, typed=True)
            self.rows[index] = row
            prelabel.write_rows(self.rows, os.path.join(self.images, LABELS_FILE))
        unknown = unknown_characters(text, config) if config else ""
        note = (f"The pre-labelling model does not read {unknown!r}; a model trained on your labels learns every "
                "character they hold.") if unknown else ""
        return row, note

    def typed_count(self):
        return sum(row.typed for row in self.rows)

    # Training.

    def start_training(self, minutes, policy, extra_arguments=()):
        """Start a run of `minutes` (within `policy`) on the typed labels, and the untyped images where there are
        any; returns the `TrainingRun`. ValueError where training is off, busy, or has too few labels."""
        with self.lock, TRAINING_STARTS:
            if not policy.enabled:
                raise ValueError(policy.reason)
            self.check_loaded()
            self.check_idle()
            if self.trainings_running() >= MAX_TRAININGS_AT_ONCE:
                raise ValueError(f"{MAX_TRAININGS_AT_ONCE} training run is already going on on this server (its CPU "
                                 "is shared by every visitor); try again in a few minutes.")
            minutes = float(minutes)
            if not 0 < minutes <= policy.max_minutes:
                raise ValueError(f"A run trains for more than 0 and at most {policy.max_minutes:g} minutes here, "
                                 f"not {minutes:g}.")
            typed = self.typed_count()
            untyped = len(self.rows) - typed
            needed = site_training.MIN_TYPED_WITH_UNLABELLED if untyped else site_training.MIN_LABELLED
            if typed < needed:
                raise ValueError(f"Training needs at least {needed} labels typed or confirmed (type a text and press "
                                 f"Enter, or press Enter on a right pre-label); {typed} so far.")
            prelabel.write_rows(self.rows, os.path.join(self.images, LABELS_FILE))
            self.runs += 1
            folder = os.path.join(self.folder, "runs", f"run-{self.runs}")
            arguments = ["--data", self.images, "--max-minutes", f"{minutes:g}", "--output", folder,
                         "--cache-dir", os.path.join(self.folder, "cache")]
            if untyped:
                arguments += ["--unlabelled", self.images, "--rounds", str(SELF_TRAINING_ROUNDS)]
            self.training = TrainingRun([*arguments, *extra_arguments], folder, minutes,
                                        minutes * 60 + FINISHING_SECONDS, self.folder)
            return self.training

    def stop_training(self):
        """Stop the run going on, if any; whatever it wrote is dropped, and the last good model stays."""
        training = self.training
        if training:
            training.stop()

    def training_running(self):
        return bool(self.training and self.training.running())

    def end_of_training(self):
        """Once the run has ended: its model becomes the newest (replacing the one before) where it finished, and
        its folder goes where it did not. Returns a sentence saying which."""
        with self.lock:
            training = self.training
            if training is None or training.running():
                raise ValueError("No training run has ended.")
            self.training = None
            if training.finished():
                previous = self.model_folder
                self.model_folder, self.model_solver = training.folder, None
                if previous:
                    shutil.rmtree(previous, ignore_errors=True)
                return "Trained: the model below is your newest, and *Pre-label again* reads with it."
            message = training.failure()
            shutil.rmtree(training.folder, ignore_errors=True)
            kept = ("The model of your last finished run stays." if self.model_folder
                    else "You have no trained model yet.")
            if training.stopped:
                return f"Training was stopped before it finished. {kept}"
            return f"Training failed: {message} {kept}"

    def forget_models(self):
        """Drop the trained models: they were trained on captchas that are no longer here."""
        self.model_folder, self.model_solver = None, None
        shutil.rmtree(os.path.join(self.folder, "runs"), ignore_errors=True)

    def newest_solver(self):
        """A solver of the newest trained model (read by ONNX Runtime, its export being beside it), or None."""
        if self.model_folder and self.model_solver is None:
            self.model_solver = solver_lib.load_solver(os.path.join(self.model_folder, "model.keras"))
        return self.model_solver

    def result(self):
        """The `TrainingResult` of the newest model, or None where there is none."""
        return read_result(self.model_folder, self.images) if self.model_folder else None

    # Taking the work away.

    def download(self):
        """The path of a .zip of labels.csv and, where a run finished, its model.keras, ONNX export, metrics and
        training curve."""
        with self.lock:
            self.check_loaded()
            path = os.path.join(self.folder, DOWNLOAD_FILE)
            prelabel.write_rows(self.rows, os.path.join(self.images, LABELS_FILE))
            files = [os.path.join(self.images, LABELS_FILE)]
            if self.model_folder:
                names = ("model.keras", *onnx_export.EXPORT_FILES, "metrics.json", "training_curve.png")
                files += [os.path.join(self.model_folder, name) for name in names]
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    if os.path.isfile(file):
                        archive.write(file, os.path.basename(file))
            return path

    def push(self, repo_id, token):
        """Push the newest model with its ONNX export to the Hub repo `repo_id` with the visitor's `token`, used
        for this push only; returns the commit's URL."""
        if not (token or "").strip():
            # huggingface_hub would fall back on the server's own token (HF_TOKEN, a login): never a visitor's push.
            raise ValueError("Paste a Hugging Face token with write access: it is used for this push only, never "
                             "stored or logged.")
        with self.lock:
            if not self.model_folder:
                raise ValueError("Train a model first: there is none to push yet.")
            model_folder = self.model_folder
        exported = os.path.isfile(os.path.join(model_folder, runtime.ONNX_MODEL_FILE))
        commit = hub.push(os.path.join(model_folder, "model.keras"), (repo_id or "").strip(), token=token.strip(),
                          onnx_folder=model_folder if exported else None)
        return str(commit)

    def close(self):
        """Stop any run and delete every file of the workspace."""
        self.stop_training()
        shutil.rmtree(self.folder, ignore_errors=True)


class Workspaces:
    """One `Workspace` per page session, deleted when the visitor leaves (`close`), when idle for `idle_seconds`,
    and every one when the server stops."""

    def __init__(self, idle_seconds=IDLE_SECONDS):
        self.idle_seconds = idle_seconds
        self.open = {}
        self.lock = threading.Lock()
        atexit.register(self.close_all)

    def of(self, session):
        """The workspace of the page session `session`, made on its first use; idle ones are deleted meanwhile."""
        if not session:
            raise ValueError("This page has no session; reload it.")
        with self.lock:
            now = time.monotonic()
            idle = [key for key, workspace in self.open.items()
                    if key != session and now - workspace.last_used > self.idle_seconds
                    and not workspace.training_running()]
            closing = [self.open.pop(key) for key in idle]
            if session not in self.open:
                self.open[session] = Workspace(self.trainings_running)
            workspace = self.open[session]
            workspace.last_used = now
        for workspace_left in closing:
            workspace_left.close()
        return workspace

    def trainings_running(self):
        return sum(workspace.training_running() for workspace in list(self.open.values()))

    def close(self, session):
        with self.lock:
            workspace = self.open.pop(session, None)
        if workspace:
            workspace.close()

    def close_all(self):
        for session in list(self.open):
            self.close(session)
