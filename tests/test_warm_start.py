"""Warm starts (`--init-from`): copied and widened weights, the charset-mapped output, and a real short run."""

import dataclasses

import keras
import numpy as np
import pytest

from captcha_model.data import preprocessing, rendering
from captcha_model.networks import model as model_lib, model_file
from captcha_model.reading import evaluation
from captcha_model.reading.solver import BUNDLED_MODEL, Solver
from captcha_model.training import warm_start


@pytest.mark.slow
def test_a_warm_started_ctc_model_learns_variable_length_text():
    """From the bundled default model's trunk, a few hundred captchas of 1-3 characters teach the
    ctc architecture to read fresh ones: a real, if short, training run."""
    keras.utils.set_random_seed(0)
    config = model_lib.default_config("ctc", min_length=1, max_length=3, captcha_width_range=(),
                                      captcha_height_range=())
    inputs, texts = rendering.render_range(config, seed=11, start=0, count=512)
    targets = model_lib.TrainingTargets(config)(*preprocessing.encode_batch(texts, config))
    network = model_lib.build_model(config)
    warm_start.warm_start(network, BUNDLED_MODEL)
    solver = Solver(model_lib.KerasNetwork(network), config, "a model in training")
    test_inputs, test_texts = rendering.render_range(config, seed=12, start=0, count=200)
    before = evaluation.evaluate_arrays(solver, test_inputs, test_texts, "fresh captchas").accuracy
    model_lib.compile_model(network, config, keras.optimizers.Adam(1e-3))
    network.fit(inputs, targets, batch_size=32, epochs=4, verbose=0)
    model_lib.recalibrate_batch_norm(network, [inputs[start : start + 64] for start in range(0, 512, 64)])
    # A Solver reads with the weights its model had when it was made.
    solver = Solver(model_lib.KerasNetwork(network), config, "the trained model")
    after = evaluation.evaluate_arrays(solver, test_inputs, test_texts, "fresh captchas").accuracy
    assert before < 0.05 and after > before + 0.1
    assert {len(reading.text) for reading in solver.solve_inputs(test_inputs)} >= {1, 2, 3}


def test_warm_start_needs_a_matching_layer(tmp_path):
    seed_config = model_lib.default_config("seed")
    with pytest.raises(ValueError, match="no layer of it has a name and shape"):
        warm_start.warm_start(model_lib.build_model(seed_config), BUNDLED_MODEL)


def test_widen_keeps_the_source_in_the_leading_slices_and_silences_new_inputs():
    source = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)  # a 1x1 kernel from 2 channels to 3
    fresh = np.full((1, 1, 3, 4), 9.0)  # to 4 channels from 3
    widened = warm_start.widen(source, fresh)
    assert np.array_equal(widened[..., :2, :3], source)
    assert (widened[..., 2, :] == 0).all()  # the new input channel contributes nothing
    assert (widened[..., :2, 3] == 9).all()  # the new output channel keeps its initialisation
    assert np.array_equal(warm_start.widen(np.ones(2), np.zeros(3)), [1, 1, 0])
    assert warm_start.widen(np.ones(3), np.zeros(2)) is None


def test_a_model_warm_started_from_a_narrower_one_computes_what_it_did():
    """--init-from a model with a narrower trunk: same outputs, so training starts where that model stands."""
    source, config = model_file.load_model(BUNDLED_MODEL)
    wider = model_lib.build_model(dataclasses.replace(config, trunk_widths=(24, 48, 80, 128)))
    warm_start.warm_start(wider, BUNDLED_MODEL)
    inputs, _ = rendering.render_range(config, seed=13, start=0, count=16)
    np.testing.assert_allclose(wider.predict(inputs, verbose=0), source.predict(inputs, verbose=0), atol=1e-5)
    assert wider.count_params() > source.count_params()


def test_the_output_layer_keeps_the_trained_columns_of_the_characters_both_charsets_read():
    kernel = np.arange(12.0).reshape(2, 6)  # 5 characters "ABCDE" and the blank, from 2 features
    bias = np.arange(6.0)
    fresh = [np.full((2, 4), -1.0), np.full(4, -1.0)]  # for "CAX" and the blank
    new_kernel, new_bias = warm_start.output_for_charset([kernel, bias], fresh, "ABCDE", "CAX")
    assert new_kernel.tolist() == [[2, 0, -1, 5], [8, 6, -1, 11]]
    assert new_bias.tolist() == [2, 0, -1, 5]
