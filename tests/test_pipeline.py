"""The tf.data training pipelines: seeded, resumable, sharded without overlap, live or from a pool."""

import numpy as np
import pytest
import tensorflow as tf

from captcha_model.config import CaptchaConfig
from captcha_model.data import preprocessing, rendering
from captcha_model.training import pipeline

CONFIG = CaptchaConfig()


def labels_only(labels, lengths):
    return labels


def batches(dataset, count):
    return [(inputs.numpy(), labels.numpy()) for inputs, labels in dataset.take(count)]


def numbered_pool(size):
    """A pool whose captcha i has pixel value i and text f'{i:04d}', so a batch says which rows it took."""
    return np.arange(size, dtype=np.uint8).reshape(size, 1, 1, 1), [f"{index:04d}" for index in range(size)]


def test_the_pool_is_visited_once_per_pass_in_a_new_order_each_time():
    pool = numbered_pool(10)
    stream = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(5), seed=1), 4)
    passes = [np.concatenate([stream[0][0], stream[1][0]]).ravel(),
              np.concatenate([stream[2][0], stream[3][0]]).ravel()]
    assert sorted(passes[0].tolist()) == sorted(passes[1].tolist()) == list(range(10))
    assert passes[0].tolist() != passes[1].tolist()
    # Each captcha keeps its own label.
    inputs, labels = stream[0]
    assert [preprocessing.decode_indices(row, CONFIG) for row in labels] == [pool[1][value] for value in inputs.ravel()]
    # The order is the seed's: the same again, another with another seed.
    again = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(5), seed=1), 1)
    other = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(5), seed=2), 1)
    assert np.array_equal(again[0][0], stream[0][0]) and not np.array_equal(other[0][0], stream[0][0])


def test_a_resumed_pool_stream_carries_on_where_it_stopped():
    pool = numbered_pool(7)
    stream = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(3), seed=4), 5)
    resumed = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(3), seed=4, start_batch=3), 2)
    for (inputs, labels), (expected_inputs, expected_labels) in zip(resumed, stream[3:]):
        assert np.array_equal(inputs, expected_inputs) and np.array_equal(labels, expected_labels)


def test_the_slices_of_four_replicas_on_two_pipelines_make_up_the_single_device_batches():
    pool = numbered_pool(20)
    whole = batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(8), seed=3, start_batch=1), 3)
    pipelines = [batches(pipeline.pool_dataset(CONFIG, pool, labels_only, pipeline.Slices(8, 4, first, 2), seed=3,
                                               start_batch=1), 6) for first in (0, 2)]
    for batch in range(3):
        slices = [pipelines[0][2 * batch], pipelines[0][2 * batch + 1], pipelines[1][2 * batch],
                  pipelines[1][2 * batch + 1]]
        assert np.array_equal(np.concatenate([inputs for inputs, _ in slices]), whole[batch][0])


def test_a_batch_that_does_not_split_over_the_devices_is_refused():
    with pytest.raises(ValueError, match=r"batch size \(10\) must be a multiple of the number of devices .* \(4\)"):
        pipeline.Slices(10, 4)


def test_live_batches_render_the_seeded_stream_in_two_processes():
    emphasis = rendering.Emphasis("0O")
    slices = pipeline.Slices(4, 2, 1)
    dataset = pipeline.live_dataset(CONFIG, labels_only, slices, seed=9, start_batch=1, workers=2, emphasis=emphasis)
    stream = batches(dataset, 3)
    for element, (inputs, labels) in enumerate(stream):
        # Element 0 of a pipeline starting at batch 1 is batch 1's second slice: captchas 6 and 7.
        start = (1 + element) * 4 + 2
        expected, texts = rendering.render_range(CONFIG, seed=9, start=start, count=2, emphasis=emphasis)
        assert np.array_equal(inputs, expected)
        assert [preprocessing.decode_indices(row, CONFIG) for row in labels] == texts


def test_a_single_device_gets_a_plain_dataset_of_whole_batches():
    def build(slices):
        return tf.data.Dataset.from_tensors(tf.fill([slices.slice_size], slices.first)).repeat()

    single = pipeline.training_dataset(tf.distribute.get_strategy(), 6, build)
    assert isinstance(single, tf.data.Dataset)
    inputs, targets = pipeline.first_batches(single.map(lambda values: (values, values + 1)), 2)[1]
    assert inputs.tolist() == [0] * 6 and targets.tolist() == [1] * 6
