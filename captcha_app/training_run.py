"""Training runs of the app's Your captchas tab: whether this server trains and for how long, one run as a
subprocess that can be stopped, and what a finished run measured.

A run is `python -m captcha_model.training --data ...` in a process group of its own, so that the server stays
light, SIGTERM stops the run and whatever it started, and its memory goes with it. Nothing here needs Gradio.
"""

import contextlib
import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys
import threading

from captcha_model.reading import runtime

# Minutes per run unless the setting says otherwise, and runs at once across every visitor.
TRAINING_VARIABLE = "CAPTCHA_TRAINING"
DEFAULT_TRAINING_MINUTES = 10.0
MAX_TRAININGS_AT_ONCE = 1
# A stopped run has this long to end on SIGTERM before it is killed.
STOP_GRACE_SECONDS = 15
# The training process yields the CPU to the server's readings.
TRAINING_NICENESS = 10
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class TrainingPolicy:
    """How long one run may train here, in minutes (0: training is switched off), and why, for the page."""

    max_minutes: float
    reason: str

    @property
    def enabled(self):
        return self.max_minutes > 0


def training_policy(setting=None, keras_installed=None):
    """The `TrainingPolicy` of the CAPTCHA_TRAINING setting (`setting`, default: the environment's).

    Unset: DEFAULT_TRAINING_MINUTES per run; "off": no training; a number: that many minutes at most
    (0 is off too). Training needs TensorFlow, which the light install lacks.
    """
    setting = os.environ.get(TRAINING_VARIABLE, "") if setting is None else setting
    installed = runtime.keras_installed() if keras_installed is None else keras_installed
    if not installed:
        return TrainingPolicy(0, "Training is switched off here: this server runs the light install, without "
                                 "TensorFlow. Correct the labels and download them, then train on your own machine "
                                 "with `python train.py --data FOLDER`.")
    value = setting.strip().lower()
    if value in ("", "on"):
        return TrainingPolicy(DEFAULT_TRAINING_MINUTES, f"Training runs on this server's CPU for at most "
                                                        f"{DEFAULT_TRAINING_MINUTES:g} minutes per run, "
                                                        f"{MAX_TRAININGS_AT_ONCE} visitor at a time.")
    if value == "off":
        return TrainingPolicy(0, f"Training is switched off on this server ({TRAINING_VARIABLE}=off), so that "
                                 "its CPU keeps reading captchas for every visitor. Correct the labels and download "
                                 "them, then train on your own machine with `python train.py --data FOLDER`.")
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes < float("inf"):
        return TrainingPolicy(0, f"Training is switched off: the setting {TRAINING_VARIABLE}={setting!r} is neither "
                                 "'off' nor a number of minutes.")
    if minutes == 0:
        return TrainingPolicy(0, f"Training is switched off on this server ({TRAINING_VARIABLE}=0).")
    return TrainingPolicy(minutes, f"This server caps training at {minutes:g} minutes per run ({TRAINING_VARIABLE}), "
                                   f"{MAX_TRAININGS_AT_ONCE} visitor at a time.")


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What a finished run measured on the held-out typed labels: accuracy, its 95% interval, how many, and the
    (image path, true text, reading) of those it misreads."""

    accuracy: float
    interval: tuple
    count: int
    failures: list


def read_result(folder, images):
    """The `TrainingResult` of the run whose metrics.json is in `folder`, trained on the images in `images`."""
    with open(os.path.join(folder, "metrics.json")) as handle:
        metrics = json.load(handle)
    test = metrics["test"]
    held_out = metrics.get("data", {}).get("held_out_files", [])
    failures = [(os.path.join(images, held_out[failure["index"]]), failure["truth"], failure["predicted"])
                for failure in test.get("failures", []) if failure["index"] < len(held_out)]
    return TrainingResult(test["accuracy"], tuple(test["accuracy_95ci"]), test["count"], failures)


class TrainingRun:
    """One training subprocess writing into `folder`, its output in `folder`/log.txt; killed at `deadline_seconds`.

    The process leads a process group of its own, so that stopping it stops whatever it started.
    """

    def __init__(self, arguments, folder, max_minutes, deadline_seconds, hidden_folder=None):
        self.folder = folder
        self.hidden_folder = hidden_folder
        self.max_minutes = max_minutes
        os.makedirs(folder)
        self.log_path = os.path.join(folder, "log.txt")
        self.stopped = False
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "captcha_model.training", *arguments], cwd=PROJECT_ROOT,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, TRAINING_NICENESS)
        self.watchdog = threading.Timer(deadline_seconds, self.stop)
        self.watchdog.daemon = True
        self.watchdog.start()

    def running(self):
        return self.process.poll() is None

    def wait(self, seconds):
        """Whether the run has ended, waiting up to `seconds` for it."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        self.watchdog.cancel()
        return True

    def stop(self):
        """End the run: SIGTERM to its process group, SIGKILL after STOP_GRACE_SECONDS. Returns once it has ended."""
        if not self.running():
            return
        self.stopped = True
        for number, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, number)
            if self.wait(grace):
                return

    def log_lines(self):
        """The lines the run wrote, `hidden_folder` left out of the paths they name."""
        with contextlib.suppress(OSError), open(self.log_path, encoding="utf-8", errors="replace") as log:
            text = log.read().replace("\r", "\n")
            if self.hidden_folder:
                text = text.replace(self.hidden_folder + os.sep, "")
            return [line.strip() for line in text.splitlines() if line.strip()]
        return []

    def progress(self):
        """(fraction done, the run's latest line): the training time of its epochs so far over its minutes."""
        seconds = 0.0
        for path in glob.glob(os.path.join(self.folder, "state.json")) + glob.glob(
                os.path.join(self.folder, "round-*", "state.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                with open(path) as handle:
                    seconds += json.load(handle)["wall_seconds"]
        lines = self.log_lines()
        return min(0.99, seconds / (self.max_minutes * 60)), lines[-1][:160] if lines else "Starting"

    def finished(self):
        """Whether the run ended by itself with its model, export and metrics written."""
        return (not self.running() and not self.stopped and self.process.returncode == 0
                and all(os.path.isfile(os.path.join(self.folder, name)) for name in ("model.keras", "metrics.json")))

    def failure(self):
        """The run's own error message where it gave one, else the last lines it wrote."""
        lines = self.log_lines()
        errors = [line for line in lines if line.startswith("error:")]
        return errors[-1].removeprefix("error:").strip() if errors else " / ".join(lines[-3:]) or "no output"
