"""Publishing models on the Hugging Face Hub and loading them back.

`push()` uploads a trained `.keras` file with its config, metrics, training curve and a
model card, and its ONNX export where one is given; `load_solver("OWNER/NAME")` (or
`"OWNER/NAME@REVISION"`) downloads the files its runtime reads (see `captcha_model.runtime`:
a pull for ONNX Runtime needs no TensorFlow) through the Hub cache, so a second start downloads nothing and `HF_HUB_OFFLINE=1` works from the
cache. `load_solver_with_fallback()` is for the app: when the Hub model cannot be had, it
serves the bundled model and says why.

The token comes from `HF_TOKEN` or the login saved by `hf auth login`; it is handed to
`huggingface_hub` and never printed, logged or put into an error message.
"""

import json
import logging
import os
import re

import httpx2
from huggingface_hub import (
    CommitOperationAdd,
    EvalResult,
    HfApi,
    ModelCard,
    ModelCardData,
    constants,
    get_token,
    hf_hub_download,
)
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from captcha_model import config as config_lib, evaluation, runtime as runtime_lib, solver as solver_lib

logger = logging.getLogger(__name__)

# The environment variable that names the model the app serves: OWNER/NAME, OWNER/NAME@REVISION
# or a path. A Hugging Face Space sets it as a variable in its settings.
MODEL_VARIABLE = "CAPTCHA_MODEL"

MODEL_FILE = "model.keras"
CONFIG_FILE = runtime_lib.ONNX_CONFIG_FILE
# The files of an ONNX export that a push adds and a pull for ONNX Runtime reads besides config.json.
ONNX_FILES = (runtime_lib.ONNX_MODEL_FILE, runtime_lib.ONNX_REFEREE_FILE, runtime_lib.ONNX_REFEREE_CONFIG_FILE)
METRICS_FILE = solver_lib.METRICS_FILE
CURVE_FILE = "training_curve.png"
CARD_FILE = "README.md"

# How long to wait for the Hub to answer before using the cache. Without a limit an unreachable
# Hub would hold the app's start-up forever.
HUB_TIMEOUT_SECONDS = 10

MODEL_SOURCE = re.compile(
    r"(?P<repo_id>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<revision>[A-Za-z0-9_./-]+))?"
)


def parse_model_source(text):
    """'OWNER/NAME' or 'OWNER/NAME@REVISION' -> (repo id, revision or None)."""
    match = MODEL_SOURCE.fullmatch(text)
    # A missing file such as "runs/model.keras" also has the shape OWNER/NAME; it was meant as a path.
    if match is None or text.endswith((".keras", runtime_lib.ONNX_SUFFIX)):
        raise ValueError(
            f"No model file at {text!r}, and it does not name a Hub repo; pass a .keras file saved by "
            "train.py, an ONNX export, OWNER/NAME or OWNER/NAME@REVISION (a branch, tag or commit)."
        )
    try:
        validate_repo_id(match["repo_id"])
    except HFValidationError as error:
        raise ValueError(f"{match['repo_id']!r} is not a valid Hub repo id: {error}") from None
    return match["repo_id"], match["revision"]


def check_repo_id(repo_id):
    """Refuse anything but OWNER/NAME as a repo to push to: a push always goes to the main branch."""
    parsed_repo_id, revision = parse_model_source(repo_id)
    if revision is not None:
        raise ValueError(f"Push to OWNER/NAME, without a revision; got {repo_id!r}.")
    return parsed_repo_id


def check_token(token=None):
    """The token to push with: `token`, else HF_TOKEN, else the saved login; ValueError when there is none."""
    token = token or get_token()
    if not token:
        raise ValueError(
            "No Hugging Face token found, and pushing needs one with write access: set the HF_TOKEN "
            "environment variable or run `hf auth login`."
        )
    return token


def push(model_path, repo_id, private=False, token=None, metrics_path=None, curve_path=None, onnx_folder=None):
    """Upload a model with its config, metrics, training curve and a model card; returns the `CommitInfo`.

    `metrics_path` and `curve_path` default to the metrics.json and training_curve.png that
    train.py writes beside the model, when they are there; `onnx_folder`, the model's ONNX
    export, adds its networks. `private` applies when the repo is created; an existing repo
    keeps its visibility. The returned commit is a `str` (its URL) whose `oid` is the revision to pin.
    """
    repo_id = check_repo_id(repo_id)
    token = check_token(token)
    # Loading the model refuses a broken file or one that does not fit its config before it reaches the Hub.
    network, config, _ = runtime_lib.backend(runtime_lib.KERAS).load(model_path)
    onnx_files = _export_files(onnx_folder, config) if onnx_folder else {}
    directory = os.path.dirname(os.path.abspath(model_path))
    metrics_path = _existing_file(metrics_path, directory, METRICS_FILE)
    curve_path = _existing_file(curve_path, directory, CURVE_FILE)
    metrics = None
    if metrics_path:
        with open(metrics_path) as handle:
            metrics = json.load(handle)
    card = model_card(repo_id, config, network.parameters, metrics, has_curve=curve_path is not None,
                      has_onnx=bool(onnx_files))
    files = {
        MODEL_FILE: os.fspath(model_path),
        CONFIG_FILE: config.to_json().encode(),
        CARD_FILE: str(card).encode(),
        **onnx_files,
    }
    if metrics_path:
        files[METRICS_FILE] = os.fspath(metrics_path)
    if curve_path:
        files[CURVE_FILE] = os.fspath(curve_path)
    api = HfApi(token=token)
    try:
        # Without --private the Hub's default applies, which an organisation may have set to private.
        api.create_repo(repo_id, visibility="private" if private else None, exist_ok=True)
        return api.create_commit(
            repo_id,
            [CommitOperationAdd(path_in_repo=name, path_or_fileobj=content) for name, content in files.items()],
            commit_message=f"Upload {config.architecture} captcha model",
        )
    except HfHubHTTPError as error:
        problem = (
            f"The Hub refused the push to {repo_id} ({_reason(error)}); check that the token "
            "(HF_TOKEN or `hf auth login`) may write to that namespace"
        )
    except (httpx2.TransportError, OfflineModeIsEnabled) as error:
        problem = f"Could not reach the Hub at {constants.ENDPOINT} to push to {repo_id} ({_reason(error)})"
    raise ValueError(
        f"{problem}. Nothing was lost; push again with: python -m captcha_model push {model_path} {repo_id}"
    )


def _export_files(folder, config):
    """{name: path} of the ONNX export in `folder`, refused unless it loads and reads with `config`."""
    _, exported, _ = runtime_lib.backend(runtime_lib.ONNX).load(folder)
    if exported != config:
        raise ValueError(f"The ONNX export in {folder} was made from another model (its config differs); "
                         f"export this one with {runtime_lib.EXPORT_COMMAND}")
    paths = {name: os.path.join(folder, name) for name in ONNX_FILES}
    return {name: path for name, path in paths.items() if os.path.isfile(path)}


def _existing_file(path, directory, default_name):
    """`path` if given (it must exist), else `directory/default_name` if that exists, else None."""
    if path is not None:
        if not os.path.isfile(path):
            raise ValueError(f"No file at {os.fspath(path)!r}.")
        return path
    default = os.path.join(directory, default_name)
    return default if os.path.isfile(default) else None


def download(repo_id, revision=None, runtime=runtime_lib.KERAS):
    """The local path of the repo's network at `revision` (default: main), through the Hub cache.

    For Keras that is model.keras; for ONNX Runtime model.onnx, with config.json and the
    referee's files beside it where the repo has them.
    """
    revision_text = revision or constants.DEFAULT_REVISION
    onnx = runtime == runtime_lib.ONNX
    model_file = runtime_lib.ONNX_MODEL_FILE if onnx else MODEL_FILE
    try:
        offline = not _hub_answers(repo_id, revision)
        for name in (model_file, CONFIG_FILE) if onnx else (model_file,):
            path = hf_hub_download(repo_id, name, revision=revision, local_files_only=offline)
        for name in (METRICS_FILE, *ONNX_FILES[1:]) if onnx else (METRICS_FILE,):
            _download_optional(repo_id, name, revision, offline)
        return os.path.join(os.path.dirname(path), model_file)
    except RepositoryNotFoundError:
        raise ValueError(
            f"The Hub has no model repo {repo_id!r}, or it is private and no token with access was given "
            "(set HF_TOKEN or run `hf auth login`)."
        ) from None
    except RevisionNotFoundError:
        raise ValueError(f"The Hub repo {repo_id!r} has no revision {revision_text!r}.") from None
    except RemoteEntryNotFoundError:
        raise ValueError(
            f"The Hub repo {repo_id!r} has no {model_file} at {revision_text!r}; push one with "
            f"python -m captcha_model push MODEL {repo_id}" + (" --onnx" if onnx else "")
        ) from None
    except LocalEntryNotFoundError:
        if constants.is_offline_mode():
            reason = "HF_HUB_OFFLINE is set"
        else:
            reason = f"the Hub at {constants.ENDPOINT} cannot be reached"
        raise ValueError(f"{repo_id}@{revision_text} is not in the local cache, and {reason}.") from None
    except (httpx2.HTTPError, OSError) as error:
        raise ValueError(f"Could not download {model_file} from {repo_id}@{revision_text}: {_reason(error)}.") from None


def _download_optional(repo_id, name, revision, offline):
    """Fetch the repo's file `name` into the snapshot beside its network, where the solver looks.

    The metrics only describe the model, and a model without a referee has no referee files,
    so a repo without them still serves.
    """
    try:
        hf_hub_download(repo_id, name, revision=revision, local_files_only=offline)
    except (HfHubHTTPError, LocalEntryNotFoundError, httpx2.HTTPError, OSError) as error:
        logger.info("No %s for %s: %s", name, repo_id, _reason(error))


def _hub_answers(repo_id, revision):
    """Ask the Hub about the repo: True when it answers, False when it cannot be reached.

    The question has a time limit and no retries, so an unreachable Hub costs seconds rather
    than the half minute of retries a download spends before it looks in the cache. A repo
    or revision that does not exist raises.
    """
    try:
        HfApi().model_info(repo_id, revision=revision, timeout=HUB_TIMEOUT_SECONDS)
    except HfHubHTTPError as error:
        if error.response.status_code < 500:
            raise
        logger.warning("The Hub is failing (%s); looking for %s in the local cache.", _reason(error), repo_id)
        return False
    except OfflineModeIsEnabled:
        return False
    except httpx2.TransportError as error:
        logger.warning("The Hub cannot be reached (%s); looking for %s in the local cache.", _reason(error), repo_id)
        return False
    return True


def _reason(error):
    """A one-line account of a Hub or network error, from the response only (never the request and its token)."""
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = f"HTTP {error.response.status_code}"
        return f"{status}: {error.server_message}" if error.server_message else status
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def fetch(source, runtime=runtime_lib.KERAS):
    """(local path, description) of the model that "OWNER/NAME[@REVISION]" names on the Hub, for `runtime`."""
    repo_id, revision = parse_model_source(source)
    path = download(repo_id, revision, runtime)
    # The Hub cache keeps every file under snapshots/<commit>/, so the path tells which commit was served.
    commit = os.path.basename(os.path.dirname(path))
    return path, f"Hub repo {repo_id} at {revision or constants.DEFAULT_REVISION} (commit {commit[:7]})"


def load_solver_with_fallback(source, runtime=None):
    """(solver, notice): the model `source` names, or the bundled model and a notice saying why.

    For the app and the CLI's --fallback: serving the bundled model beats serving nothing, but
    whoever reads its answers must learn that it is not the model asked for. The notice is
    also logged as a warning. No `source` (None or "") means the bundled model, without notice.
    Either runs on `runtime` (see `solver.load_solver`).
    """
    runtime = runtime_lib.choose_runtime(runtime, source or None)
    if not source:
        return solver_lib.load_solver(runtime=runtime), None
    try:
        return solver_lib.load_solver(source, runtime), None
    except ValueError as error:
        notice = f"Could not load the model {source!r}, so the bundled model is used instead: {error}"
        logger.warning(notice)
        return solver_lib.load_solver(runtime=runtime), notice


def model_card(repo_id, config, parameters, metrics=None, has_curve=False, has_onnx=False):
    """The repo's README.md: metadata (library, tags, evaluation results as model-index) and a description."""
    test = (metrics or {}).get("test")
    eval_results = None
    if test:
        dataset = {
            "task_type": "image-to-text",
            "task_name": "Captcha solving",
            "dataset_type": "site-captchas" if config.site else "captcha-library-synthetic",
            "dataset_name": test["source"] if config.site else f"Python captcha library: {test['source']}",
            "dataset_split": "test",
            "dataset_args": {"samples": test["count"]},
        }
        eval_results = [
            EvalResult(metric_type="accuracy", metric_name="Full-captcha accuracy",
                       metric_value=round(test["accuracy"], 5), **dataset),
            EvalResult(metric_type="character_accuracy", metric_name="Per-character accuracy",
                       metric_value=round(test["character_accuracy"], 5), **dataset),
        ]
    data = ModelCardData(
        library_name="keras",
        pipeline_tag="image-to-text",
        tags=["keras", "tensorflow", "captcha", "ocr", "captcha-break"],
        model_name=repo_id,
        eval_results=eval_results,
    )
    sections = [
        _summary_section(repo_id, config, parameters, has_onnx),
        _results_section(test, has_curve, config),
        _training_section(config, metrics),
        _usage_section(repo_id),
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _summary_section(repo_id, config, parameters, has_onnx):
    architecture = config_lib.get_architecture(config.architecture)
    lengths = f"{config.min_length}" if config.fixed_length else f"{config.min_length} to {config.max_length}"
    if config.site:
        what = (f"the captchas of one site, learnt from {config.site['training']:,} of its captchas labelled by "
                f"hand ({config.site['source']})")
    else:
        what = "the text captchas drawn by the Python [`captcha`](https://pypi.org/project/captcha/) library"
    return (
        f"# Captcha solver: {repo_id}\n\n"
        f"A Keras model that reads {what}: {lengths} characters of `{config.charset}`.\n\n"
        f"- Architecture `{config.architecture}`: {architecture.description}, {parameters:,} parameters.\n"
        f"- Input: the captcha resized to {config.input_height}x{config.input_width} "
        f"{'grayscale' if config.input_channels == 1 else 'RGB'} pixels (uint8); trained on "
        f"{evaluation.describe_captchas(config)}.\n"
        f"- Files: `{MODEL_FILE}` (weights, with its config inside), `{CONFIG_FILE}` (the same config), "
        f"`{METRICS_FILE}` and `{CURVE_FILE}` (when training wrote them)."
        + (f" Its ONNX export, which reads captchas without TensorFlow: `{'`, `'.join(ONNX_FILES)}` "
           "(the referee's where the model has one)." if has_onnx else "")
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


def _training_section(config, metrics):
    if config.site:
        summary = (f"Trained with captcha-break's `train.py --data` on {config.site['training']:,} labelled captchas "
                   f"of the site, distorted anew at each pass; {config.site['held_out']:,} more "
                   f"({config.site['held_out_source']}) were held out for validation and the test. No training "
                   "image is part of this repository.")
    else:
        summary = ("Trained with captcha-break's `train.py` on seeded streams of captchas drawn by the library; "
                   "validation and test captchas come from streams that training never uses.")
    lines = ["## Training", "", summary]
    if metrics:
        history = metrics.get("history") or [{}]
        validation = history[-1].get("val_accuracy")
        lines += [
            "",
            f"- {metrics['epochs']} epochs, {metrics['samples_seen']:,} training captchas, "
            f"{metrics['wall_seconds'] / 60:.1f} minutes on the {metrics['device']}.",
        ]
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
`HF_HUB_OFFLINE=1` loads the cached copy. With plain Keras,
`keras.saving.load_model(hf_hub_download("{repo_id}", "{MODEL_FILE}"))` gives the network;
`{CONFIG_FILE}` holds the charset and input size needed to feed it and read its outputs."""
