"""`Model.fit`'s epoch loop for a cluster of machines (`tf.distribute.MultiWorkerMirroredStrategy`).

Keras 3's `fit` does not support that strategy (keras-team/keras#20585): before training
it averages the first batch of the distributed dataset across workers to build the
model, which the strategy's collective reduction refuses for an (inputs, targets) pair,
and its compiled step averages scalar metrics along an axis they do not have. This loop
runs the model's own `train_step` on every device (`strategy.run`; the optimizer sums
the gradients across the cluster), averages the metrics itself, calls the same
callbacks as `fit`, and builds the model from one local batch.
"""

import keras
import numpy as np
import tensorflow as tf


def fit(model, dataset, local_batch, steps_per_epoch, epochs, initial_epoch=0, callbacks=(), verbose=1):
    """Train `model` on the distributed `dataset` as `model.fit(dataset, ...)` would; returns its History.

    `local_batch` is one (inputs, targets) batch on this machine, from which the loss,
    metrics and optimizer are built before the first step.
    """
    # Builds what fit's first step would otherwise build inside the replicas, where the
    # strategy forbids creating variables. A private method, pinned by requirements.txt.
    model._maybe_symbolic_build(data_batch=local_batch)
    history = keras.callbacks.History()
    callbacks = keras.callbacks.CallbackList(
        [*callbacks, history], add_progbar=verbose != 0, verbose=verbose, epochs=epochs, steps=steps_per_epoch,
        model=model,
    )
    model.stop_training = False
    train_function = _train_function(model)
    # One iterator for the whole run, as fit keeps one when given steps_per_epoch.
    iterator = iter(dataset)
    steps_per_execution = model.steps_per_execution
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs = {}
        for begin_step in range(0, steps_per_epoch, steps_per_execution):
            callbacks.on_train_batch_begin(begin_step)
            logs = train_function(iterator)
            callbacks.on_train_batch_end(begin_step + steps_per_execution - 1, logs)
        epoch_logs = {name: float(np.asarray(value)) for name, value in logs.items()}
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callbacks.on_train_end()
    return history


def _train_function(model):
    """One call: `model.steps_per_execution` training steps on every device, then the metrics averaged over them."""
    strategy = model.distribute_strategy

    @tf.function
    def train_steps(iterator):
        for _ in range(model.steps_per_execution):
            logs = strategy.run(model.train_step, args=(next(iterator),))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    return train_steps
