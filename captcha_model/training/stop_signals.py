"""SIGTERM and SIGINT for a worker of a cluster: a guard process takes them for it.

While `MultiWorkerMirroredStrategy` waits for the workers of TF_CONFIG to join, the worker is
inside one TensorFlow call that holds the interpreter, and TensorFlow installs a SIGTERM handler
of its own (its preemption notifier) that only records the signal. So neither `timeout`,
Kubernetes nor Ctrl-C could stop a worker whose peers never came. A worker therefore runs its
command again in a child process (`guard`) and only waits for it: this process, idle, takes
SIGTERM or SIGINT at once, says so and kills the child. The child, once it has joined the
cluster, also stops on a SIGTERM sent to it alone (`stop_on_sigterm`).
"""

import os
import signal
import subprocess
import sys

# Set in the child's environment, so that it trains instead of guarding in turn. The child removes it
# from its own, so that processes it starts (a recipe's stages) guard themselves.
GUARDED = "CAPTCHA_MODEL_GUARDED"


def guard():
    """Where this process is a worker of a cluster (TF_CONFIG set), run its command again in a child and exit as
    that child does, killing it at once on SIGTERM or SIGINT; elsewhere, and in that child, return at once."""
    if not os.environ.get("TF_CONFIG") or os.environ.pop(GUARDED, None):
        return
    child = subprocess.Popen([sys.executable, *sys.orig_argv[1:]], env={**os.environ, GUARDED: "1"})
    received = []

    def stop(number, _frame):
        received.append(number)
        print(f"Stopped by {signal.Signals(number).name}.", file=sys.stderr, flush=True)
        child.kill()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop)
    while True:
        # Waits of a second at most, so that a signal taken by another thread is acted on within one.
        try:
            returncode = child.wait(timeout=1)
            break
        except subprocess.TimeoutExpired:
            continue
    # As a shell reports a process ended by a signal: 128 and the signal's number.
    sys.exit(128 + received[0] if received else returncode if returncode >= 0 else 128 - returncode)


def stop_on_sigterm():
    """Put back SIGTERM's default action, to stop the process, where TensorFlow's handler only records it."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
