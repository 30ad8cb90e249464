"""One training run of the network, from its command line to model.keras and its reports, top to bottom.

`python train.py [FLAGS]` and `python -m captcha_model.training [FLAGS]` (as recipes run their
network stages) come here; `--help` lists the flags (`settings.py`).

One run uses every visible GPU (mirrored when there are several; a cluster of machines with
TF_CONFIG), else the CPU, and says which, with the precision and batch size (`distribute.py`).
Each epoch ends with validation, one log line and an atomic checkpoint (`checkpoint.py`), so
`--resume` after a crash or `kill -9` loses at most the epoch in progress. At the end the model
is tested, and written with a metrics JSON, a training-curve PNG and its ONNX export beside it.
"""

import dataclasses
import os

import keras

from captcha_model import config as config_lib
from captcha_model.networks import model as model_lib, model_file
from captcha_model.publishing import hub
from captcha_model.reading import evaluation, runtime as runtime_lib
from captcha_model.reading.solver import load_solver
from captcha_model.training import (
    checkpoint,
    cluster_loop,
    console,
    data_sources,
    distribute,
    onnx_export,
    output_checks,
    pipeline,
    recipes,
    schedule,
    settings as settings_lib,
    warm_start,
)

MODEL_FILE = "model.keras"


def main(argv=None):
    """Train as the command line `argv` says; returns the path of the model written."""
    return run(settings_lib.parse(argv))


def run(settings, data=None):
    """Train as `settings` say; returns the path of the model written.

    `data` (a `data_sources.TrainingData`), where given, replaces the captchas the settings name: a round of
    self-training (`self_training.py`) trains on captchas it has labelled itself.
    """
    if settings.push_to_hub:
        # Fail now, not after hours of training, when the push at the end could not succeed.
        hub.check_repo_id(settings.push_to_hub)
        hub.check_token()
    output_checks.check_output_directory(settings.output)

    # Where the run stands, checked before any device starts: afresh, or after the epochs of its checkpoint.
    if settings.resume:
        state = checkpoint.resumed_state(settings.output)
        config = config_lib.read_config(os.path.join(settings.output, checkpoint.CHECKPOINT))
        print(f"Resuming {config.architecture!r} after epoch {state['epoch']} ({state['samples_seen']} samples seen).")
    elif data is not None:
        state, config = None, data.config
    else:
        # A fresh state records the settings, which the devices complete below.
        state = None
        # A site's config follows its captchas, which the data below reads.
        config = None if settings.data else settings.network_config()
        if config is not None:
            # Refused now, before any captcha is drawn.
            model_lib.check_config(config)

    # The devices: a cluster must be joined before TensorFlow runs anything.
    devices = distribute.choose_devices(settings.cpu_devices, settings.cluster_timeout)
    settings = distribute.resolve_settings(settings, devices)
    state = state or checkpoint.fresh_state(settings)

    # The captchas: the library's or a site's, for training, validation and the final test.
    if data is None:
        data = data_sources.training_data(settings, config)
    config = data.config

    # The network: fresh (or warm-started from another model's weights), or as the checkpoint left it.
    with devices.strategy.scope():
        if settings.resume:
            model = keras.saving.load_model(os.path.join(settings.output, checkpoint.CHECKPOINT), safe_mode=True)
            optimizer = model.optimizer
        else:
            model = model_lib.build_model(config)
            if settings.init_from:
                warm_start.warm_start(model, settings.init_from, config)
            optimizer = settings.make_optimizer()
        # Compiled afresh on resume too, so that this run's --steps-per-execution applies.
        model_lib.compile_model(model, config, optimizer, steps_per_execution=settings.steps_per_execution)

    # The training batches, from the first batch the run has not seen yet.
    start_batch = state["epoch"] * settings.steps_per_epoch
    training_source, plain_source = data.sources(model_lib.TrainingTargets(config), settings.seed, start_batch,
                                                 settings.workers)
    train_data = pipeline.training_dataset(devices.strategy, settings.batch_size, training_source)
    first_batches = pipeline.first_batches(plain_source(pipeline.Slices(settings.batch_size)),
                                           data.calibration_batch_count(settings.batch_size,
                                                                        settings.calibration_batches))

    # Checkpoint adds the whole-captcha val_accuracy to the logs before EarlyStopping reads it.
    callbacks = [
        keras.callbacks.LearningRateScheduler(schedule.learning_rate_schedule(settings, state)),
        checkpoint.Checkpoint(settings, config, state, devices, [inputs for inputs, _ in first_batches],
                              *data.validation),
    ]
    if settings.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=settings.patience))
    if state["epoch"] < settings.epochs:
        fit_settings = dict(steps_per_epoch=settings.steps_per_epoch, epochs=settings.epochs,
                            initial_epoch=state["epoch"], callbacks=callbacks,
                            verbose=console.keras_verbosity(epoch_line_of_its_own=True))
        if devices.workers > 1:
            cluster_loop.fit(model, train_data, first_batches[0], **fit_settings)
        else:
            # The pipeline orders the captchas itself, reproducibly.
            model.fit(train_data, shuffle=False, **fit_settings)

    # The model, its final test, reports and export.
    final_path = os.path.join(settings.output, MODEL_FILE)
    model_file.save_model(model, config, devices.output_path(final_path))
    if not devices.chief:
        print("Trained; the chief writes the model and its reports.")
        return final_path
    # Read by Keras: the model as trained, whatever export an earlier run left in the folder.
    report = data.final_test(load_solver(final_path, runtime=runtime_lib.KERAS), settings.seed)
    if report is not None:
        print(report.summary())
    site, tested = data.recorded(report)
    if site is not None:
        model_file.save_model(model, dataclasses.replace(config, site=site), final_path)
    recipes.write_json(os.path.join(settings.output, "metrics.json"), {
        "architecture": config.architecture,
        "epochs": state["epoch"],
        "samples_seen": state["samples_seen"],
        "wall_seconds": round(state["wall_seconds"], 1),
        "device": devices.description,
        "precision": settings.precision,
        # The flags of the run's first start: the recipe, --emphasize and --init-from included.
        "args": state["args"],
        "history": state["history"],
        **tested,
    })
    evaluation.plot_training_curve(state["history"], os.path.join(settings.output, "training_curve.png"))
    print(f"Wrote {final_path}, metrics.json and training_curve.png.")
    onnx_folder = onnx_export.export_beside(final_path)
    if settings.push_to_hub:
        commit = hub.push(final_path, settings.push_to_hub, private=settings.private, onnx_folder=onnx_folder)
        print(f"Pushed to {commit.repo_url} at revision {commit.oid}.")
    return final_path
