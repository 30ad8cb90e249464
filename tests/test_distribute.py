"""Device settings: what a GPU gets by default, mixed precision, and the checks on the flags."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from captcha_model.data import preprocessing, rendering
from captcha_model.networks import model as model_lib, model_file
from captcha_model.training import distribute, settings as settings_lib


def flags(**values):
    """The settings of a run with no flag but `values`, before the devices resolve them."""
    return dataclasses.replace(settings_lib.parse([]), **values)


@pytest.fixture
def restore_policy():
    yield
    keras.config.set_dtype_policy("float32")


def test_a_gpu_gets_a_larger_batch_mixed_precision_and_a_scaled_learning_rate(restore_policy, capsys):
    args = distribute.resolve_settings(flags(), distribute.Devices(tf.distribute.get_strategy(), "the GPU (test)", 1))
    assert (args.batch_size, args.steps_per_epoch, args.steps_per_execution) == (512, 125, 25)
    assert args.learning_rate == pytest.approx(2e-3 * np.sqrt(8))
    assert args.precision == "mixed_float16" and keras.config.dtype_policy().name == "mixed_float16"
    assert "Training on the GPU (test): mixed_float16, batch 512, learning rate 5.66e-03" in capsys.readouterr().out


def test_a_cpu_keeps_the_reference_settings_and_given_flags_win(restore_policy):
    cpu = distribute.Devices(tf.distribute.get_strategy(), "the CPU", 0)
    given = flags()
    args = distribute.resolve_settings(given, cpu)
    assert given.batch_size is None, "the settings given are left as they were"
    assert (args.batch_size, args.learning_rate, args.steps_per_epoch, args.steps_per_execution,
            args.precision) == (64, 2e-3, 1000, 1, "float32")
    args = distribute.resolve_settings(
        flags(batch_size=128, learning_rate=1e-3, steps_per_execution=10, precision="mixed_float16"), cpu)
    assert (args.batch_size, args.learning_rate, args.steps_per_epoch, args.steps_per_execution,
            args.precision) == (128, 1e-3, 500, 10, "mixed_float16")


def test_steps_per_execution_must_divide_an_epoch():
    with pytest.raises(ValueError, match=r"--steps-per-execution \(7\) must divide --steps-per-epoch \(100\)"):
        distribute.resolve_settings(flags(steps_per_epoch=100, steps_per_execution=7),
                                    distribute.Devices(tf.distribute.get_strategy(), "the CPU", 0))


@pytest.mark.slow
def test_mixed_precision_trains_with_float32_logits_and_saves_a_float32_model(restore_policy, tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    config = model_lib.default_config()
    network = model_lib.build_model(config)
    assert network.get_layer("stage1_1_conv").compute_dtype == "float16"
    assert network.output.dtype == "float32"
    inputs, texts = rendering.render_range(config, seed=5, start=0, count=8)
    targets = model_lib.TrainingTargets(config)(*preprocessing.encode_batch(texts, config))
    model_lib.compile_model(network, config, keras.optimizers.Adam(1e-3))
    assert isinstance(network.optimizer, keras.optimizers.LossScaleOptimizer)
    history = network.fit(inputs, targets, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model_file.save_model(network, config, tmp_path / "model.keras")
    keras.config.set_dtype_policy("float32")
    saved, _ = model_file.load_model(tmp_path / "model.keras")
    assert {layer.compute_dtype for layer in saved.layers if layer.weights} == {"float32"}
    np.testing.assert_allclose(saved.predict(inputs, verbose=0), network.predict(inputs, verbose=0), atol=0.1)
