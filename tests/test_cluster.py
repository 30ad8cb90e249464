"""Several machines (TF_CONFIG): two workers on 127.0.0.1 train one model, resume it, never train alone, and stop
when told to or when their peers do not come."""

import contextlib
import json
import os
import signal
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


def start_worker(index, ports, arguments, **options):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    environment = {**os.environ, "CI": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    return subprocess.Popen([sys.executable, "train.py", *arguments], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


def run_cluster(arguments, workers=2):
    ports = free_ports(workers)
    processes = [start_worker(index, ports, arguments) for index in range(workers)]
    try:
        outputs = [(process.communicate(timeout=400), process.returncode) for process in processes]
    finally:
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


def lonely_worker(tmp_path, cluster_timeout, **options):
    """Worker 0 of a cluster of two whose other worker never starts."""
    return start_worker(0, free_ports(2), ["--epochs", "1", *TINY, "--cache-dir", str(tmp_path / "cache"),
                                           "--output", str(tmp_path / "alone"), "--cluster-timeout",
                                           str(cluster_timeout)], **options)


def descendants(pid):
    """The processes `pid` started, and those they started, and so on."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [grandchild for child in children for grandchild in [child, *descendants(child)]]


def waiting_for_its_peers(process):
    """Wait until `process` waits for the cluster: the watchdog of that wait has started."""
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        for pid in descendants(process.pid):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline") as cmdline:
                if "select.select" in cmdline.read():
                    return
        time.sleep(0.2)
    pytest.fail(f"the worker never started waiting for its peer: {process.communicate()[1][-3000:]}")


@pytest.mark.slow
def test_a_worker_whose_peer_never_starts_does_not_train_alone(tmp_path):
    process = lonely_worker(tmp_path, 5)
    try:
        waiting_for_its_peers(process)
        waiting_since = time.time()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "worker 0 waited 5 s for the other workers of the cluster in TF_CONFIG" in stderr
    assert "127.0.0.1" in stderr and "start every worker" in stderr
    assert not epoch_lines(stdout) and not (tmp_path / "alone" / "checkpoint.keras").exists()
    assert time.time() - waiting_since < 15


@pytest.mark.slow
def test_sigterm_stops_a_worker_waiting_for_its_peers_within_seconds(tmp_path):
    # A session of its own, so that SIGTERM reaches its whole process group, as `timeout` and Ctrl-C send it.
    process = lonely_worker(tmp_path, 300, start_new_session=True)
    try:
        waiting_for_its_peers(process)
        helpers = descendants(process.pid)
        os.killpg(process.pid, signal.SIGTERM)
        signalled = time.time()
        _, stderr = process.communicate(timeout=30)
        stopped_after = time.time() - signalled
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 128 + signal.SIGTERM
    assert "Stopped by SIGTERM." in stderr and stopped_after < 5
    # Nothing of it is left behind, its watchdog (in a session of its own) included.
    time.sleep(2)
    assert not [pid for pid in helpers if os.path.exists(f"/proc/{pid}")]
