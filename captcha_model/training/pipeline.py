"""Training batches as `tf.data` pipelines, fast enough to keep a GPU busy.

Two sources: a pool rendered once (`data.cached_dataset`), walked in a new seeded order
on every pass, and captchas rendered live by worker processes, never repeated. Either
way a batch is addressed by its global number, so a resumed run (`start_batch`) carries
on where the interrupted one stopped, and its captchas are a pure function of the seed.

Under a distribution strategy each input pipeline (one per machine) builds only its
replicas' slices of every global batch, so the machines of a cluster read disjoint
shards whose union is the batch a single machine would have read.
"""

import collections
import dataclasses
import multiprocessing

import numpy as np
import tensorflow as tf

from captcha_model.data import preprocessing, rendering

# Batches rendered ahead per live worker, so that no worker waits for the next request.
AHEAD_PER_WORKER = 2


@dataclasses.dataclass(frozen=True)
class Slices:
    """Which slices of each global batch one input pipeline builds.

    A global batch of `batch_size` captchas is split into `replicas` equal slices, one per
    replica; this pipeline builds the `per_pipeline` consecutive slices from `first`, one
    dataset element each.
    """

    batch_size: int
    replicas: int = 1
    first: int = 0
    per_pipeline: int = 1

    def __post_init__(self):
        if self.batch_size % self.replicas:
            raise ValueError(f"The batch size ({self.batch_size}) must be a multiple of the number of devices "
                             f"training together ({self.replicas}).")

    @property
    def slice_size(self):
        return self.batch_size // self.replicas

    def first_position(self, element):
        """Stream position of the first captcha of dataset element `element` (counted from batch 0)."""
        batch, slot = element // self.per_pipeline, self.first + element % self.per_pipeline
        return batch * self.batch_size + slot * self.slice_size


def _target_signature(config, make_targets, count):
    """The `tf.TensorSpec`s of `make_targets`' output for `count` captchas."""
    sample = make_targets(*preprocessing.encode_batch([config.charset[0] * config.min_length] * count, config))
    return tf.nest.map_structure(lambda array: tf.TensorSpec(array.shape, tf.as_dtype(array.dtype)), sample)


def pool_dataset(config, pool, make_targets, slices, seed=0, start_batch=0, augment=None):
    """Batches from a rendered pool (inputs, texts): every captcha once per pass, in an order seeded per pass.

    `augment(inputs, rng)` (see `captcha_model.augment`), where given, distorts each batch's
    inputs with a generator seeded by the seed and the batch, so a resumed run draws the same.
    """
    inputs, texts = pool
    targets = make_targets(*preprocessing.encode_batch(texts, config))
    size = len(inputs)
    signature = (tf.TensorSpec((slices.slice_size, *inputs.shape[1:]), tf.uint8),
                 _target_signature(config, make_targets, slices.slice_size))
    flat_signature = tf.nest.flatten(signature)

    def rows(element):
        positions = slices.first_position(element) + tf.range(slices.slice_size, dtype=tf.int64)
        passes = positions // size
        # A permutation per pass, computed index by index: nothing of pool size is shuffled. The
        # raw op, because tf.random.experimental.index_shuffle takes one seed for all indices
        # and a batch may span two passes.
        seeds = tf.stack([tf.fill(tf.shape(positions), tf.constant(seed, tf.int64)), passes,
                          tf.zeros_like(positions)], axis=1)
        return tf.raw_ops.RandomIndexShuffle(index=positions % size, seed=seeds,
                                             max_index=tf.constant(size - 1, tf.int64))

    def gather(row_indices, element):
        # NumPy gathers from the pool where it lies: a pool of several gigabytes never becomes
        # a TensorFlow constant (whose graphs stop at 2 GB).
        arrays = [np.asarray(array[row_indices]) for array in tf.nest.flatten((inputs, targets))]
        if augment is not None:
            arrays[0] = augment(arrays[0], np.random.default_rng([seed, int(element)]))
        return arrays

    def batch(element):
        arrays = tf.numpy_function(gather, [rows(element), element], [spec.dtype for spec in flat_signature])
        for array, spec in zip(arrays, flat_signature, strict=True):
            array.set_shape(spec.shape)
        return tf.nest.pack_sequence_as(signature, arrays)

    dataset = tf.data.Dataset.range(start_batch * slices.per_pipeline, np.iinfo(np.int64).max)
    return dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _live_batches(config, make_targets, slices, seed, start_batch, workers, emphasis):
    """Rendered batches in order, from `workers` processes that each render whole slices."""
    # Spawned workers start clean instead of inheriting a forked TensorFlow runtime.
    with multiprocessing.get_context("spawn").Pool(workers) as processes:
        pending, element = collections.deque(), start_batch * slices.per_pipeline
        while True:
            while len(pending) < AHEAD_PER_WORKER * workers:
                request = (config, seed, slices.first_position(element), slices.slice_size, emphasis)
                pending.append(processes.apply_async(rendering.render_range, request))
                element += 1
            inputs, texts = pending.popleft().get()
            yield inputs, make_targets(*preprocessing.encode_batch(texts, config))


def live_dataset(config, make_targets, slices, seed=0, start_batch=0, workers=1, emphasis=None):
    """Batches rendered afresh from the seeded stream: no captcha is ever seen twice."""
    signature = (
        tf.TensorSpec((slices.slice_size, config.input_height, config.input_width, config.input_channels), tf.uint8),
        _target_signature(config, make_targets, slices.slice_size),
    )
    dataset = tf.data.Dataset.from_generator(
        lambda: _live_batches(config, make_targets, slices, seed, start_batch, workers, emphasis),
        output_signature=signature,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def source(config, make_targets, seed, start_batch=0, pool=None, workers=1, emphasis=None, augment=None):
    """A function from `Slices` to the dataset of one pipeline: from `pool` where given (distorted by
    `augment` where given), else rendered live."""

    def build(slices):
        if pool is not None:
            return pool_dataset(config, pool, make_targets, slices, seed, start_batch, augment)
        return live_dataset(config, make_targets, slices, seed, start_batch, workers, emphasis)

    return build


def training_dataset(strategy, batch_size, build):
    """`build(slices)` for a single device, or distributed so that each pipeline builds its replicas' slices.

    `build` makes the `tf.data.Dataset` of one input pipeline from its `Slices`.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return build(Slices(batch_size))

    def pipeline(context):
        per_pipeline = replicas // context.num_input_pipelines
        return build(Slices(batch_size, replicas, context.input_pipeline_id * per_pipeline, per_pipeline))

    Slices(batch_size, replicas)  # Refuses a batch that does not split evenly, before any worker starts.
    return strategy.distribute_datasets_from_function(pipeline)


def first_batches(dataset, count):
    """The first `count` (inputs, targets) batches of a single-device dataset, as NumPy arrays."""
    return list(dataset.take(count).as_numpy_iterator())
