"""Deploying the app as a Hugging Face Space: `python -m captcha_model deploy OWNER/SPACE`.

The Hub refuses binaries pushed with plain git unless they are stored through LFS or Xet,
and this project keeps its models and pictures as plain files so that a clone works
without git-lfs. So the Space is not pushed with git: `deploy` uploads exactly the files
the app needs through `huggingface_hub`, which stores each binary as the Hub asks, in one
commit that also deletes whatever an earlier deploy left and this one no longer has.
"""

import glob
import os

from captcha_model.environment import MODEL_VARIABLE, STRICT_VARIABLE
from captcha_model.publishing import hub
from captcha_model.reading import hub_download

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What the Space runs: the app and its package, the library with its bundled models and their ONNX
# exports, the pinned requirements, and README.md, whose front matter is the Space's configuration.
SPACE_PATTERNS = (
    "app.py",
    "requirements.txt",
    "README.md",
    "captcha_app/*.py",
    "captcha_model/*.py",
    "captcha_model/*/*.py",
    "captcha_model/bundled/*/*.keras",
    "captcha_model/bundled/*/*.onnx",
    "captcha_model/bundled/*/*.json",
    "captcha_model/bundled/*/training_curve.png",
    "captcha_model/bundled/*/int8/*",
)
SPACE_SDK = "gradio"
# Gradio's own switch: the Space also serves its endpoints as MCP tools for AI agents.
MCP_VARIABLE = "GRADIO_MCP_SERVER"


def space_files(project=PROJECT):
    """{path in the Space: local path} of every file the Space needs, from the project folder."""
    files = {}
    for pattern in SPACE_PATTERNS:
        matches = sorted(glob.glob(os.path.join(project, pattern)))
        if not matches:
            raise ValueError(f"{project} has no {pattern}; deploy from a checkout of the whole project.")
        files.update({os.path.relpath(path, project).replace(os.sep, "/"): path for path in matches})
    with open(files["README.md"], encoding="utf-8") as handle:
        if f"sdk: {SPACE_SDK}" not in handle.read().split("\n---", 1)[0]:
            raise ValueError("README.md must start with the Space's front matter (--- ... sdk: gradio ... ---).")
    return files


def with_model(readme, repo_id):
    """README.md with `repo_id` listed under `models:` in its front matter, so the Hub links the Space to it."""
    front_matter, separator, rest = readme.partition("\n---")
    if "\nmodels: []" not in front_matter:
        raise ValueError("README.md's front matter needs a `models: []` line for the Space's model.")
    return front_matter.replace("\nmodels: []", f"\nmodels:\n- {repo_id}") + separator + rest


def deploy(space_id, model=None, strict=False, private=False, token=None, project=PROJECT):
    """Upload the app to the Space `space_id` (created if it does not exist); returns the `CommitInfo`.

    `model` (OWNER/NAME@COMMIT) and `strict` become the Space's variables CAPTCHA_MODEL and
    CAPTCHA_MODEL_STRICT, which the app reads at start-up; the model's repo is also listed in
    the front matter of the Space's README. GRADIO_MCP_SERVER turns on the Space's MCP tools.
    """
    space_id = hub.check_repo_id(space_id)
    token = hub.check_token(token)
    files = space_files(project)
    if model:
        with open(files["README.md"], encoding="utf-8") as handle:
            files["README.md"] = with_model(handle.read(), hub_download.parse_model_source(model)[0]).encode()
    retry = f"python -m captcha_model deploy {space_id}"
    commit = hub.commit_files(space_id, files, "Deploy the captcha-break app", token, retry, private=private,
                              repo_type="space", space_sdk=SPACE_SDK)
    variables = {MCP_VARIABLE: "true", MODEL_VARIABLE: model, STRICT_VARIABLE: "1" if strict else None}
    for key, value in variables.items():
        if value:
            hub.set_space_variable(space_id, key, value, token, retry)
    return commit
