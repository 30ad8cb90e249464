"""The model card of a pushed model: the repo's README.md, metadata and text.

The metadata follow the Hub's conventions: `library_name: keras` (so the Hub offers its
Keras snippet), a `license`, `base_model` for a model fine-tuned from another repo, and
the test results as `model-index` entries whose metric types are the Hub's own
(`accuracy`, `cer`). The text documents the network's input and output, so that the
Keras snippet alone is enough to read captchas.
"""

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from captcha_model.config import CONFIG_ENTRY, get_architecture
from captcha_model.environment import MODEL_VARIABLE
from captcha_model.reading import evaluation, runtime as runtime_lib

CARD_FILE = "README.md"
CURVE_FILE = "training_curve.png"
# The license of the project, and so of the models it trains and pushes.
LICENSE = "mit"


def model_card(repo_id, config, parameters, metrics=None, has_curve=False, base_model=None, license=None,
               has_referee=False, has_onnx=False):
    """The repo's README.md: metadata (library, license, tags, base model, results as model-index) and a description."""
    test = (metrics or {}).get("test")
    eval_results = None
    if test:
        dataset = {
            "task_type": "image-to-text",
            "task_name": "Captcha solving",
            "dataset_type": ("site-captchas" if config.site else
                             f"captcha-{config.family}-synthetic"),
            "dataset_name": (test["source"] if config.site else
                             f"captcha-break's general family: {test['source']}" if config.family == "general" else
                             f"Python captcha library: {test['source']}"),
            "dataset_split": "test",
            "dataset_args": {"samples": test["count"]},
        }
        eval_results = [
            EvalResult(metric_type="accuracy", metric_name="Full-captcha accuracy",
                       metric_value=round(test["accuracy"], 5), **dataset),
            # Per-character accuracy is 1 - edit distance / characters: the Hub's character error rate turned round.
            EvalResult(metric_type="cer", metric_name="Character error rate",
                       metric_value=round(1 - test["character_accuracy"], 5), **dataset),
        ]
    data = ModelCardData(
        library_name="keras",
        pipeline_tag="image-to-text",
        tags=["keras", "tensorflow", "captcha", "ocr", "captcha-break"],
        license=license or LICENSE,
        base_model=base_model,
        base_model_relation="finetune" if base_model else None,
        model_name=repo_id,
        eval_results=eval_results,
    )
    sections = [
        _summary_section(repo_id, config, parameters, has_referee, has_onnx),
        _results_section(test, has_curve, config),
        _training_section(config, metrics, base_model),
        _usage_section(repo_id),
        _keras_section(repo_id, config),
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _summary_section(repo_id, config, parameters, has_referee, has_onnx):
    architecture = get_architecture(config.architecture)
    lengths = f"{config.min_length}" if config.fixed_length else f"{config.min_length} to {config.max_length}"
    if config.site:
        what = (f"the captchas of one site, learnt from {config.site['training']:,} of its captchas labelled by "
                f"hand ({config.site['source']})")
    elif config.family == "general":
        what = "text captchas of sites it never saw, learnt from captcha-break's general family of captchas"
    else:
        what = "the text captchas drawn by the Python [`captcha`](https://pypi.org/project/captcha/) library"
    return (
        f"# Captcha solver: {repo_id}\n\n"
        f"A Keras model that reads {what}: {lengths} characters of `{config.charset}`.\n\n"
        f"- Architecture `{config.architecture}`: {architecture.description}, {parameters:,} parameters.\n"
        f"- Input: the captcha resized to {config.input_height}x{config.input_width} "
        f"{'grayscale' if config.input_channels == 1 else 'RGB'} pixels (uint8); trained on "
        f"{evaluation.describe_captchas(config)}.\n"
        "- Files: `config.json`, `metadata.json` and `model.weights.h5` (the network, as Keras saves it), "
        f"`{CONFIG_ENTRY}` (charset, lengths and sizes: what `load_solver` needs to read its outputs)"
        + (", `referee.keras` and `referee_config.json` (a second network that decides again between two "
           "look-alike characters)" if has_referee else "")
        + (f", `{runtime_lib.ONNX_MODEL_FILE}`" + (f" and `{runtime_lib.ONNX_REFEREE_FILE}`" if has_referee else "")
           + " (the ONNX export, which reads captchas without TensorFlow)" if has_onnx else "")
        + f", `metrics.json` and `{CURVE_FILE}` (when training wrote them)."
    )


def _results_section(test, has_curve, config):
    if not test:
        return "## Results\n\nNo evaluation results were pushed with this model."
    low, high = test["accuracy_95ci"]
    unseen = "that training never saw" if config.site else "drawn from a stream that training never saw"
    lines = [
        "## Results",
        "",
        f"On {test['source']}, {unseen}:",
        "",
        "| Metric | Value |",
        "| --- | --- |",
        f"| Full-captcha accuracy | {test['accuracy']:.2%} (95% CI {low:.2%} to {high:.2%}) |",
        f"| Per-character accuracy | {test['character_accuracy']:.2%} |",
        f"| Test captchas | {test['count']:,} |",
        f"| Speed | {test['images_per_second']:,.0f} captchas/s |",
    ]
    if has_curve:
        lines += ["", f"![Validation accuracy and training loss against samples seen]({CURVE_FILE})"]
    return "\n".join(lines)


def _training_section(config, metrics, base_model):
    if config.site:
        summary = (f"Trained with captcha-break's `train.py --data` on {config.site['training']:,} labelled captchas "
                   f"of the site, distorted anew at each pass; {config.site['held_out']:,} more "
                   f"({config.site['held_out_source']}) were held out for validation and the test. No training "
                   "image is part of this repository.")
    elif config.family == "general":
        summary = ("Trained with captcha-break's `train.py --family general` on seeded streams of its general family "
                   "of captchas (many fonts, both cases, 3-8 characters, many sizes, warps, clutter and colours), and "
                   "on no site's captchas; validation and test captchas come from streams that training never uses.")
    else:
        summary = ("Trained with captcha-break's `train.py` on seeded streams of captchas drawn by the library; "
                   "validation and test captchas come from streams that training never uses.")
    lines = ["## Training", "", summary]
    if base_model:
        lines += ["", f"Fine-tuned from [{base_model}](https://huggingface.co/{base_model})."]
    if metrics:
        history = metrics.get("history") or [{}]
        validation = history[-1].get("val_accuracy")
        lines.append("")
        # A referee stage run on a model without metrics leaves metrics without the network's training figures.
        if all(key in metrics for key in ("epochs", "samples_seen", "wall_seconds", "device")):
            lines.append(f"- {metrics['epochs']} epochs, {metrics['samples_seen']:,} training captchas, "
                         f"{metrics['wall_seconds'] / 60:.1f} minutes on the {metrics['device']}.")
        if validation is not None:
            lines.append(f"- Validation accuracy after the last epoch: {validation:.2%}.")
    return "\n".join(lines)


def _usage_section(repo_id):
    return f"""## Use

With the `captcha_model` package of captcha-break installed, in Python:

```python
from captcha_model import load_solver

solver = load_solver("{repo_id}")  # or "{repo_id}@REVISION" to pin a branch, tag or commit
# With the ONNX export pushed: load_solver("{repo_id}", runtime="onnx") needs no TensorFlow.
reading = solver.solve(["captcha.png"])[0]
print(reading.text, reading.confidence)
```

From the command line:

```bash
python -m captcha_model solve captcha.png --model {repo_id}
python -m captcha_model evaluate --count 1000 --model {repo_id}
```

In the Gradio app, locally or as a Space (set it as a Space variable there):

```bash
{MODEL_VARIABLE}={repo_id} python app.py
```

Downloads go through the Hugging Face cache: a second start downloads nothing, and
`HF_HUB_OFFLINE=1` loads the cached copy."""


def _keras_section(repo_id, config):
    """How to read captchas with Keras alone: the network's input and output."""
    channels = "1 (grayscale)" if config.input_channels == 1 else "3 (RGB)"
    if get_architecture(config.architecture).output_kind == "ctc":
        output = (
            f"one tensor of shape (batch, columns, {config.num_classes + 1}): per column of the image, logits "
            f"over the {config.num_classes} characters of `{config.charset}` in that order, then the CTC blank. "
            "Greedy decoding takes the highest logit of each column, merges repeats and drops blanks"
        )
        decode = (
            "best = outputs[0].argmax(axis=-1)\n"
            f"charset = \"{config.charset}\"\n"
            "text = \"\".join(charset[index] for position, index in enumerate(best)\n"
            f"               if index < {config.num_classes} and (position == 0 or index != best[position - 1]))"
        )
    else:
        output = (
            f"{config.max_length} tensors of shape (batch, {config.num_classes}), one per character position: "
            f"probabilities over the characters of `{config.charset}` in that order"
        )
        decode = (f"charset = \"{config.charset}\"\n"
                  "text = \"\".join(charset[head[0].argmax()] for head in outputs)")
    return f"""## With Keras alone

The Hub's Keras snippet loads the network (without the config and the referee, which
`load_solver` adds):

```python
import keras
import numpy as np
from PIL import Image

model = keras.saving.load_model("hf://{repo_id}")
image = Image.open("captcha.png").convert("{'L' if config.input_channels == 1 else 'RGB'}")
size = ({config.input_width}, {config.input_height})
pixels = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype="uint8")
shape = (1, {config.input_height}, {config.input_width}, {config.input_channels})
outputs = model.predict(pixels.reshape(shape), verbose=0)
{decode}
```

- Input: uint8 pixels of shape (batch, {config.input_height}, {config.input_width}, {config.input_channels}), channels
  {channels}: the captcha resized with bilinear filtering; the network scales them to [0, 1] itself.
- Output: {output}."""
