"""The generation and throughput sections: how fast captchas render, and how fast train.py's pipelines train.

The generation section renders a dataset with one and with two worker processes. The
throughput section trains the default network for a few timed epochs from each pipeline of
`captcha_model.pipeline`, with the settings train.py would pick here (on a GPU: its
batch, mixed precision and steps per execution), and measures how many captchas one
core renders per second, which bounds a run on fresh captchas: the live pipeline can
feed at most that rate times its worker processes.
"""

import argparse
import os
import time

import keras

from captcha_model.data import rendering
from captcha_model.networks import model as model_lib
from captcha_model.training import distribute, pipeline

SEED = 7_400_000
GENERATION_SEED = 7_000_000


def measure_generation(bench):
    """{worker processes: captchas rendered per second}, with one worker and with two."""
    count, rates = 600 if bench.args.quick else 4000, {}
    for workers in (1, 2):
        started = time.perf_counter()
        rendering.render_dataset(model_lib.default_config(), seed=GENERATION_SEED, count=count, workers=workers,
                            progress=False)
        rates[workers] = count / (time.perf_counter() - started)
    return rates, []


def generation_lines(rates):
    return (["## Data generation", "", "| worker processes | captchas/s |", "|---|---|"]
            + [f"| {workers} | {rate:.0f} |" for workers, rate in rates.items()])


def render_rate(config, count):
    """Captchas rendered and preprocessed per second by one process."""
    started = time.perf_counter()
    rendering.render_range(config, SEED, 0, count)
    return count / (time.perf_counter() - started)


def training_rate(config, settings, devices, build, steps):
    """Captchas per second that `fit` trains on from the pipeline `build`, after a warm-up epoch."""
    keras.utils.set_random_seed(0)
    with devices.strategy.scope():
        network = model_lib.build_model(config)
        model_lib.compile_model(network, config, keras.optimizers.Adam(settings.learning_rate),
                                steps_per_execution=settings.steps_per_execution)
    dataset = pipeline.training_dataset(devices.strategy, settings.batch_size, build)
    timings = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            timings.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            timings[-1] = time.perf_counter() - timings[-1]

    # The first epoch compiles the step and fills the pipeline; the faster of the next two counts,
    # since other work on a shared machine only ever slows an epoch down.
    network.fit(dataset, steps_per_epoch=steps, epochs=3, callbacks=[Timer()], verbose=0, shuffle=False)
    return steps * settings.batch_size / min(timings[1:])


def measure(bench):
    """Rendering and training rates, with the settings they were measured with; no saved model is read."""
    quick = bench.args.quick
    load_average = os.getloadavg()[0]
    devices = distribute.choose_devices()
    steps = 10 if quick else 40
    settings = argparse.Namespace(batch_size=None, learning_rate=None, steps_per_epoch=steps,
                                  steps_per_execution=None, precision="auto")
    distribute.resolve_settings(settings, devices)
    config = model_lib.default_config()
    targets = model_lib.TrainingTargets(config)
    workers = distribute.usable_cores()
    pool = rendering.render_dataset(config, SEED, max(2048, 2 * steps * settings.batch_size), workers=workers,
                               progress=False)
    rates = {
        "pool": training_rate(config, settings, devices, pipeline.source(config, targets, SEED, pool=pool), steps),
        "live": training_rate(config, settings, devices,
                              pipeline.source(config, targets, SEED, workers=workers), steps),
    }
    keras.config.set_dtype_policy("float32")
    return {"devices": devices.description, "load_average": load_average, "precision": settings.precision,
            "batch_size": settings.batch_size,
            "steps_per_execution": settings.steps_per_execution, "timed_steps": steps, "workers": workers,
            "render_per_core": render_rate(config, 200 if quick else 1000), "training": rates}, []


def lines(results):
    """The section of bench/RESULTS.md."""
    bound = results["render_per_core"] * results["workers"]
    return [
        "## Training throughput", "",
        f"The default network trained with the settings train.py picks on {results['devices']}: "
        f"{results['precision']}, batch {results['batch_size']}, steps per call {results['steps_per_execution']}. "
        f"Each figure is the faster of two epochs of {results['timed_steps']} steps after a warm-up epoch; the "
        f"machine's load average was {results['load_average']:.1f} when the section started.", "",
        "| pipeline | captchas trained on per second |", "|---|---|",
        f"| rendered pool (`--train-size N`) | {results['training']['pool']:.0f} |",
        f"| rendered live by {results['workers']} worker processes (`--train-size 0`) | "
        f"{results['training']['live']:.0f} |", "",
        f"One core renders {results['render_per_core']:.0f} captchas per second, so training on fresh captchas "
        f"here cannot go faster than {bound:.0f} per second ({results['workers']} cores), and less while the "
        "cores also train; a pool costs that rendering once.",
    ]
