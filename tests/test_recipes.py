"""Recipes: `python train.py` runs every stage of a recipe (each as `python -m captcha_model.training`), records
its lineage, and resumes after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import train
from captcha_model import load_solver
from captcha_model.data import seeds
from captcha_model.training import recipes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_NETWORK = {"steps-per-epoch": 2, "batch-size": 8, "validation-size": 16, "test-size": 0, "patience": 100,
                 "train-size": 32, "trunk-widths": "4,4,8,8"}
TINY_RECIPE = {
    "description": "two tiny stages: a pooled network and its referee",
    "stages": [
        {"name": "base", "kind": "train",
         "flags": {"seed": 1, "epochs": 1, "input-pooling": 2, "emphasize": "0O", **SMALL_NETWORK}},
        {"name": "referee", "kind": "referee",
         "flags": {"model": "@base", "seed": 3, "train-size": 200, "validation-size": 60, "test-size": 20,
                   "epochs": 1}},
    ],
}


def write_recipe(tmp_path, recipe):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    return str(path)


def start(arguments):
    environment = {**os.environ, "CI": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    # A session of its own, so that kill -9 reaches the stage running under the recipe too.
    return subprocess.Popen([sys.executable, "train.py", *arguments], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_a_recipe_killed_between_stages_resumes_and_records_its_lineage(tmp_path, capfd, monkeypatch):
    recipe = write_recipe(tmp_path, TINY_RECIPE)
    output = tmp_path / "run"
    arguments = ["--recipe", recipe, "--output", str(output), "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    process = start(arguments)
    lineage = output / recipes.LINEAGE
    deadline = time.time() + 300
    try:
        while time.time() < deadline and process.poll() is None:
            if lineage.exists() and json.loads(lineage.read_text())["stages"]:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the first stage never finished: {process.communicate()[1][-3000:]}")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert [record["stage"] for record in json.loads(lineage.read_text())["stages"]] == ["base"]
    base_model = output / "base" / "model.keras"
    written = base_model.stat().st_mtime

    # Resumed in this process, which has TensorFlow loaded already; its stages still run as programs of their own.
    monkeypatch.setenv("CI", "1")
    capfd.readouterr()
    train.main([*arguments, "--resume"])
    stdout = capfd.readouterr().out
    assert "Stage 'base' finished before; skipping it." in stdout
    assert base_model.stat().st_mtime == written
    metrics = json.loads((output / "metrics.json").read_text())
    stages = metrics["lineage"]["stages"]
    assert [record["stage"] for record in stages] == ["base", "referee"]
    assert [record["seed"] for record in stages] == [1, 3]
    assert [record["started_from"] for record in stages] == [{}, {"model": "@base"}]
    assert all(record["seconds"] > 0 for record in stages)
    base_metrics = json.loads((output / "base" / "metrics.json").read_text())
    assert stages[0]["training_seconds"] == base_metrics["wall_seconds"] > 0
    assert stages[1]["training_seconds"] == metrics["referee"]["wall_seconds"] > 0
    assert "--model" in stages[1]["command"] and str(base_model) in stages[1]["command"]
    assert metrics["test"]["count"] == 20 and metrics["referee"]["args"]["seed"] == 3
    solver = load_solver(str(output / "model.keras"))
    assert solver.referee is not None and solver.config.input_pooling == 2
    assert "Stage 'referee': python -m captcha_model.training referee --model" in stdout
    # The recipe's model comes with the ONNX export of the last stage, its referee included.
    exported = load_solver(str(output), runtime="onnx")
    assert exported.referee is not None and exported.config == solver.config


def test_no_flags_run_the_default_recipe_and_one_run_flags_do_not(monkeypatch):
    args = train.parse_recipe_args([])
    assert (args.recipe, args.output, args.resume) == ("default", os.path.join("runs", "recipe-default"), False)
    assert train.parse_recipe_args(["--resume", "--recipe", "x.json"]).output == os.path.join("runs", "recipe-x")
    assert train.parse_recipe_args(["--epochs", "3"]) is None
    assert train.parse_recipe_args(["referee", "--model", "m.keras"]) is None
    for name in ("ctc", "ctc-170x80"):
        assert recipes.load(name)["stages"][-1]["kind"] == "referee"
    default = recipes.load("default")
    assert [stage["name"] for stage in default["stages"]] == ["base", "zero-o", "zero-o-2", "pooled", "referee"]
    arguments = recipes.stage_arguments(default["stages"][3], "out", {"workers": 2})
    assert arguments[-2:] == ["--output", os.path.join("out", "pooled")]
    assert "--warmup-epochs" in arguments and arguments[arguments.index("--warmup-epochs") + 1] == "0"
    assert arguments[arguments.index("--init-from") + 1] == os.path.join("out", "zero-o-2", "model.keras")
    assert recipes.stage_arguments(default["stages"][4], "out", {})[0] == "referee"


@pytest.mark.parametrize("stages, message", [
    ([], "needs a list of 'stages'"),
    ([{"name": "a", "kind": "bake", "flags": {}}], "kind must be one of"),
    ([{"name": "a", "kind": "train", "flags": {"init-from": "@b"}}], "--init-from @b names no earlier stage"),
    ([{"name": "a", "kind": "train"}, {"name": "a", "kind": "train"}], "stage names must be unique"),
])
def test_a_malformed_recipe_is_refused_with_what_is_expected(tmp_path, stages, message):
    with pytest.raises(ValueError, match=message):
        recipes.load(write_recipe(tmp_path, {"stages": stages}))
    with pytest.raises(ValueError, match=r"No recipe 'nonesuch'.*'default'"):
        recipes.load("nonesuch")


@pytest.mark.parametrize("name", ["default", "ctc", "ctc-170x80", "general"])
def test_a_bundled_models_seeds_are_those_of_its_recipe(name):
    metrics = json.loads(open(os.path.join(ROOT, "captcha_model", "bundled", name, "metrics.json")).read())
    recipe = recipes.load(name)
    assert seeds.stage_seeds(metrics) == sorted(stage["flags"]["seed"] for stage in recipe["stages"])
    # The last stage's own record agrees with the lineage.
    assert metrics["args"]["seed"] in seeds.stage_seeds(metrics)
    assert metrics["lineage"]["recipe_file"] == f"recipes/{name}.json"


@pytest.mark.parametrize("name", ["default", "ctc", "ctc-170x80", "general", "seed"])
def test_every_training_stage_of_a_recipe_trains_all_its_epochs(name):
    # The development runs trained every epoch; an early stop ends a stage with its schedule unfinished and the
    # last weights, not the best, so a recipe that stops early does not repeat them.
    for stage in recipes.load(name)["stages"]:
        if stage["kind"] == "train":
            flags = stage["flags"]
            assert flags.get("patience") == 0 or flags.get("patience", 0) >= flags["epochs"], stage["name"]


def test_a_resumed_lineage_names_its_recipe_relative_to_the_project(tmp_path):
    recipe = recipes.load("default")
    lineage = tmp_path / recipes.LINEAGE
    # Written by older code, which kept the recipe's absolute path.
    lineage.write_text(json.dumps({"recipe": "", "recipe_file": recipe["path"], "stages": []}))
    assert recipes.resumed_lineage(str(lineage), recipe)["recipe_file"] == "recipes/default.json"
    with pytest.raises(ValueError, match="holds a run of .*default.json, not of .*ctc.json"):
        recipes.resumed_lineage(str(lineage), recipes.load("ctc"))
