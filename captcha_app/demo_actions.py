"""What the web demo's buttons do: draw a captcha and read it, read an upload, explain, measure.

`DemoActions` takes and returns the values of the page's components (texts, numbers,
file paths, PIL images, pictures as files) around the models a server offers (see
`served_models`), and raises ValueError with a message for the visitor on bad input, so
that every action can be called and tested without Gradio; `app.py` wires them to the
page and turns those errors into messages on it.
"""

import os
import secrets

from PIL import Image

from captcha_app import page_text, visitor_input
from captcha_model.data import preprocessing, rendering
from captcha_model.image_input import open_image
from captcha_model.reading import evaluation, runtime

MAX_EVALUATION_COUNT = 2000
MAX_ZIP_BYTES = 50 * 2**20
MAX_FAILURES_SHOWN = 24
MODEL_INPUT_DISPLAY_WIDTH = 352
# Random captchas are drawn on seeds from here, skipping those the models drew from in training.
RANDOM_SEEDS = range(10**7, 10**9)
# Seeded captchas in each accepted format are the upload tab's examples: nothing binary is committed.
EXAMPLE_UPLOADS = [(101, "png"), (102, "jpeg"), (103, "gif"), (104, "webp"), (105, "bmp")]


def model_input_picture(pixels, config):
    """What the network reads (one image's `data.preprocess` output), enlarged with square pixels for display."""
    picture = Image.fromarray(pixels[:, :, 0] if config.input_channels == 1 else pixels)
    zoom = max(1, MODEL_INPUT_DISPLAY_WIDTH // config.input_width)
    return picture.resize((config.input_width * zoom, config.input_height * zoom), Image.Resampling.NEAREST)


def write_example_uploads(config, directory):
    """The example captchas, one per format, written to `directory`; file names carry the true text."""
    paths = []
    for seed, file_format in EXAMPLE_UPLOADS:
        text, image = rendering.sample_captcha(config, seed)
        # GIF holds a palette and BMP is shown in grayscale, to exercise other image modes.
        image = {"gif": image.convert("P"), "bmp": image.convert("L")}.get(file_format, image)
        path = os.path.join(directory, f"captcha-{text}.{file_format}")
        image.save(path, format=file_format.upper())
        paths.append(path)
    return paths


class DemoActions:
    """The functions behind the components. `model`, the chosen model's name, is the last value of each.

    `models` is a `ServedModels`; `store` a `PictureStore` for the pictures of answers;
    `upload_folder` the folder the server receives uploads in, the only files read.
    """

    def __init__(self, models, store, upload_folder):
        self.models = models
        self.store = store
        self.upload_folder = os.path.realpath(upload_folder)

    def read(self, images, model=None):
        """Readings of decoded images, in a model call shared with concurrent requests; also their network inputs."""
        served = self.models.get(model)
        pixels = preprocessing.preprocess(images, served.solver.config)
        return served.reader.read(pixels), pixels

    def answered_by(self, model=None):
        return page_text.answered_by(self.models.identity(model))

    def picture_file(self, picture, name):
        """A PIL image as `name`.png in the bounded store, which the server serves without copying."""
        return self.store.save(picture, name)

    def generate(self, text, seed, length=None, size=None, model=None):
        """Draw a captcha of the kind the model learnt (the captcha library's; for 'general', the project's own), then
        read it with the model.

        Args:
            text: the captcha's text, in the model's charset; empty for a random text.
            seed: a whole number; the same text, size and seed always draw the same image.
            length: the number of characters of a random text; empty for the model's own.
            size: the captcha's size as 'WIDTHxHEIGHT' in pixels, e.g. '160x60'; empty for the model's own.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80', 'general' or the app's first model (default).
        Returns:
            the image's file, its true text, the reading, a verdict naming the model, per-character confidences.
        """
        seed = visitor_input.whole_number(seed, "seed")
        text = (text or "").strip() or None
        config = self.models.config(model)
        if config.site:
            raise ValueError(page_text.site_notice(config))
        # A text sets its own length: the length asked for counts only for random texts.
        captchas = visitor_input.captchas_to_draw(config, None if text else length, size)
        # One captcha has one size: the model's own where none was asked for, not one drawn from its range.
        captchas = captchas.at(width=captchas.captcha_width, height=captchas.captcha_height)
        truth, image = rendering.sample_captcha(captchas, seed, text=text)
        reading = self.read([image], model)[0][0]
        return (self.picture_file(image, "captcha"), truth, reading.text,
                f"{page_text.verdict(truth, reading)}\n\n{self.answered_by(model)}",
                page_text.character_confidences(reading))

    def show_generated(self, text, seed, length=None, size=None, model=None):
        """`generate` for a page that opens or changes model; for a model of a site's captchas, which draws
        none, the verdict says so instead."""
        config = self.models.config(model)
        if config.site:
            return None, "", "", page_text.site_notice(config), None
        return self.generate(text, seed, length, size, model)

    def new_random_captcha(self, length=None, size=None, model=None):
        """A random text on a seed no bundled model drew from: clears the text box and sets the seed."""
        seed = secrets.choice(RANDOM_SEEDS)
        while seed in self.models.seeds_drawn:
            seed = secrets.choice(RANDOM_SEEDS)
        return "", seed, *self.generate("", seed, length, size, model)

    def generate_checks(self, text, seed, length=None, size=None, model=None):
        """One check per input of `generate`, each raising the ValueError `generate` would raise for it."""
        config = self.models.config_if_known(model)
        text = (text or "").strip()
        return [
            lambda: preprocessing.check_text(text, config) if text and config else None,
            lambda: visitor_input.whole_number(seed, "seed"),
            # A text sets its own length, and lengths are the model's to judge.
            lambda: visitor_input.check_length(length, config) if config and not text else None,
            lambda: visitor_input.check_size(size),
            lambda: self.models.check(model),
        ]

    def uploaded_path(self, upload):
        """The path of a file the server received as an upload, or a clear error for anything else.

        Uploads reach the actions as the component's raw payload: a forged request could
        otherwise have the server open any file by its path.
        """
        path = upload.get("path") if isinstance(upload, dict) else None
        try:
            received = (isinstance(path, str)
                        and os.path.commonpath([os.path.realpath(path), self.upload_folder]) == self.upload_folder)
        except ValueError:
            received = False
        if not received:
            raise ValueError("Send the image as an uploaded file; this request names no file the server received.")
        return path

    def open_upload(self, upload):
        """The decoded image of an upload's raw payload, or a clear error; the file counts towards the store's bound."""
        if not upload:
            raise ValueError("Upload or paste an image first.")
        path = self.uploaded_path(upload)
        self.store.add(path)
        return open_image(path)

    def solve(self, upload, model=None, ignore_case=False):
        """Read the text of a captcha image (PNG, JPEG, GIF, WebP, BMP or TIFF, up to 10 MB).

        Args:
            upload: the captcha image file.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80', 'general' or the app's first model
                (default). A picture of a size that a model of the captcha library's images never read is read by
                'general', made for captchas of any site.
            ignore_case: give the text in upper case, for sites that ignore case (the general model reads both).
        Returns:
            the text read, per-character confidences, the picture the network saw, details naming the model.
        """
        image = self.open_upload(upload)
        chosen, reader = self.models.check(model), self.models.reader_of(image.size, model)
        readings, pixels = self.read([image], reader)
        reading = readings[0]
        details = f"{page_text.upload_details(reading, image)}\n\n{self.answered_by(reader)}"
        if reader != chosen:
            chosen_reading = self.read([image], chosen)[0][0]
            details += "\n\n" + page_text.read_by_general(chosen, self.models.config(chosen), image, chosen_reading,
                                                          self.models.config(reader))
        picture = self.picture_file(model_input_picture(pixels[0], self.models.config(reader)), "model-input")
        text = reading.text.upper() if ignore_case else reading.text
        return text, page_text.character_confidences(reading), picture, details

    def solve_if_present(self, upload, model=None, ignore_case=False):
        """`solve`, or empty outputs when the image was cleared."""
        return self.solve(upload, model, ignore_case) if upload else ("", None, None, "")

    def explain(self, upload, model=None):
        """Show why the model read a captcha image as it did: one heat map over the image per character.

        Args:
            upload: the captcha image file.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80', 'general' or the app's first model (default).
        Returns:
            (picture file, caption) pairs, the caption naming the character and its confidence.
        """
        image = self.open_upload(upload)
        return self.explain_picture(image, self.models.reader_of(image.size, model))

    def explain_if_present(self, upload, model=None):
        """`explain`, or no pictures when the image was cleared."""
        return self.explain(upload, model) if upload else []

    def explain_picture(self, image, model=None):
        """`explain` for a decoded image: one `saliency.explain` call for all its characters; none without one.

        Saliency needs the Keras model's gradients: it is loaded on the first request, and where it cannot be
        (no TensorFlow, or a model without its Keras file) there are no pictures.
        """
        solver = self.models.keras_solver(model) if image is not None else None
        if solver is None:
            return []
        with runtime.full_install_needed():
            from captcha_model.reading import saliency
        return [
            (self.picture_file(saliency.overlay(image, character.heatmap), "saliency"),
             f"{character.character} · {page_text.floor_percent(character.confidence, 1)}")
            for character in saliency.explain(solver, [image])[0]
        ]

    def evaluate(self, count, seed, length=None, size=None, model=None, on_progress=None):
        """Measure the model's accuracy: draw fresh captchas, read them and report how well it went.

        Args:
            count: how many captchas to draw and read, from 1 to 2000.
            seed: a whole number naming the stream of captchas; the Model tab lists those the model trained on.
            length: the number of characters of every captcha; empty for every length the model reads.
            size: the size of every captcha as 'WIDTHxHEIGHT' in pixels; empty for every size the model reads.
            model: the model to read with: 'default', 'ctc', 'ctc-170x80', 'general' or the app's first model (default).
        Returns:
            a Markdown summary (accuracy with its 95% interval), a plot of confusions, the failures, the full report.
        """
        count = visitor_input.check_count(count, MAX_EVALUATION_COUNT)
        seed = visitor_input.whole_number(seed, "seed")
        captchas = visitor_input.captchas_to_draw(self.models.config(model), length, size)
        report = evaluation.evaluate_stream(self.models.solver(model), count, seed, progress=False,
                                            captchas=captchas, on_progress=on_progress)
        return self.report_outputs(report, lambda index: rendering.sample_captcha(captchas, seed, index)[1], model)

    def evaluate_checks(self, count, seed, length=None, size=None, model=None):
        """One check per input of `evaluate`, each raising the ValueError `evaluate` would raise for it."""
        config = self.models.config_if_known(model)
        return [
            lambda: visitor_input.check_count(count, MAX_EVALUATION_COUNT),
            lambda: visitor_input.whole_number(seed, "seed"),
            lambda: visitor_input.check_length(length, config) if config else None,
            lambda: visitor_input.check_size(size),
            lambda: self.models.check(model),
        ]

    def evaluate_zip(self, archive, model=None):
        """Read the labelled captchas of an uploaded `.zip` (a labels.csv with columns file,text, or images
        named for their text) and report how well it went, with the same outputs as `evaluate`."""
        if not archive:
            raise ValueError("Upload a .zip of labelled captchas first.")
        solver = self.models.solver(model)
        captchas = evaluation.read_test_captchas(solver.config, self.uploaded_path(archive),
                                                 max_count=MAX_EVALUATION_COUNT, max_bytes=MAX_ZIP_BYTES)
        report = evaluation.evaluate_labelled(solver, captchas)
        return self.report_outputs(report, lambda index: captchas.images[index], model)

    def evaluate_zip_checks(self, archive, model=None):
        """The checks of `evaluate_zip`'s inputs that can run before it: the model's name."""
        return [lambda: None, lambda: self.models.check(model)]

    def report_outputs(self, report, image_of, model=None):
        """The Accuracy tab's outputs for a report of `model`; `image_of(index)` is the captcha a failure names."""
        failures = [
            (self.picture_file(image_of(failure.index), "captcha"),
             f"#{failure.index}: {failure.truth} → {failure.predicted or '(nothing)'}")
            for failure in report.failures[:MAX_FAILURES_SHOWN]
        ]
        summary = f"{page_text.evaluation_summary(report, len(failures))}\n\n{self.answered_by(model)}"
        return (summary, evaluation.plot_confusions(report), failures,
                {**report.to_dict(), "model": self.models.identity(model)})

    def model_tab(self, model=None):
        """The Model tab's headline, details and training curve (its network's parts come from `network_tab`)."""
        served = self.models.get(model)
        return page_text.model_headline(served.solver), page_text.model_details(served.solver), served.training_curve

    def network_tab(self, model=None):
        """The Model tab's Keras summary and network diagram, made from the Keras model the first time they are
        asked for (it is loaded then, not when the server starts)."""
        return (page_text.keras_summary(self.models.keras_solver(model)), self.models.network_diagram(model))

    def network_tab_if_open(self, model=None, tab_open=False):
        """`network_tab` where the Model tab shows it; else nothing, so that a newly chosen model's Keras network
        is loaded only once the tab opens."""
        return self.network_tab(model) if tab_open else ("", None)

    def kept_text(self, text, model=None):
        """`text` where the model can read it, else empty: what stays in the text box when the model changes."""
        text = (text or "").strip()
        try:
            preprocessing.check_text(text, self.models.config(model))
        except ValueError:
            return ""
        return text
