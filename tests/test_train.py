"""train.py end to end: a short run (mirrored, its log, model, reports and ONNX export), kill -9 and --resume,
bad flags and output paths, and --help. The flags' settings and the learning-rate schedule are in test_settings.py
and test_schedule.py."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import train as train_script
from captcha_model import config as config_lib, load_solver
from captcha_model.data import rendering
from captcha_model.networks import model_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--steps-per-epoch", "3", "--batch-size", "8", "--validation-size", "16", "--patience", "100"]


def environment():
    """This environment without CI, which would hide the difference a terminal makes, and with TensorFlow quiet."""
    return {**{key: value for key, value in os.environ.items() if key != "CI"}, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One short run that the tests below look at from different sides: (output folder, stdout text).

    Mirrored over two logical CPU devices, with --emphasize and --input-pooling, and its standard output a
    file, as under a log file or CI.
    """
    folder = tmp_path_factory.mktemp("short")
    output, log = folder / "run", folder / "stdout.txt"
    with open(log, "w") as stdout:
        result = subprocess.run(
            [sys.executable, "train.py", "--epochs", "2", *TINY, "--test-size", "20", "--train-size", "32",
             "--cache-dir", str(folder / "cache"), "--workers", "1", "--emphasize", "0O", "--input-pooling", "2",
             "--cpu-devices", "2", "--output", str(output)],
            cwd=ROOT, env=environment(), stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    return output, log.read_text()


@pytest.mark.slow
def test_short_run_writes_a_loadable_model_and_its_reports(short_run):
    output, stdout = short_run
    assert "Training on 2 logical CPU devices, mirrored: float32, batch 8 (4 per device)" in stdout
    network, config = model_file.load_model(output / "model.keras")
    assert config.architecture == "default"
    assert (config.input_height, config.input_width, config.input_pooling) == (80, 176, 2)
    inputs, _ = rendering.render_range(config, seed=1, start=0, count=2)
    assert network.predict_on_batch(inputs).shape == (2, 11, 37)
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["samples_seen"] == 2 * 3 * 8
    assert metrics["args"]["emphasize"] == "0O" and metrics["args"]["emphasis_share"] == 0.3
    assert metrics["args"]["batch_size"] == 8 and metrics["args"]["precision"] == "float32"
    assert metrics["test"]["count"] == 20
    assert [record["epoch"] for record in metrics["history"]] == [1, 2]
    assert (output / "training_curve.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_log_file_gets_one_line_per_epoch_and_no_progress_bars(short_run):
    _, stdout = short_run
    lines = stdout.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(": loss")[0] for line in epoch_lines] == ["epoch 1", "epoch 2"]
    # Keras's progress bar redraws itself with carriage returns and bars of these characters, and
    # its per-step lines read "3/3"; none of it belongs in a log.
    assert not any(mark in stdout for mark in ("\r", "\b", "\u2501", "3/3"))
    assert "" not in lines and len(lines) < 12 and len(stdout) < 2000


@pytest.mark.slow
def test_the_onnx_export_lies_beside_the_model_and_reads_as_keras_does(short_run):
    output, stdout = short_run
    assert (output / "model.onnx").exists() and "Wrote its ONNX export" in stdout
    keras_solver = load_solver(output / "model.keras", runtime="keras")
    images = [rendering.sample_captcha(keras_solver.config, seed=5, index=index)[1] for index in range(3)]
    # The export train.py wrote is what reads the model by default, from its folder, its .keras file or itself.
    assert load_solver(output / "model.keras").runtime == "onnx"
    for source in (output, output / "model.onnx"):
        onnx_solver = load_solver(source)
        assert onnx_solver.runtime == "onnx"
        assert onnx_solver.config == keras_solver.config
        assert [reading.text for reading in onnx_solver.solve(images)] == [
            reading.text for reading in keras_solver.solve(images)]


@pytest.mark.slow
def test_kill_9_then_resume_loses_at_most_the_current_epoch(tmp_path):
    output = tmp_path / "resumable"
    common = [*TINY, "--test-size", "0", "--workers", "1", "--train-size", "64",
              "--cache-dir", str(tmp_path / "cache"), "--output", str(output)]
    process = subprocess.Popen([sys.executable, "train.py", "--epochs", "40", *common], cwd=ROOT,
                               env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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

    # Resumed as a recipe resumes its stages.
    result = subprocess.run([sys.executable, "-m", "captcha_model.training", "--epochs", str(killed_at + 2),
                             "--resume", *common], cwd=ROOT, env=environment(), capture_output=True, text=True,
                            timeout=300)
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
    (["--arch", "transformer"], "accepted architectures are ['ctc', 'default', 'seed', 'seed-bn']"),
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
