"""Where training runs: the devices, their distribution strategy, precision and the batch they share.

With `TF_CONFIG` set, the machines it names train one model together
(`tf.distribute.MultiWorkerMirroredStrategy`); a worker whose peers do not all join
within the cluster timeout stops with an error instead of training alone.

On a GPU training defaults to a larger batch (with the learning rate and the steps per
epoch scaled to it, so an epoch still holds the same number of captchas), mixed
precision and several steps per call into the device; on a CPU it keeps the reference
settings the bundled models were trained with.
"""

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile

import keras
import tensorflow as tf

from captcha_model.training import stop_signals

# The reference settings: the bundled models' recipes were tuned at this batch size.
REFERENCE_BATCH = 64
REFERENCE_LEARNING_RATE = 2e-3
REFERENCE_STEPS_PER_EPOCH = 1000
# A GPU needs large batches to be kept busy by networks this small.
GPU_BATCH_PER_DEVICE = 512
# Steps run per call into a GPU at most: fewer round trips to Python, and callbacks only
# act at the end of an epoch anyway.
GPU_STEPS_PER_EXECUTION = 32
PRECISIONS = ("auto", "float32", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class Devices:
    """The strategy training runs under and words for what it runs on.

    `chief` is False on the workers of a cluster that must not write the model, metrics
    or checkpoints (the chief does), `workers` the number of machines training together.
    """

    strategy: tf.distribute.Strategy
    description: str
    gpus: int
    chief: bool = True
    workers: int = 1

    def output_path(self, path):
        """`path` on the chief; elsewhere a scratch path, for saves every worker must make together.

        A worker's scratch folder is one per process, so each save replaces the one before.
        """
        if self.chief:
            return path
        scratch = os.path.join(tempfile.gettempdir(), f"captcha-worker-{os.getpid()}")
        os.makedirs(scratch, exist_ok=True)
        return os.path.join(scratch, os.path.basename(path))

    def any_worker(self, flag):
        """True where `flag` is True on any worker, so that all of them take the same decision."""
        if self.workers == 1:
            return flag
        per_replica = self.strategy.run(lambda: tf.constant(float(flag)))
        return bool(self.strategy.reduce("SUM", per_replica, axis=None) > 0)


def usable_cores():
    """The CPU cores this process may run on (fewer than the machine's where it is confined)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def choose_devices(cpu_devices=0, cluster_timeout=300):
    """The cluster of TF_CONFIG where set; else mirror over all GPUs when there are several, else use the one device.

    `cpu_devices` > 1 splits the CPU into that many logical devices and mirrors over them,
    which exercises the distributed path where there is no GPU.
    """
    if os.environ.get("TF_CONFIG"):
        return join_cluster(cluster_timeout)
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return Devices(tf.distribute.MirroredStrategy(devices), f"{len(devices)} logical CPU devices, mirrored", 0)
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return Devices(tf.distribute.MirroredStrategy(), f"{len(gpus)} GPUs, mirrored", len(gpus))
    if gpus:
        return Devices(tf.distribute.get_strategy(), f"the GPU ({gpus[0].name})", 1)
    return Devices(tf.distribute.get_strategy(), f"the CPU ({usable_cores()} cores); no GPU is visible", 0)


# Run as `python -c WATCHDOG PID SECONDS MESSAGE`: unless its standard input closes within
# SECONDS, print MESSAGE and kill process PID.
WATCHDOG = """
import os, select, signal, sys
parent, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if not select.select([sys.stdin], [], [], seconds)[0]:
    print(message, file=sys.stderr, flush=True)
    os.kill(parent, signal.SIGKILL)
"""


def join_cluster(timeout):
    """`MultiWorkerMirroredStrategy` over the cluster in TF_CONFIG, once every worker has joined.

    TensorFlow waits for missing workers for an hour before it fails, deaf to SIGTERM; this process
    is stopped after `timeout` seconds with an error naming the cluster (and by its guard process
    on SIGTERM or SIGINT: see `stop_signals`). The same timeout bounds every collective operation,
    so a worker whose peer dies in training stops too.
    """
    try:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        jobs = resolver.cluster_spec().as_dict()
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG must be JSON with a 'cluster' of 'worker' (and 'chief') addresses and this "
                         f"process's 'task', e.g. {{\"cluster\": {{\"worker\": [\"host1:2222\", \"host2:2222\"]}}, "
                         f"\"task\": {{\"type\": \"worker\", \"index\": 0}}}}; got {os.environ['TF_CONFIG']!r} "
                         f"({error}).") from None
    task_type, task_id = resolver.task_type, resolver.task_id
    workers = sum(len(jobs.get(job, ())) for job in ("chief", "worker"))
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in jobs)

    message = (f"error: {task_type} {task_id} waited {timeout:g} s for the other workers of the cluster in TF_CONFIG "
               f"({json.dumps(jobs)}) and not all of them joined; start every worker (--cluster-timeout sets the "
               f"wait).")
    # TensorFlow waits inside a call that holds the interpreter, so no thread of this process could give
    # up: a watchdog process does, unless told in time. A session of its own keeps it out of the signals
    # sent to this process's group (as by Ctrl-C), which its guard acts on.
    watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(timeout), message],
                                stdin=subprocess.PIPE, start_new_session=True)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver,
            communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout),
        )
        # A first collective operation returns once every worker has joined.
        strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
    finally:
        watchdog.stdin.close()
        watchdog.wait()
    stop_signals.stop_on_sigterm()
    description = (f"{workers} machines ({task_type} {task_id}{', the chief' if chief else ''}), "
                   f"{strategy.num_replicas_in_sync} devices in all, MultiWorkerMirroredStrategy")
    gpus = len(tf.config.list_physical_devices("GPU"))
    return Devices(strategy, description, gpus, chief, workers)


def largest_divisor(number, limit):
    """The largest divisor of `number` that is at most `limit`."""
    return max(divisor for divisor in range(1, min(number, limit) + 1) if number % divisor == 0)


def resolve_settings(settings, devices):
    """`settings` with the values left to the devices (None or 'auto') filled in; sets the Keras precision policy.

    The batch defaults to 512 per GPU (64 on a CPU); the learning rate to the reference
    one times the square root of the batch's ratio to 64, the usual scaling for Adam; the
    steps per epoch to 64,000 captchas' worth. `settings` is any dataclass with those fields
    (`captcha_model.training.settings.Settings`); it is left as it was.
    """
    batch_size = settings.batch_size
    if batch_size is None:
        batch_size = GPU_BATCH_PER_DEVICE * devices.gpus if devices.gpus else REFERENCE_BATCH
    ratio = batch_size / REFERENCE_BATCH
    learning_rate = settings.learning_rate
    if learning_rate is None:
        learning_rate = REFERENCE_LEARNING_RATE * math.sqrt(ratio)
    steps_per_epoch = settings.steps_per_epoch or max(1, round(REFERENCE_STEPS_PER_EPOCH / ratio))
    steps_per_execution = settings.steps_per_execution
    if steps_per_execution is None:
        steps_per_execution = largest_divisor(steps_per_epoch, GPU_STEPS_PER_EXECUTION) if devices.gpus else 1
    if steps_per_epoch % steps_per_execution:
        raise ValueError(f"--steps-per-execution ({steps_per_execution}) must divide --steps-per-epoch "
                         f"({steps_per_epoch}), so that every epoch ends where a call into the device does.")
    precision = settings.precision
    if precision == "auto":
        precision = "mixed_float16" if devices.gpus else "float32"
    # Layers built from here on compute in this precision; the networks keep their logits in float32.
    keras.config.set_dtype_policy(precision)
    replicas = devices.strategy.num_replicas_in_sync
    print(f"Training on {devices.description}: {precision}, batch {batch_size}"
          + (f" ({batch_size // replicas} per device)" if replicas > 1 else "")
          + f", learning rate {learning_rate:.2e}, {steps_per_epoch} steps per epoch"
          + f", {steps_per_execution} per call.", flush=True)
    return dataclasses.replace(settings, batch_size=batch_size, learning_rate=learning_rate,
                               steps_per_epoch=steps_per_epoch, steps_per_execution=steps_per_execution,
                               precision=precision)
