"""Training compiles with XLA (as Keras does by itself on a GPU): the networks, the referee, the metric."""

import keras
import numpy as np
import pytest
from keras import ops

from captcha_model.config import RefereeConfig
from captcha_model.data import preprocessing, rendering
from captcha_model.networks import model as model_lib, referee as referee_lib


@pytest.fixture(autouse=True, scope="module")
def fresh_keras_session():
    """XLA compiles up to twice as slowly in a process that has already traced many functions (earlier tests'),
    and a fresh Keras session gives it back its speed."""
    keras.backend.clear_session()


def ctc_decode_matches(targets, logits, blank):
    """Whole-captcha matches as CTCExactMatch measured them with ops.ctc_decode, which XLA cannot compile."""
    batch_size, frames = logits.shape[:2]
    decoded, _ = ops.ctc_decode(logits, ops.full((batch_size,), frames, dtype="int32"), mask_index=blank)
    padded = np.concatenate([targets, np.full((batch_size, frames - targets.shape[1]), -1)], axis=1)
    return np.all(ops.convert_to_numpy(decoded[0]) == padded, axis=1)


def test_greedy_matches_agree_with_ctc_decode_on_random_logits():
    rng = np.random.default_rng(0)
    blank, frames, max_length = 4, 9, 9
    # Few classes, so that repeats, blanks between repeats and all-blank readings are frequent.
    logits = rng.normal(size=(4000, frames, blank + 1)).astype("float32")
    decoded, _ = ops.ctc_decode(logits, ops.full((len(logits),), frames, dtype="int32"), mask_index=blank)
    readings = [[int(value) for value in row if value >= 0] for row in ops.convert_to_numpy(decoded[0])]
    targets = np.full((len(logits), max_length), -1)
    for row, reading in enumerate(readings):
        # The reading itself, or one character changed, dropped or added, or a random text.
        change = row % 5
        text = list(reading)
        if change == 1 and text:
            text[rng.integers(len(text))] = (text[0] + 1) % blank
        elif change == 2 and text:
            text.pop()
        elif change == 3:
            text.append(int(rng.integers(blank)))
        elif change == 4:
            text = list(rng.integers(blank, size=rng.integers(1, max_length + 1)))
        text = text[:max_length]
        targets[row, : len(text)] = text
    expected = ctc_decode_matches(targets, logits, blank)
    actual = ops.convert_to_numpy(model_lib.greedy_ctc_matches(targets, logits, blank))
    assert 0.1 < expected.mean() < 0.9  # both kinds of case are well represented
    np.testing.assert_array_equal(actual, expected)
    metric = model_lib.CTCExactMatch(blank)
    metric.update_state(targets, logits)
    assert float(metric.result()) == pytest.approx(expected.mean())


def train_with_xla(network, inputs, targets, compile_network):
    compile_network(network, keras.optimizers.Adam(1e-3), jit_compile=True)
    assert network.jit_compile is True
    history = network.fit(inputs, targets, batch_size=4, epochs=2, verbose=0)
    assert all(np.isfinite(values).all() for values in history.history.values())
    return history.history


# The ctc network holds every kind of layer of the default and seed ones (convolutions, BatchNorm, pooling,
# dropout, dense), a GRU and the CTC loss besides; compiling the others too would cost many seconds of the suite.
@pytest.mark.slow
def test_the_ctc_network_trains_with_xla():
    keras.utils.set_random_seed(0)
    config = model_lib.default_config("ctc", captcha_width_range=(), captcha_height_range=(), min_length=2,
                                      max_length=4)
    inputs, texts = rendering.render_range(config, seed=3, start=0, count=8)
    targets = model_lib.TrainingTargets(config)(*preprocessing.encode_batch(texts, config))
    network = model_lib.build_model(config)
    history = train_with_xla(network, inputs, targets,
                             lambda network, optimizer, **options: model_lib.compile_model(
                                 network, config, optimizer, **options))
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.slow
def test_the_referee_trains_with_xla():
    keras.utils.set_random_seed(0)
    config = model_lib.default_config()
    referee_config = RefereeConfig()
    referee = referee_lib.build_referee(config, referee_config)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(16, config.input_height, referee_config.crop_width, 1), dtype=np.uint8)
    labels = (np.arange(16) % 2).astype("float32")
    history = train_with_xla(referee, crops, labels, referee_lib.compile_referee)
    assert "accuracy" in history
