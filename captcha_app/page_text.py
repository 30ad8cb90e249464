"""The words and figures the web demo shows: what a model reads, verdicts, confidences, summaries.

Each function turns a config, a reading, a report or a loaded solver into Markdown or
plain text, so the page's wording can be tested without serving it. Figures come from
the model's own config and metrics.json, never typed here.
"""

import math

from captcha_model import config as config_lib
from captcha_model.data import seeds
from captcha_model.reading import runtime as runtime_lib
from captcha_model.reading.solver import RUNTIME_NAMES


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
    """'4 characters', or '1 to 8 characters' for a model of several lengths."""
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


def text_help(config):
    """The hint under the captcha text box: what the model reads."""
    return f"{length_summary(config)} of {charset_summary(config.charset)}; empty: a random text"


def span_text(low, high):
    """'4', or '1 to 8': the values an empty box stands for."""
    return f"{low}" if low == high else f"{low} to {high}"


def generate_size_placeholder(config):
    """The size an empty size box draws in the generate tab: the model's own."""
    return f"{config.captcha_width}x{config.captcha_height}"


def evaluation_placeholders(config):
    """The lengths and sizes that empty boxes evaluate on: the model's own ranges."""
    (low_width, high_width), (low_height, high_height) = config.captcha_width_range, config.captcha_height_range
    return (f"every length: {span_text(config.min_length, config.max_length)}",
            f"every size: {span_text(f'{low_width}x{low_height}', f'{high_width}x{high_height}')}")


def model_input_label(config):
    return f"What the model sees: {config.input_width}×{config.input_height}, enlarged"


def site_notice(config):
    """What the generate tab says for a model of a site's captchas."""
    return (f"This model reads the captchas of a site ({config.site['source']}), not those the captcha library "
            "draws, so it draws none here: upload one of that site's captchas in *Upload & solve*, or score a .zip "
            "of them in *Accuracy*.")


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
    confidence = floor_percent(reading.confidence, 1)
    if reading.text == truth:
        return f"✓ **Right**: read `{reading.text}` with {confidence} confidence."
    read = f"`{reading.text}`" if reading.text else "nothing"
    return f"✗ **Wrong**: the captcha says `{truth}`, the model read {read} ({confidence} confidence)."


def upload_details(reading, image):
    """What the upload tab says of a reading: the text, its confidence and the image it came from."""
    return (f"Read `{reading.text or '(nothing)'}` with {floor_percent(reading.confidence, 1)} confidence "
            f"from a {image.width}×{image.height} {image.format} image in mode {image.mode}.")


def read_by_general(chosen, config, image, reading, general_config):
    """Why the general model (of `general_config`) read an upload instead of the `chosen` model of `config`, and
    what that one read."""
    return (f"**{chosen}** was trained on the captcha library's images of {size_summary(config)}, not "
            f"{image.width}×{image.height}, so the general model, made for captchas of any site, read this one (the "
            f"picture of what the model sees is its input, {general_config.input_width}×"
            f"{general_config.input_height}); **{chosen}** reads `{reading.text or '(nothing)'}`.")


def answered_by(identity):
    """A Markdown line naming the model that answered and its runtime (see `ServedModels.identity`), and any
    model it stands in for."""
    line = (f"Answered by **{identity['name']}**: {identity['source']}, revision `{identity['revision']}`, "
            f"run by {identity['runtime']}.")
    return line + (f" **Fallback:** {identity['fallback']}" if identity["fallback"] else "")


def evaluation_summary(report, failures_shown):
    """Markdown: accuracy with its interval and sample size, per-character accuracy, speed and failures."""
    low, high = report.interval
    failures = f"{len(report.failures):,}" + (f", the first {failures_shown} shown below" if failures_shown else "")
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


def model_headline(solver):
    """One line naming a loaded model, for the top of the page."""
    architecture = config_lib.get_architecture(solver.config.architecture)
    line = (
        f"**Model:** {solver.source} · `{architecture.name}` architecture ({architecture.description}) · "
        f"{solver.network.parameters:,} parameters · reads {captcha_summary(solver.config)} · "
        f"runs on {RUNTIME_NAMES[solver.runtime]}"
    )
    test = (solver.metrics or {}).get("test")
    if test:
        line += f" · test accuracy {percent(test['accuracy'])} on {test['count']:,} fresh captchas"
    return line


def model_details(solver):
    """Markdown: a loaded model's configuration and, where train.py left them, its training metrics and stages."""
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
        f"- **Last run:** {metrics.get('epochs', '?')} epochs, {metrics.get('samples_seen', 0):,} captchas seen, "
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
    lineage = metrics.get("lineage")
    if lineage:
        stages = ", ".join(f"{stage['stage']} (seed {stage['seed']:,})" for stage in lineage["stages"])
        lines.append(f"- **Stages** of `{lineage['recipe_file']}`: {stages}")
    return "\n".join(lines)


def keras_summary(solver):
    """The network's layer table, as Keras prints it, of a solver that runs on Keras; a note where it is None."""
    if solver is None:
        return (f"No Keras summary: {RUNTIME_NAMES[runtime_lib.ONNX]} reads this model, and its Keras network "
                f"cannot be had here (TensorFlow is not installed, or the model has no Keras file).")
    lines = []
    solver.model.summary(print_fn=lambda line, line_break=True: lines.append(line), line_length=90)
    return "\n".join(lines)


def seeds_text(stage_seeds):
    """The evaluation seed's hint: which seeds the models drew from, so that visitors can choose others."""
    written = [f"{seed:,}" for seed in stage_seeds]
    listed = written[0] if len(written) == 1 else f"{', '.join(written[:-1])} and {written[-1]}"
    return (f"The models trained on seeds {listed}, and validated and tested on those plus "
            f"{seeds.VALIDATION_SEED_OFFSET:,} and {seeds.TEST_SEED_OFFSET:,} (see the Model tab): "
            "other seeds give captchas they have never seen.")
