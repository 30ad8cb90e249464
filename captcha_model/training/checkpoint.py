"""The end of every epoch: precise BatchNorm statistics, validation, one log line and an atomic checkpoint.

The checkpoint is two files in the run's folder: `checkpoint.keras` (the model with its
optimizer) and `state.json` (epochs, captchas seen, training time, the history and the
flags the run started with), each replaced atomically, so `--resume` after a crash or
`kill -9` loses at most the epoch in progress.
"""

import dataclasses
import json
import os
import time

import keras

from captcha_model.networks import model as model_lib, model_file
from captcha_model.reading import evaluation
from captcha_model.reading.solver import Solver
from captcha_model.training import console, recipes

CHECKPOINT = "checkpoint.keras"
STATE = "state.json"


def fresh_state(settings):
    """The state of a run that has not trained yet; it records the flags of the run's first start."""
    return {"epoch": 0, "samples_seen": 0, "wall_seconds": 0.0, "history": [], "args": dataclasses.asdict(settings)}


def resumed_state(output):
    """The state the checkpoint in `output` was saved with; ValueError where there is no checkpoint there."""
    checkpoint_path = os.path.join(output, CHECKPOINT)
    if not os.path.exists(checkpoint_path):
        raise ValueError(f"--resume needs {checkpoint_path}, which does not exist; drop --resume to start afresh.")
    with open(os.path.join(output, STATE)) as handle:
        return json.load(handle)


class Checkpoint(keras.callbacks.Callback):
    """After each epoch: precise BatchNorm statistics, validation, one log line, an atomic checkpoint."""

    def __init__(self, settings, config, state, devices, calibration_batches, validation_inputs, validation_texts):
        super().__init__()
        self.settings, self.config, self.state, self.devices = settings, config, state, devices
        self.calibration_batches = calibration_batches
        self.validation_inputs, self.validation_texts = validation_inputs, validation_texts
        self.epoch_started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        state, settings = self.state, self.settings
        limit = settings.max_minutes * 60
        state["samples_seen"] += settings.steps_per_epoch * settings.batch_size
        state["epoch"] = epoch + 1
        model_lib.recalibrate_batch_norm(self.model, self.calibration_batches)
        # Measured here rather than by fit(), so that it sees the recalibrated statistics, and
        # as whole captchas read right, which per-position heads do not report on their own.
        logs["val_accuracy"] = self.whole_captcha_accuracy()
        # Every worker of a cluster saves (saving may read variables across workers); the chief keeps it.
        model_file.save_model(self.model, self.config,
                              self.devices.output_path(os.path.join(settings.output, CHECKPOINT)),
                              include_optimizer=True)
        # The time of the whole epoch, its validation and checkpoint included, counts against --max-minutes.
        state["wall_seconds"] += time.time() - self.epoch_started
        record = {key: float(value) for key, value in logs.items()}
        record.update(epoch=epoch + 1, samples_seen=state["samples_seen"], wall_seconds=round(state["wall_seconds"], 1))
        state["history"].append(record)
        if self.devices.chief:
            recipes.write_json(os.path.join(settings.output, STATE), state)
        # Keras ends its progress bar's line only after every callback has run, so under a
        # progress bar this line starts with a newline of its own rather than trailing the bar.
        print(
            ("\n" if console.progress_bars() else "")
            + f"epoch {epoch + 1}: loss {record.get('loss', float('nan')):.4f} "
            f"val_accuracy {record['val_accuracy']:.4f} "
            f"lr {record.get('learning_rate', float('nan')):.2e} "
            f"samples {state['samples_seen']} time {state['wall_seconds'] / 60:.1f} min",
            flush=True,
        )
        if self.devices.any_worker(bool(limit) and state["wall_seconds"] >= limit):
            print(f"Stopping: {state['wall_seconds'] / 60:.1f} minutes of training reached --max-minutes.")
            self.model.stop_training = True

    def whole_captcha_accuracy(self):
        solver = Solver(model_lib.KerasNetwork(self.model), self.config, "the model in training")
        return evaluation.evaluate_arrays(solver, self.validation_inputs, self.validation_texts, "validation").accuracy
