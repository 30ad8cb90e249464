"""Recipes: the chains of training runs that make the bundled models, written down as files.

A recipe (recipes/NAME.json) is a list of stages. Each stage is one run of the network
(`python -m captcha_model.training FLAGS`, as `train.py FLAGS`) or of the referee stage
(`... referee FLAGS`: a 0/O referee for the network before it) with its flags; a flag value
"@STAGE" names the model.keras of an earlier stage, so a fine-tune starts where that stage
ended. `run` gives each stage a folder of its own under the recipe's output, runs it in a
process of its own (so that each starts TensorFlow afresh), and records after every stage what it
ran, from what, with which seed and how long it took, so that `--resume` after a crash
or `kill -9` skips the finished stages and carries on inside the interrupted one (from
its checkpoint). The last stage's model, its ONNX export and metrics become the recipe's,
with the lineage of every stage added to the metrics, each stage's training time over all
its runs included. A lineage names each stage's command as `train.py FLAGS`, which runs it too.
"""

import json
import os
import shutil
import subprocess
import sys
import time

from captcha_model.training import onnx_export

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(ROOT, "recipes")
LINEAGE = "lineage.json"
KINDS = ("train", "referee")
# The flags every stage gets from the command that runs the recipe.
SHARED_FLAGS = ("cache-dir", "workers")
# The command that runs one stage (captcha_model/training/__main__.py).
STAGE_MODULE = "captcha_model.training"


def recipe_path(name):
    """The file of a recipe named as in recipes/ (e.g. 'default') or given as a path."""
    path = os.path.abspath(name) if name.endswith(".json") else os.path.join(RECIPES, f"{name}.json")
    if not os.path.exists(path):
        known = sorted(entry[:-5] for entry in os.listdir(RECIPES) if entry.endswith(".json"))
        raise ValueError(f"No recipe {name!r}: give a .json file or one of {known}.")
    return path


def recipe_name(path):
    """How metrics name a recipe file: relative to the project where it lies inside it, so no machine's path is kept."""
    relative = os.path.relpath(path, ROOT)
    return path if relative.startswith("..") else relative


def load(name):
    """The recipe `name` (see `recipe_path`), checked: every stage has a kind, a unique name, flags, and names
    only earlier stages."""
    path = recipe_path(name)
    try:
        with open(path) as handle:
            recipe = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"Recipe {path} is not valid JSON ({error}).") from None
    stages = recipe.get("stages") if isinstance(recipe, dict) else None
    if not stages:
        raise ValueError(f"Recipe {path} needs a list of 'stages', each with 'name', 'kind' and 'flags'.")
    seen = set()
    for stage in stages:
        name = stage.get("name")
        if not name or name in seen or "/" in name:
            raise ValueError(f"Recipe {path}: stage names must be unique folder names, got {name!r}.")
        if stage.get("kind") not in KINDS:
            raise ValueError(f"Recipe {path}, stage {name!r}: kind must be one of {list(KINDS)}, "
                             f"got {stage.get('kind')!r}.")
        for flag, value in stage.get("flags", {}).items():
            if isinstance(value, str) and value.startswith("@") and value[1:] not in seen:
                raise ValueError(f"Recipe {path}, stage {name!r}: --{flag} {value} names no earlier stage.")
        seen.add(name)
    return {"path": path, **recipe}


def stage_arguments(stage, output, shared):
    """The command line of one stage: its flags, '@STAGE' made a model path, the shared flags and its folder."""
    arguments = ["referee"] if stage["kind"] == "referee" else []
    for flag, value in {**stage.get("flags", {}), **shared}.items():
        if isinstance(value, str) and value.startswith("@"):
            value = os.path.join(output, value[1:], "model.keras")
        if value is True:
            arguments.append(f"--{flag}")
        elif value is not False and value is not None:
            arguments += [f"--{flag}", str(value)]
    return arguments + ["--output", os.path.join(output, stage["name"])]


def write_json(path, values):
    """Write `values` as JSON to `path` atomically: a crash leaves the old file or the new, never half of one."""
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(values, handle, indent=2)
    os.replace(partial, path)


def resumed_lineage(path, recipe):
    """The lineage a run of `recipe` left at `path`, its recipe file named as `recipe_name` names it now (runs
    started by older code kept its absolute path); ValueError where it is a run of another recipe."""
    with open(path) as handle:
        lineage = json.load(handle)
    if os.path.join(ROOT, lineage["recipe_file"]) != recipe["path"]:
        raise ValueError(f"{os.path.dirname(path)} holds a run of {lineage['recipe_file']}, not of {recipe['path']}.")
    return {**lineage, "recipe_file": recipe_name(recipe["path"])}


def run(name, output, resume=False, shared=None):
    """Run the recipe `name` into `output`; returns the path of its final model.

    `shared` maps flags of SHARED_FLAGS to the values every stage gets.
    """
    recipe = load(name)
    lineage_path = os.path.join(output, LINEAGE)
    if resume and not os.path.exists(lineage_path):
        raise ValueError(f"--resume needs {lineage_path}, which does not exist; drop --resume to start afresh.")
    if resume:
        lineage = resumed_lineage(lineage_path, recipe)
    else:
        lineage = {"recipe": recipe.get("description", ""), "recipe_file": recipe_name(recipe["path"]), "stages": []}
    os.makedirs(output, exist_ok=True)
    write_json(lineage_path, lineage)
    finished = {record["stage"] for record in lineage["stages"]}
    shared = {flag: value for flag, value in (shared or {}).items() if flag in SHARED_FLAGS}
    for stage in recipe["stages"]:
        if stage["name"] in finished:
            print(f"Stage {stage['name']!r} finished before; skipping it.", flush=True)
            continue
        arguments = stage_arguments(stage, output, shared)
        stage_folder = os.path.join(output, stage["name"])
        # An interrupted network stage carries on from its checkpoint; a referee stage restores its own backup.
        if resume and stage["kind"] == "train" and os.path.exists(os.path.join(stage_folder, "checkpoint.keras")):
            arguments.append("--resume")
        command = [sys.executable, "-m", STAGE_MODULE, *arguments]
        print(f"Stage {stage['name']!r}: python -m {STAGE_MODULE} {' '.join(arguments)}", flush=True)
        started = time.time()
        subprocess.run(command, cwd=ROOT, check=True)
        flags = stage.get("flags", {})
        lineage["stages"].append({
            "stage": stage["name"], "kind": stage["kind"], "command": ["train.py", *arguments],
            "seed": flags.get("seed"),
            "started_from": {flag: flags[flag] for flag in ("init-from", "model") if flag in flags},
            "resumed": "--resume" in arguments, "seconds": round(time.time() - started, 1),
        })
        write_json(lineage_path, lineage)
    return finish(recipe, output, lineage)


def finish(recipe, output, lineage):
    """Copy the last stage's model and its ONNX export to `output` and write its metrics there with the lineage
    added."""
    for record in lineage["stages"]:
        record["training_seconds"] = training_seconds(os.path.join(output, record["stage"]), record["kind"])
    final_path = adopt_run(os.path.join(output, recipe["stages"][-1]["name"]), output, lineage=lineage)
    seconds = sum(record["seconds"] for record in lineage["stages"])
    print(f"Recipe finished: {final_path} ({seconds / 60:.1f} minutes over {len(lineage['stages'])} stages).")
    return final_path


def adopt_run(last, output, **records):
    """Copy the model of the run in folder `last`, its ONNX export and training curve to `output`, and its metrics
    with `records` added; returns the path of the copied model."""
    final_path = os.path.join(output, "model.keras")
    shutil.copy(os.path.join(last, "model.keras"), final_path)
    onnx_export.copy_export(last, output)
    with open(os.path.join(last, "metrics.json")) as handle:
        metrics = json.load(handle)
    write_json(os.path.join(output, "metrics.json"), {**metrics, **records})
    curve = os.path.join(last, "training_curve.png")
    if os.path.exists(curve):
        shutil.copy(curve, output)
    return final_path


def training_seconds(stage_folder, kind):
    """How long a finished stage trained, over all its runs: `seconds` in the lineage counts only the run
    that finished it, while a checkpoint carries the training time across `--resume`."""
    with open(os.path.join(stage_folder, "metrics.json")) as handle:
        metrics = json.load(handle)
    return (metrics["referee"] if kind == "referee" else metrics)["wall_seconds"]


