"""The stream of training batches that Keras' `fit` reads: `CaptchaStream`."""

import keras
import numpy as np

from captcha_model.data import encode_batch, render_range


class CaptchaStream(keras.utils.PyDataset):
    """An endless stream of training batches, addressed by global batch number.

    With `pool=None` every batch is freshly rendered from the seeded stream, so
    worker processes can draw any batch and the model never sees a captcha twice.
    With a pool (inputs, texts) from `cached_dataset`, batches walk through the pool
    in a new seeded order on every pass, which costs no rendering at all. Either way,
    `start_batch` lets a resumed run carry on where the interrupted one stopped.
    `emphasis` shapes the texts of freshly rendered batches; a pool brings its own.
    `augment(inputs, rng)` (see `captcha_model.augment`) distorts each training batch.
    """

    def __init__(self, config, batch_size, make_targets, seed=0, pool=None, start_batch=0, emphasis=None,
                 augment=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.emphasis = emphasis
        self.augment = augment
        self.batch_size = batch_size
        self.make_targets = make_targets
        self.seed = seed
        self.start_batch = start_batch
        self.pool_inputs = self.pool_labels = self.pool_lengths = None
        if pool is not None:
            self.pool_inputs = pool[0]
            self.pool_labels, self.pool_lengths = encode_batch(pool[1], config)
        self._order_pass, self._order = None, None

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return self.batch(index, augmented=True)

    def batch(self, index, augmented=False):
        """The `index`-th batch (inputs, targets); `augmented` applies `augment`, which `fit` always asks for."""
        batch = self.start_batch + index
        if self.pool_inputs is None:
            inputs, texts = render_range(
                self.config, self.seed, batch * self.batch_size, self.batch_size, self.emphasis
            )
            labels, lengths = encode_batch(texts, self.config)
        else:
            rows = self._pool_rows(batch)
            inputs, labels, lengths = self.pool_inputs[rows], self.pool_labels[rows], self.pool_lengths[rows]
        if augmented and self.augment is not None:
            inputs = self.augment(inputs, np.random.default_rng([self.seed, batch]))
        return inputs, self.make_targets(labels, lengths)

    def _pool_rows(self, batch):
        size = len(self.pool_inputs)
        positions = batch * self.batch_size + np.arange(self.batch_size)
        rows = np.empty(self.batch_size, dtype=np.int64)
        for pass_number in np.unique(positions // size):
            if self._order_pass != pass_number:
                self._order = np.random.default_rng([self.seed, int(pass_number)]).permutation(size)
                self._order_pass = pass_number
            selected = positions // size == pass_number
            rows[selected] = self._order[positions[selected] % size]
        return rows
