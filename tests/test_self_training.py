"""Learning from unlabelled captchas (`train.py --data TYPED --unlabelled FOLDER`): which readings become
pseudo-labels, the rounds end to end with held-out figures from typed labels only, resuming, and refusals."""

import csv
import json
import os

import numpy as np
import pytest

from captcha_model.data import rendering
from captcha_model.networks import model as model_lib
from captcha_model.reading.decoding import Reading
from captcha_model.training import self_training, settings as settings_lib
from captcha_model.training.__main__ import main as train
from captcha_model.training.data_sources import TrainingData

# Captchas unlike the bundled models': 3 or 4 characters of six, on 100x36 images.
SITE = model_lib.default_config("ctc", charset="ABC123", min_length=3, max_length=4, captcha_width_range=(),
                                captcha_height_range=(), captcha_width=100, captcha_height=36)


class ScriptedSolver:
    """Reads the first batch it is given as `first` and the next (the distorted copy) as `second`."""

    def __init__(self, first, second):
        self.batches = [first, second]

    def solve_inputs(self, inputs):
        return [Reading(text, confidence, (confidence,) * len(text)) for text, confidence in self.batches.pop(0)]


def test_only_sure_readings_that_survive_a_distortion_and_fit_the_config_become_labels():
    inputs = np.zeros((6, SITE.input_height, SITE.input_width, 1), dtype=np.uint8)
    first = [("AB1", 0.99), ("AB2", 0.5), ("CC3", 0.95), ("AX1", 0.99), ("A1", 0.99), ("B2C3", 0.91)]
    # The third reads otherwise once distorted; the fourth has a character the site lacks, the fifth is too short.
    second = [("AB1", 0.98), ("AB2", 0.6), ("CC2", 0.9), ("AX1", 0.99), ("A1", 0.99), ("B2C3", 0.7)]
    labels = self_training.pseudo_labels(ScriptedSolver(first, second), inputs, SITE, seed=0)
    assert labels == {0: "AB1", 5: "B2C3"}


def test_pseudo_labels_join_the_typed_pool_and_are_recorded():
    typed = (np.zeros((2, 4, 4, 1), dtype=np.uint8), ["AB1", "CC2"])
    data = TrainingData(SITE, typed, typed, site={"source": "here"})
    unlabelled = np.arange(3 * 16, dtype=np.uint8).reshape(3, 4, 4, 1)
    joined = self_training.with_pseudo_labels(data, unlabelled, {2: "C12", 0: "A11"})
    inputs, texts = joined.pool
    assert texts == ["AB1", "CC2", "A11", "C12"]
    assert (inputs[2] == unlabelled[0]).all() and (inputs[3] == unlabelled[2]).all()
    assert joined.site == {"source": "here", "pseudo_labelled": 2} and joined.validation == typed


@pytest.fixture(scope="module")
def partly_labelled(tmp_path_factory):
    """60 numbered captchas of SITE, a labels.csv typing the first 40."""
    folder = tmp_path_factory.mktemp("partly")
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text"])
        for index in range(60):
            text, image = rendering.sample_captcha(SITE, seed=51, index=index)
            image.save(folder / f"{index:04d}.png")
            if index < 40:
                writer.writerow([f"{index:04d}.png", text])
    return folder


ROUND_FLAGS = ["--rounds", "1", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8",
               "--validation-size", "8"]


@pytest.mark.slow
def test_rounds_train_on_typed_then_pseudo_labels_and_test_on_typed_labels_only(partly_labelled, tmp_path, capsys):
    output = tmp_path / "run"
    path = train(["--data", str(partly_labelled), "--unlabelled", str(partly_labelled), "--output", str(output),
                  *ROUND_FLAGS])
    assert path == str(output / "model.keras") and (output / "model.onnx").exists()
    printed = capsys.readouterr().out
    assert "20 unlabelled captchas" in printed and "Round 1" in printed
    with open(output / "metrics.json") as handle:
        metrics = json.load(handle)
    rounds = metrics["self_training"]["rounds"]
    assert [record["round"] for record in rounds] == [0, 1]
    # 10% of the 40 typed captchas are held out; the test is on those alone, every round.
    assert all(record["typed"] == 36 and record["test_count"] == 4 for record in rounds)
    assert rounds[0]["pseudo_labelled"] == 0 and rounds[1]["training"] == 36 + rounds[1]["pseudo_labelled"]
    assert metrics["test"]["count"] == 4 and metrics["data"]["pseudo_labelled"] == rounds[1]["pseudo_labelled"]
    # Resumed after it finished, no round trains again.
    modified = os.path.getmtime(output / "round-1" / "model.keras")
    train(["--data", str(partly_labelled), "--unlabelled", str(partly_labelled), "--output", str(output),
           "--resume", *ROUND_FLAGS])
    assert os.path.getmtime(output / "round-1" / "model.keras") == modified
    assert "Round 0: training" not in capsys.readouterr().out


def test_too_few_typed_labels_or_nothing_unlabelled_are_refused_clearly(partly_labelled, tmp_path):
    few = tmp_path / "few"
    few.mkdir()
    with open(few / "labels.csv", "w") as handle:
        handle.write("file,text\n")
        for index in range(20):
            os.link(partly_labelled / f"{index:04d}.png", few / f"{index:04d}.png")
            handle.write(f"{index:04d}.png,{rendering.sample_captcha(SITE, seed=51, index=index)[0]}\n")
    with pytest.raises(ValueError, match="at least 30 are needed"):
        train(["--data", str(few), "--unlabelled", str(partly_labelled), "--output", str(tmp_path / "a"),
               *ROUND_FLAGS])
    with pytest.raises(ValueError, match="no image without a typed label"):
        self_training.unlabelled_inputs(str(few), SITE)
    with pytest.raises(ValueError, match="--unlabelled goes with --data"):
        settings_lib.parse(["--unlabelled", str(partly_labelled)])
    with pytest.raises(ValueError, match="--rounds must be at least 1"):
        settings_lib.parse(["--data", str(few), "--unlabelled", str(few), "--rounds", "0"])


def test_a_round_reads_the_unlabelled_images_at_the_sites_input_size(partly_labelled):
    inputs = self_training.unlabelled_inputs(str(partly_labelled), SITE)
    assert inputs.shape == (20, SITE.input_height, SITE.input_width, 1) and inputs.dtype == np.uint8
