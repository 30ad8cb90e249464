"""Publishing models on the Hugging Face Hub and loading them back.

`push()` uploads a trained `.keras` file unpacked, as Keras lays out a model on the Hub
(`config.json`, `metadata.json`, `model.weights.h5`), so that the Hub's own snippet
`keras.saving.load_model("hf://OWNER/NAME")` gives the network; beside them go the
captcha config (`captcha_config.json`), the referee where there is one, the metrics,
the training curve and a model card. `load_solver("OWNER/NAME")` (or
`"OWNER/NAME@REVISION"`) downloads all of it through the Hub cache, so a second start
downloads nothing and `HF_HUB_OFFLINE=1` works from the cache; repos pushed before, as one
`model.keras`, still load. A push may add the model's ONNX export (`model.onnx`, and
`referee.onnx` where it has a referee), which a pull for ONNX Runtime reads with the same
configs and no TensorFlow.

The token comes from `HF_TOKEN` or the login saved by `hf auth login`; it is handed to
`huggingface_hub` and never printed, logged or put into an error message.
"""

import json
import logging
import os
import zipfile

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from captcha_model.publishing.model_card import CARD_FILE, CURVE_FILE, model_card
from captcha_model.reading import runtime as runtime_lib
from captcha_model.reading.hub_download import (
    CONFIG_FILE,
    KERAS_FILES,
    METRICS_FILE,
    MODEL_FILE,
    ONNX_FILES,
    REFEREE_FILES,
    parse_model_source,
    reason,
)
from captcha_model.reading.solver import load_network

logger = logging.getLogger(__name__)

# Every file a push writes or replaces; those of an earlier push that this one lacks are deleted,
# so that a repo never pairs a new network with an old referee, old metrics or an old export.
PUSHED_FILES = (*KERAS_FILES, CONFIG_FILE, *REFEREE_FILES, *ONNX_FILES, METRICS_FILE, CURVE_FILE, MODEL_FILE)


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


def push(model_path, repo_id, private=False, token=None, metrics_path=None, curve_path=None, base_model=None,
         license=None, onnx_folder=None):
    """Upload a model, its metrics, training curve and a model card; returns the `CommitInfo`.

    `metrics_path` and `curve_path` default to the metrics.json and training_curve.png that
    train.py writes beside the model, when they are there; `onnx_folder`, the model's ONNX
    export, adds its networks. `base_model` is the Hub repo the
    model was fine-tuned from (default: train.py's --init-from, where that names a repo);
    `license` the card's (default: the project's). `private` applies when the repo is created;
    an existing repo keeps its visibility. The returned commit is a `str` (its URL) whose
    `oid` is the revision to pin.
    """
    repo_id = check_repo_id(repo_id)
    token = check_token(token)
    # Loading the model refuses a broken file or one that does not fit its config before it reaches the Hub.
    network, config, referee = load_network(model_path, runtime_lib.KERAS)
    onnx_files = _export_files(onnx_folder, config) if onnx_folder else {}
    directory = os.path.dirname(os.path.abspath(model_path))
    metrics_path = _existing_file(metrics_path, directory, METRICS_FILE)
    curve_path = _existing_file(curve_path, directory, CURVE_FILE)
    metrics = None
    if metrics_path:
        with open(metrics_path) as handle:
            metrics = json.load(handle)
    if base_model is None:
        base_model = _hub_base_model(metrics)
    elif base_model:
        base_model = check_repo_id(base_model)
    with zipfile.ZipFile(model_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    card = model_card(repo_id, config, network.parameters, metrics, has_curve=curve_path is not None,
                      base_model=base_model or None, license=license, has_referee=referee is not None,
                      has_onnx=bool(onnx_files))
    files.update(onnx_files)
    files[CARD_FILE] = str(card).encode()
    if metrics_path:
        files[METRICS_FILE] = os.fspath(metrics_path)
    if curve_path:
        files[CURVE_FILE] = os.fspath(curve_path)
    retry = f"python -m captcha_model push {model_path} {repo_id}" + (" --onnx" if onnx_folder else "")
    return commit_files(repo_id, files, f"Upload {config.architecture} captcha model", token, retry,
                        private=private, replaces=PUSHED_FILES)


def commit_files(repo_id, files, message, token, retry, private=False, replaces=None, repo_type="model", **create):
    """Create the repo if needed, then one commit of `files` (path in the repo -> local path or bytes).

    Files of the repo named in `replaces` (all but .gitattributes where None) that `files` lacks
    are deleted in the same commit. `huggingface_hub` stores each file as the Hub asks: binaries
    through Xet or LFS. `retry` is the command to run again after a failure; `create` goes to
    `create_repo` (e.g. a Space's `space_sdk`). Returns the `CommitInfo`.
    """
    api = HfApi(token=token)
    try:
        # Without --private the Hub's default applies, which an organisation may have set to private.
        api.create_repo(repo_id, repo_type=repo_type, visibility="private" if private else None, exist_ok=True,
                        **create)
        existing = set(api.list_repo_files(repo_id, repo_type=repo_type)) - set(files) - {".gitattributes"}
        stale = existing if replaces is None else existing & set(replaces)
        return api.create_commit(
            repo_id,
            [CommitOperationAdd(path_in_repo=name, path_or_fileobj=content) for name, content in files.items()]
            + [CommitOperationDelete(path_in_repo=name) for name in sorted(stale)],
            commit_message=message, repo_type=repo_type,
        )
    except HfHubHTTPError as error:
        problem = (
            f"The Hub refused the upload to {repo_id} ({reason(error)}); check that the token "
            "(HF_TOKEN or `hf auth login`) may write to that namespace"
        )
    except (httpx2.TransportError, OfflineModeIsEnabled) as error:
        problem = f"Could not reach the Hub at {constants.ENDPOINT} to upload to {repo_id} ({reason(error)})"
    raise ValueError(f"{problem}. Nothing was lost; try again with: {retry}")


def set_space_variable(space_id, key, value, token, retry):
    """Set a variable of a Space, as in its settings; ValueError saying why where the Hub refuses."""
    try:
        HfApi(token=token).add_space_variable(space_id, key, value)
    except (HfHubHTTPError, httpx2.TransportError) as error:
        raise ValueError(f"Could not set the variable {key} of the Space {space_id} ({reason(error)}); "
                         f"set it in the Space's settings, or try again with: {retry}") from None


def _hub_base_model(metrics):
    """The Hub repo train.py's --init-from named, or None where it named a file or nothing."""
    init_from = ((metrics or {}).get("args") or {}).get("init_from")
    try:
        return parse_model_source(init_from)[0] if init_from else None
    except ValueError:
        return None


def _export_files(folder, config):
    """{name: path} of the ONNX networks in `folder`, refused unless the export loads and reads with `config`."""
    _, exported, _ = load_network(folder, runtime_lib.ONNX)
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


