"""A cluster's worker guarded by a process of its own: the guard runs the worker's command again in a child, exits as
the child does, and does nothing outside a cluster or inside that child."""

import os
import signal
import subprocess
import sys

from captcha_model.training import stop_signals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Guards itself, then says whether it is its guard's child, and ends as it is told to. It loads stop_signals from
# its file rather than through the package, so that each process starts in a blink.
WORKER = """
import importlib.util, os, sys

spec = importlib.util.spec_from_file_location("stop_signals", "captcha_model/training/stop_signals.py")
stop_signals = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stop_signals)
os.environ.setdefault("FIRST_PID", str(os.getpid()))
stop_signals.guard()
first = int(os.environ["FIRST_PID"])
print("unguarded" if first == os.getpid() else "child of its guard" if first == os.getppid() else "?", flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), 9)
sys.exit(int(sys.argv[1]))
"""


def run_worker(ending, cluster):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CONFIG", "FIRST_PID", stop_signals.GUARDED)}
    if cluster:
        environment["TF_CONFIG"] = '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}'
    return subprocess.run([sys.executable, "-c", WORKER, ending], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_outside_a_cluster_the_command_runs_unguarded():
    result = run_worker("3", cluster=False)
    assert (result.returncode, result.stdout) == (3, "unguarded\n")


def test_a_worker_runs_in_a_child_and_exits_as_it_does():
    result = run_worker("3", cluster=True)
    # The guard itself prints nothing: the one line is the child's.
    assert (result.returncode, result.stdout) == (3, "child of its guard\n")
    # A child killed by signal 9 ends its guard as a shell reports it: 128 + 9.
    assert run_worker("killed", cluster=True).returncode == 128 + signal.SIGKILL


def test_stop_on_sigterm_puts_back_the_default_action():
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        stop_signals.stop_on_sigterm()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)
