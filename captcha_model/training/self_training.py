"""Learning from unlabelled captchas: `train.py --data TYPED --unlabelled FOLDER`, in rounds of self-training.

A person types a few labels; images without one are many. Round 0 trains on the typed labels
alone, a seeded share of them held out to test on, as `train.py --data` does. Each later round
reads every unlabelled image with the model of the round before and keeps, as pseudo-labels, the
readings it is sure of: read with at least CONFIDENT confidence, the same on a distorted copy too,
and of the charset and lengths of the typed labels. It then trains on from that model, on the
typed and pseudo-labelled captchas together. Every round's test is on typed labels only. The time
budget (--max-minutes) is shared between the rounds; the last round's model, its ONNX export and
its metrics, with what each round labelled and scored, are the run's.
"""

import dataclasses
import json
import os

import numpy as np

from captcha_model.data import augment, labelled, preprocessing
from captcha_model.publishing import hub
from captcha_model.reading import runtime
from captcha_model.reading.solver import load_solver
from captcha_model.training import data_sources, network_stage, output_checks, recipes, site_training

# A reading at least this sure (and the same on a distorted copy) becomes a pseudo-label.
CONFIDENT = 0.9
PROGRESS = "rounds.json"


def pseudo_labels(solver, inputs, config, seed):
    """{row: text} of the network `inputs` that `solver` reads surely: CONFIDENT, the same on a distorted copy
    (drawn from `seed`), and a text `config` can have."""
    readings = solver.solve_inputs(inputs)
    distorted = solver.solve_inputs(augment.augment(inputs, np.random.default_rng(seed)))
    return {row: reading.text for row, (reading, other) in enumerate(zip(readings, distorted, strict=True))
            if reading.confidence >= CONFIDENT and reading.text == other.text
            and site_training.readable(reading.text, config)}


def with_pseudo_labels(data, inputs, labels):
    """`data` (typed labels) with the pseudo-labelled `inputs` rows of `labels` added to its training pool."""
    rows = sorted(labels)
    typed_inputs, typed_texts = data.pool
    pool = (np.concatenate([typed_inputs, inputs[rows]]), [*typed_texts, *(labels[row] for row in rows)])
    return dataclasses.replace(data, pool=pool, site={**data.site, "pseudo_labelled": len(rows)})


def unlabelled_inputs(source, config):
    """Network inputs of the images of `source` that have no typed label."""
    captchas = labelled.read_partly_labelled(source)
    untyped = [name for name in captchas.names if name not in captchas.typed]
    images = [image for _, image, _ in captchas.decoded(untyped) if image is not None]
    if not images:
        raise ValueError(f"{source} holds no image without a typed label: nothing to learn from. Give "
                         "--unlabelled a folder or .zip of the site's captchas, labelled or not.")
    print(f"{len(images):,} unlabelled captchas in {source}.")
    return preprocessing.preprocess(images, config)


def run(settings):
    """Train in rounds as `settings` say (see the module's docstring); returns the path of the last model."""
    output_checks.check_output_directory(settings.output)
    if settings.push_to_hub:
        hub.check_repo_id(settings.push_to_hub)
        hub.check_token()
    # Too few typed labels are refused here, saying how many are needed (site_training.MIN_TYPED_WITH_UNLABELLED).
    data = data_sources.site_data(settings)
    typed_count = len(data.pool[1])
    inputs = unlabelled_inputs(settings.unlabelled, data.config)
    progress_path = os.path.join(settings.output, PROGRESS)
    rounds = []
    if settings.resume and os.path.exists(progress_path):
        with open(progress_path) as handle:
            rounds = json.load(handle)["rounds"]
    model_path, round_data = settings.init_from, data
    for number in range(settings.rounds + 1):
        folder = os.path.join(settings.output, f"round-{number}")
        if number < len(rounds):
            model_path = os.path.join(folder, network_stage.MODEL_FILE)
        else:
            round_settings = dataclasses.replace(
                settings, output=folder, init_from=model_path, max_minutes=settings.max_minutes / (settings.rounds + 1),
                unlabelled=None, push_to_hub=None,
                resume=settings.resume and os.path.exists(os.path.join(folder, "checkpoint.keras")))
            print(f"Round {number}: training on {len(round_data.pool[1]):,} captchas "
                  f"({typed_count:,} typed).", flush=True)
            model_path = network_stage.run(round_settings, round_data)
            with open(os.path.join(folder, "metrics.json")) as handle:
                test = json.load(handle)["test"]
            rounds.append({"round": number, "training": len(round_data.pool[1]), "typed": typed_count,
                           "pseudo_labelled": len(round_data.pool[1]) - typed_count, "test_accuracy": test["accuracy"],
                           "test_count": test["count"]})
            recipes.write_json(progress_path, {"rounds": rounds})
        if number < settings.rounds:
            labels = pseudo_labels(load_solver(model_path), inputs, data.config, settings.seed + number)
            print(f"Round {number}'s model reads {len(labels):,} of {len(inputs):,} unlabelled captchas surely; "
                  "they join the typed ones.", flush=True)
            round_data = with_pseudo_labels(data, inputs, labels)
    final_path = finish(settings.output, os.path.dirname(model_path), rounds)
    if settings.push_to_hub:
        exported = os.path.exists(os.path.join(settings.output, runtime.ONNX_MODEL_FILE))
        commit = hub.push(final_path, settings.push_to_hub, private=settings.private,
                          onnx_folder=settings.output if exported else None)
        print(f"Pushed to {commit.repo_url} at revision {commit.oid}.")
    return final_path


def finish(output, last, rounds):
    """The last round's model, export, curve and metrics (with every round's record) copied to `output`."""
    final_path = recipes.adopt_run(last, output, self_training={"rounds": rounds})
    accuracies = ", ".join(f"{record['test_accuracy']:.2%}" for record in rounds)
    print(f"Wrote {final_path}; held-out accuracy after each round: {accuracies}.")
    return final_path
