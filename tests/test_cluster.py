"""Several machines (TF_CONFIG): two workers on 127.0.0.1 train one model, resume it, and never train alone."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from captcha_model.networks import model_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--steps-per-epoch", "3", "--batch-size", "8", "--validation-size", "16", "--patience", "100",
        "--test-size", "0", "--workers", "1", "--train-size", "32"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def start_worker(index, ports, arguments):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    environment = {**os.environ, "CI": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    return subprocess.Popen([sys.executable, "train.py", *arguments], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_cluster(arguments, workers=2):
    ports = free_ports(workers)
    processes = [start_worker(index, ports, arguments) for index in range(workers)]
    try:
        outputs = [(process.communicate(timeout=400), process.returncode) for process in processes]
    finally:
        # A worker waiting on a collective ignores SIGTERM.
        for process in processes:
            process.kill()
    outputs = [(returncode, stdout, stderr) for (stdout, stderr), returncode in outputs]
    for returncode, _, stderr in outputs:
        assert returncode == 0, stderr[-3000:]
    return [stdout for _, stdout, _ in outputs]


def epoch_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("epoch ")]


def same_progress(first, second):
    """Whether two workers logged the same epochs, losses and validation accuracies (times differ)."""
    return [line.split(" time ")[0] for line in epoch_lines(first)] == [
        line.split(" time ")[0] for line in epoch_lines(second)]


@pytest.mark.slow
def test_two_workers_train_one_model_that_the_chief_writes_and_both_resume(tmp_path):
    output = tmp_path / "cluster"
    common = [*TINY, "--cache-dir", str(tmp_path / "cache"), "--output", str(output), "--cluster-timeout", "120"]
    chief, worker = run_cluster(["--epochs", "2", *common])
    assert "Training on 2 machines (worker 0, the chief), 2 devices in all" in chief
    assert "batch 8 (4 per device)" in chief and "Training on 2 machines (worker 1)" in worker
    # One model: each worker reads its own half of every batch, yet both log the same loss,
    # averaged over the whole cluster.
    assert len(epoch_lines(chief)) == 2 and same_progress(chief, worker)
    assert "Trained; the chief writes the model and its reports." in worker
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["samples_seen"] == 2 * 3 * 8 and "2 machines" in metrics["device"]
    model_file.load_model(output / "model.keras")

    chief, worker = run_cluster(["--epochs", "3", "--resume", *common])
    assert "Resuming 'default' after epoch 2" in chief and "Resuming 'default' after epoch 2" in worker
    state = json.loads((output / "state.json").read_text())
    assert [record["epoch"] for record in state["history"]] == [1, 2, 3]
    assert len(epoch_lines(chief)) == 1 and same_progress(chief, worker)


def test_a_worker_whose_peer_never_starts_does_not_train_alone(tmp_path):
    started = time.time()
    process = start_worker(0, free_ports(2), ["--epochs", "1", *TINY, "--cache-dir", str(tmp_path / "cache"),
                                              "--output", str(tmp_path / "alone"), "--cluster-timeout", "5"])
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "worker 0 waited 5 s for the other workers of the cluster in TF_CONFIG" in stderr
    assert "127.0.0.1" in stderr and "start every worker" in stderr
    assert not epoch_lines(stdout) and not (tmp_path / "alone" / "checkpoint.keras").exists()
    assert time.time() - started < 90
