"""The learning rate of each epoch: a linear warm-up, then constant or a cosine that ends with the run."""

import math


def learning_rate_schedule(settings, state):
    """The learning rate of each epoch: a linear warm-up over --warmup-epochs, then --schedule: constant, or a
    cosine down to zero at the last epoch or, with --max-minutes, at the time limit if that comes first.

    `state["wall_seconds"]` is the training time so far, which the run's checkpoints keep up to date.
    """
    peak, warmup = settings.learning_rate, settings.warmup_epochs

    def learning_rate(epoch, _current=None):
        if epoch < warmup:
            return peak * (epoch + 1) / (warmup + 1)
        if settings.schedule == "constant":
            return peak
        progress = (epoch - warmup) / max(1, settings.epochs - warmup)
        if settings.max_minutes:
            progress = max(progress, state["wall_seconds"] / (settings.max_minutes * 60))
        return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return learning_rate
