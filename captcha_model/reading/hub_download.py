"""Loading models from the Hugging Face Hub: `fetch("OWNER/NAME[@REVISION]")`.

`load_solver("OWNER/NAME")` downloads a model through the Hub cache, so a second start
downloads nothing and `HF_HUB_OFFLINE=1` works from the cache. A repo holds the entries of
a `.keras` file unpacked (see `captcha_model.publishing.hub`, which pushes them), or, from
older pushes, one `model.keras`; ONNX Runtime reads the repo's export with the same
configs and no TensorFlow.
"""

import logging
import os
import re

import httpx2
from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from captcha_model import config as config_lib
from captcha_model.reading import runtime as runtime_lib

logger = logging.getLogger(__name__)


# A model in a repo: the entries of its .keras file, unpacked. Keras reads the first three
# as a model folder; the captcha config has a name of its own, since Keras's is config.json.
KERAS_FILES = ("config.json", "metadata.json", config_lib.WEIGHTS_ENTRY)


CONFIG_FILE = config_lib.CONFIG_ENTRY


REFEREE_FILES = (config_lib.REFEREE_MODEL_ENTRY, config_lib.REFEREE_CONFIG_ENTRY)


# The networks of the ONNX export; it reads the same captcha and referee configs.
ONNX_FILES = (runtime_lib.ONNX_MODEL_FILE, runtime_lib.ONNX_REFEREE_FILE)


METRICS_FILE = config_lib.METRICS_FILE


# How repos were pushed before: one .keras file, and the captcha config as config.json.
MODEL_FILE = "model.keras"


# What loading needs, for each runtime: the model (for Keras, in either layout) and its metrics.
LOADED_FILES = {
    runtime_lib.KERAS: [*KERAS_FILES, CONFIG_FILE, *REFEREE_FILES, METRICS_FILE, MODEL_FILE],
    runtime_lib.ONNX: [*ONNX_FILES, CONFIG_FILE, config_lib.REFEREE_CONFIG_ENTRY, METRICS_FILE],
}


# Hub answers that say "not now" rather than "no": the cache may serve.
RETRY_LATER_STATUS = 429


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


def download(repo_id, revision=None, runtime=None):
    """The local path of the repo's model at `revision` (default: main) for `runtime`, through the Hub cache.

    The path is the snapshot's folder, or its model.keras for a Keras repo pushed the old way;
    the metrics lie beside it either way, where the solver looks. ONNX Runtime reads the folder's
    export, which a push with --onnx adds. With no `runtime`, the export where the repo holds one
    and ONNX Runtime is installed, else the Keras model.
    """
    revision_text = revision or constants.DEFAULT_REVISION
    hub_trouble = None
    try:
        hub_trouble = _hub_trouble(repo_id, revision)
        folder, runtime = _snapshot(repo_id, revision, runtime, local_files_only=hub_trouble is not None)
    except RepositoryNotFoundError:
        raise ValueError(
            f"The Hub has no model repo {repo_id!r}, or it is private and no token with access was given "
            "(set HF_TOKEN or run `hf auth login`)."
        ) from None
    except RevisionNotFoundError:
        raise ValueError(f"The Hub repo {repo_id!r} has no revision {revision_text!r}.") from None
    except LocalEntryNotFoundError:
        if constants.is_offline_mode():
            why = "HF_HUB_OFFLINE is set"
        else:
            why = f"the Hub at {constants.ENDPOINT} {hub_trouble or 'cannot be reached'}"
        raise ValueError(f"{repo_id}@{revision_text} is not in the local cache, and {why}.") from None
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as error:
        raise ValueError(f"Could not download the model from {repo_id}@{revision_text}: {reason(error)}.") from None
    if runtime == runtime_lib.ONNX:
        if os.path.isfile(os.path.join(folder, runtime_lib.ONNX_MODEL_FILE)):
            return folder
        raise ValueError(f"The Hub repo {repo_id!r} holds no ONNX export at {revision_text!r}; push one with "
                         f"python -m captcha_model push MODEL {repo_id} --onnx EXPORT_FOLDER")
    if os.path.isfile(os.path.join(folder, CONFIG_FILE)):
        return folder
    if os.path.isfile(os.path.join(folder, MODEL_FILE)):
        return os.path.join(folder, MODEL_FILE)
    raise ValueError(
        f"The Hub repo {repo_id!r} holds no captcha model at {revision_text!r}; push one with "
        f"python -m captcha_model push MODEL {repo_id}"
    )


def _snapshot(repo_id, revision, runtime, local_files_only):
    """(local folder, runtime): the repo's files that `runtime` loads; with no `runtime`, those of its
    export where it holds one and ONNX Runtime is installed, else those of its Keras model."""
    if runtime is None and runtime_lib.onnx_installed():
        folder = snapshot_download(repo_id, revision=revision, allow_patterns=LOADED_FILES[runtime_lib.ONNX],
                                   local_files_only=local_files_only)
        if os.path.isfile(os.path.join(folder, runtime_lib.ONNX_MODEL_FILE)):
            return folder, runtime_lib.ONNX
    runtime = runtime or runtime_lib.KERAS
    return snapshot_download(repo_id, revision=revision, allow_patterns=LOADED_FILES[runtime],
                             local_files_only=local_files_only), runtime


def _hub_trouble(repo_id, revision):
    """Ask the Hub about the repo: None when it answers, else why the cache must serve.

    The question has a time limit and no retries, so an unreachable Hub costs seconds rather
    than the half minute of retries a download spends before it looks in the cache. A
    failing Hub (5xx) or one asking to slow down (429) sends the app to its cache too; a
    repo or revision that does not exist raises.
    """
    try:
        HfApi().model_info(repo_id, revision=revision, timeout=HUB_TIMEOUT_SECONDS)
    except HfHubHTTPError as error:
        status = error.response.status_code
        if status < 500 and status != RETRY_LATER_STATUS:
            raise
        logger.warning("The Hub is failing (%s); looking for %s in the local cache.", reason(error), repo_id)
        return f"answered {reason(error)}"
    except OfflineModeIsEnabled:
        return "is switched off"
    except httpx2.TransportError as error:
        logger.warning("The Hub cannot be reached (%s); looking for %s in the local cache.", reason(error), repo_id)
        return "cannot be reached"
    return None


def reason(error):
    """A one-line account of a Hub or network error, from the response only (never the request and its token)."""
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = f"HTTP {error.response.status_code}"
        return f"{status}: {error.server_message}" if error.server_message else status
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def fetch(source, runtime=None):
    """(local path, description, commit) of the model that "OWNER/NAME[@REVISION]" names on the Hub, for
    `runtime` (see `download`)."""
    repo_id, revision = parse_model_source(source)
    path = download(repo_id, revision, runtime)
    # The Hub cache keeps every file under snapshots/<commit>/, so the path tells which commit was served.
    snapshot = path if os.path.isdir(path) else os.path.dirname(path)
    commit = os.path.basename(snapshot)
    return path, f"Hub repo {repo_id} at {revision or constants.DEFAULT_REVISION} (commit {commit[:7]})", commit
