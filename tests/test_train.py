"""train.py end to end: a short run, mirrored devices, kill -9 and --resume, bad output paths."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import train as train_script
from captcha_model import config as config_lib
from captcha_model.data import rendering
from captcha_model.networks import model as model_lib
from captcha_model.networks import model_file
from captcha_model.training import recipes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--steps-per-epoch", "3", "--batch-size", "8", "--validation-size", "16", "--patience", "100"]


def train(*arguments, progress_bars=False, **options):
    # train.py draws Keras progress bars unless CI is set, when it prints one line per epoch.
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if not progress_bars:
        environment["CI"] = "1"
    return subprocess.run([sys.executable, "train.py", *arguments], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300, **options)


def test_short_run_writes_a_loadable_model_and_its_reports(tmp_path):
    output = tmp_path / "run"
    result = train("--epochs", "2", *TINY, "--test-size", "20", "--train-size", "0", "--workers", "2",
                   "--emphasize", "0O", "--input-pooling", "2", "--output", str(output), progress_bars=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training on the CPU" in result.stdout
    # One log line per epoch, each on a line of its own rather than trailing the progress bar.
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(": loss")[0] for line in epoch_lines] == ["epoch 1", "epoch 2"]
    network, config = model_file.load_model(output / "model.keras")
    assert config.architecture == "default"
    assert (config.input_height, config.input_width, config.input_pooling) == (80, 176, 2)
    inputs, _ = rendering.render_range(config, seed=1, start=0, count=2)
    assert network.predict_on_batch(inputs).shape == (2, 11, 37)
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["samples_seen"] == 2 * 3 * 8
    assert metrics["args"]["emphasize"] == "0O" and metrics["args"]["emphasis_share"] == 0.3
    assert metrics["test"]["count"] == 20
    assert [record["epoch"] for record in metrics["history"]] == [1, 2]
    assert (output / "training_curve.png").stat().st_size > 1000


def test_mirrored_over_two_logical_cpu_devices(tmp_path):
    output = tmp_path / "mirrored"
    result = train("--epochs", "1", *TINY, "--test-size", "0", "--workers", "1", "--train-size", "32",
                   "--cache-dir", str(tmp_path / "cache"), "--cpu-devices", "2", "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training on 2 logical CPU devices, mirrored: float32, batch 8 (4 per device)" in result.stdout
    model_file.load_model(output / "model.keras")


def test_kill_9_then_resume_loses_at_most_the_current_epoch(tmp_path):
    output = tmp_path / "resumable"
    common = [*TINY, "--test-size", "0", "--workers", "1", "--train-size", "64",
              "--cache-dir", str(tmp_path / "cache"), "--output", str(output)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CI": "1"}
    process = subprocess.Popen([sys.executable, "train.py", "--epochs", "40", *common], cwd=ROOT,
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_path = output / "state.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if state_path.exists() and json.loads(state_path.read_text())["epoch"] >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("training never finished two epochs")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = json.loads(state_path.read_text())["epoch"]
    assert killed_at < 40
    # The checkpoint left behind by the killed run is whole and loadable.
    config_lib.read_config(output / "checkpoint.keras")

    result = train("--epochs", str(killed_at + 2), "--resume", *common)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming 'default' after epoch {killed_at}" in result.stdout
    state = json.loads(state_path.read_text())
    assert [record["epoch"] for record in state["history"]] == list(range(1, killed_at + 3))
    assert state["samples_seen"] == (killed_at + 2) * 3 * 8
    model_file.load_model(output / "model.keras")


def refusal(*arguments):
    """The message train.py stops with for `arguments`, run in this process: its checks come before any training."""
    with pytest.raises(ValueError) as error:
        train_script.main(list(arguments))
    return str(error.value)


def test_unwritable_output_fails_at_start_up(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert "Cannot write to output directory" in refusal("--output", str(blocker / "run"))


@pytest.mark.parametrize("arguments, message", [
    (["--arch", "transformer"], "accepted architectures are ['ctc', 'default', 'seed']"),
    (["--emphasize", "0o"], "accepted characters are '0123"),
    (["--input-pooling", "0"], "--input-pooling must be at least 1"),
    (["--arch", "seed", "--input-pooling", "2"], "input_pooling must be 1"),
])
def test_bad_flags_are_refused_with_what_is_accepted(tmp_path, arguments, message):
    assert message in refusal(*arguments, "--output", str(tmp_path), "--train-size", "0")


def test_resume_without_a_run_to_resume_says_so(tmp_path):
    assert "--resume needs" in refusal("--resume", "--output", str(tmp_path / "empty"))


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--help"])
    shown = capsys.readouterr().out
    for flag in ["--arch", "--epochs", "--batch-size", "--steps-per-epoch", "--workers", "--learning-rate",
                 "--output", "--seed", "--resume", "--push-to-hub", "--train-size", "--lengths", "--size",
                 "--size-range", "--init-from", "--emphasize", "--emphasis-share", "--trunk-widths", "--input-pooling",
                 "--data", "--validation-data", "--holdout", "--uppercase", "--charset", "--input-size",
                 "--precision", "--steps-per-execution", "--cluster-timeout", "--recipe"]:
        assert flag in shown


def test_learning_rate_schedule_warms_up_then_decays():
    args = train_script.parse_args(["--epochs", "10", "--learning-rate", "0.01", "--warmup-epochs", "1"])
    schedule = train_script.learning_rate_schedule(args, {"wall_seconds": 0.0})
    rates = np.array([schedule(epoch) for epoch in range(10)])
    assert rates[0] < rates[1] == pytest.approx(0.01)
    assert (np.diff(rates[1:]) < 0).all() and rates[-1] < 0.002


def test_with_a_time_limit_the_schedule_reaches_zero_when_the_time_is_up():
    args = train_script.parse_args(["--epochs", "100", "--learning-rate", "0.01", "--max-minutes", "10"])
    state = {"wall_seconds": 0.0}
    schedule = train_script.learning_rate_schedule(args, state)
    untimed = schedule(5)
    state["wall_seconds"] = 300  # half the time: half way down the cosine, whatever the epoch
    assert schedule(5) == pytest.approx(0.005) and schedule(5) < untimed
    state["wall_seconds"] = 600
    assert schedule(5) == pytest.approx(0.0)


def test_the_tutorial_recipe_gets_adadelta_at_a_constant_rate():
    stage = recipes.load("seed")["stages"][0]
    args = train_script.parse_args(recipes.stage_arguments(stage, "runs", {})[:-2])
    assert train_script.OPTIMIZERS[args.optimizer] is keras.optimizers.Adadelta
    assert [train_script.learning_rate_schedule(args, {"wall_seconds": 0.0})(epoch) for epoch in range(5)] == [1.0] * 5
    assert (args.arch, args.batch_size, args.steps_per_epoch, args.train_size) == ("seed", 32, 1600, 0)


def test_length_and_size_flags_shape_the_config(capsys):
    args = train_script.parse_args(["--arch", "ctc", "--lengths", "3-6", "--size", "160x60", "--size-range", "120x50-200x90"])
    config = model_lib.default_config(args.arch, **args.lengths, **args.size, **args.size_range)
    assert (config.min_length, config.max_length) == (3, 6)
    assert (config.captcha_width, config.captcha_height) == (160, 60)
    assert (config.captcha_width_range, config.captcha_height_range) == ((120, 200), (50, 90))
    assert train_script.parse_args(["--lengths", "5"]).lengths == {"min_length": 5, "max_length": 5}
    for flag, value, message in [("--lengths", "a-b", "a length like 4"), ("--size", "160", "e.g. 160x60"),
                                 ("--size-range", "120x50", "two sizes like 120x50-240x100"),
                                 ("--trunk-widths", "32,64", "four positive channel counts"),
                                 ("--trunk-widths", "32,0,64,128", "four positive channel counts")]:
        with pytest.raises(SystemExit):
            train_script.parse_args([flag, value])
        assert message in capsys.readouterr().err

