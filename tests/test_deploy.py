"""`python -m captcha_model deploy OWNER/SPACE` against tests/hub_server.py.

The Space gets exactly the files the app needs, binaries through LFS as the Hub requires,
its variables, and a README whose front matter names the model; what it gets runs.
"""

import hashlib
import os
import subprocess
import sys

import yaml
from huggingface_hub import HfApi, snapshot_download

from captcha_model import environment
from captcha_model.__main__ import main
from captcha_model.publishing import deploy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = "tester/captcha-break"
MODEL = "tester/captcha-solver@" + "0" * 40


def front_matter(readme):
    return yaml.safe_load(readme.split("---")[1])


def test_the_readme_front_matter_is_a_complete_space_configuration():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        settings = front_matter(handle.read())
    assert settings["sdk"] == "gradio" and settings["app_file"] == "app.py"
    assert settings["license"] == "mit" and settings["models"] == []
    # The Hub takes a short description of at most 60 characters.
    assert 0 < len(settings["short_description"]) <= 60


def test_deploy_uploads_exactly_what_the_space_runs_and_binaries_through_lfs(hub_server, tmp_path, capsys):
    api = HfApi()
    api.create_repo(SPACE, repo_type="space", space_sdk="gradio")
    api.upload_file(path_or_fileobj=b"left by an earlier deploy\n", path_in_repo="old.txt", repo_id=SPACE,
                    repo_type="space")
    assert main(["deploy", SPACE, "--model", MODEL, "--strict"]) == 0
    assert f"Deployed the app to {hub_server.url}/spaces/{SPACE} at revision" in capsys.readouterr().out

    space = hub_server.repositories[f"spaces/{SPACE}"]
    files = space.commits[space.main]
    expected = deploy.space_files()
    assert set(files) == set(expected) | {".gitattributes"}
    assert {"app.py", "captcha_model/bundled/default/model.keras",
            "captcha_model/bundled/default/model.onnx"} <= set(files)
    # Every module of the app's and the library's packages, so that the Space imports what the app does.
    modules = {path for package in ("captcha_app", "captcha_model") for path in subprocess.run(
        ["git", "ls-files", f"{package}/*.py"], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()}
    assert modules and modules <= set(files)
    assert not any(path.startswith(("tests/", "bench/")) or path.endswith("train.py") for path in files)
    binaries = [path for path in expected if path.endswith((".keras", ".onnx", ".png"))]
    for path, local in expected.items():
        with open(local, "rb") as handle:
            content = handle.read()
        if path != "README.md":
            assert files[path] == content, path
        # The server refuses binaries sent as regular files: these came through LFS.
        assert (hashlib.sha256(content).hexdigest() in hub_server.lfs_objects) == (path in binaries), path
    settings = front_matter(files["README.md"].decode())
    assert settings["models"] == ["tester/captcha-solver"] and settings["sdk"] == "gradio"
    assert space.variables == {deploy.MCP_VARIABLE: "true", environment.MODEL_VARIABLE: MODEL,
                               environment.STRICT_VARIABLE: "1"}

    # What was uploaded is enough: the app starts from a copy of the Space alone.
    copy = snapshot_download(SPACE, repo_type="space", local_dir=tmp_path / "space")
    variables = {key: value for key, value in os.environ.items()
                 if key not in (environment.MODEL_VARIABLE, "PYTHONPATH")}
    result = subprocess.run([sys.executable, "-c", "import app; print(app.demo.title)"], cwd=copy,
                            env={**variables, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "captcha-break" in result.stdout


def test_a_deploy_without_a_token_or_with_a_bad_model_says_what_is_needed(hub_server, monkeypatch, capsys):
    assert main(["deploy", SPACE, "--model", "not a repo"]) == 2
    assert "OWNER/NAME" in capsys.readouterr().err
    monkeypatch.delenv("HF_TOKEN")
    assert main(["deploy", SPACE]) == 2
    assert "No Hugging Face token" in capsys.readouterr().err
    assert f"spaces/{SPACE}" not in hub_server.repositories
