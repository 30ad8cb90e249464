"""The epoch loop that stands in for `Model.fit` on a cluster, run here on one machine's default strategy: it
trains, reports each epoch's metrics, calls the callbacks as fit does and stops when one asks it to."""

import keras
import numpy as np
import tensorflow as tf

from captcha_model.training import cluster_loop


class Epochs(keras.callbacks.Callback):
    """Records the epochs begun and ended, and stops training after `last`."""

    def __init__(self, last):
        super().__init__()
        self.last, self.begun, self.ended = last, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.ended.append((epoch, sorted(logs)))
        self.model.stop_training = epoch == self.last


def test_the_loop_trains_from_its_first_epoch_and_stops_when_a_callback_asks():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"], steps_per_execution=2)
    features = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    targets = features @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((features, targets)).batch(8).repeat()
    epochs = Epochs(last=3)
    history = cluster_loop.fit(model, dataset, next(iter(dataset)), steps_per_epoch=4, epochs=6, initial_epoch=1,
                               callbacks=[epochs], verbose=0)
    assert epochs.begun == [1, 2, 3] and [epoch for epoch, _ in epochs.ended] == [1, 2, 3]
    assert epochs.ended[0][1] == ["loss", "mae"]
    # Three epochs of four steps, two steps a call.
    assert int(model.optimizer.iterations) == 12
    losses = history.history["loss"]
    assert len(losses) == 3 and all(isinstance(loss, float) for loss in losses) and losses[-1] < losses[0]
