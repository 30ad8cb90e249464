"""The 0/O referee: its crops, its decisions, its place inside a model file, and its training stage."""

import io
import json
import os
import zipfile

import keras
import numpy as np
import pytest

from captcha_model import load_solver
from captcha_model.config import REFEREE_CONFIG_ENTRY, REFEREE_MODEL_ENTRY, RefereeConfig
from captcha_model.data import preprocessing, rendering, seeds
from captcha_model.networks import model as model_lib, model_file, referee as referee_lib
from captcha_model.reading import adjudication, decoding, keras_runtime
from captcha_model.training import referee_stage


@pytest.fixture
def small_model(tmp_path):
    """An untrained default-architecture model saved by save_model: its path and config."""
    config = model_lib.default_config("default", trunk_widths=(4, 4, 8, 8))
    path = tmp_path / "main.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    return path, config


def constant_referee(config, referee_config, logit):
    """A real referee network whose logit is `logit` for any glyph."""
    referee = referee_lib.build_referee(config, referee_config)
    kernel, bias = referee.get_layer("logit").get_weights()
    referee.get_layer("logit").set_weights([np.zeros_like(kernel), np.full_like(bias, logit)])
    return referee


@pytest.mark.parametrize("characters", ["0", "00", "0OQ"])
def test_a_referee_needs_two_different_characters(characters):
    with pytest.raises(ValueError, match="two different characters"):
        RefereeConfig(characters=characters)


def test_referee_config_round_trips_through_json():
    referee_config = RefereeConfig(characters="5S", crop_width=20, widths=[8, 16, 32], main_weight=1.3)
    assert RefereeConfig.from_json(referee_config.to_json()) == referee_config


def test_column_centres_and_crops_know_their_pixels():
    # 11 columns over 88 pixels: column 5 is pixels 40-47, so its middle is 44.
    np.testing.assert_array_equal(adjudication.column_centers([5, 0], [5, 1], 88, 11), [44.0, 8.0])
    inputs = np.arange(2 * 3 * 10, dtype=np.uint8).reshape(2, 3, 10, 1)
    crops = adjudication.crop_glyphs(inputs, rows=[1, 0], centers=[5.0, 1.0], width=4)
    assert crops.shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(crops[0, :, :, 0], inputs[1, :, 3:7, 0])
    # A crop past the left edge is white where there is no image.
    np.testing.assert_array_equal(crops[1, :, :1, 0], 255)
    np.testing.assert_array_equal(crops[1, :, 1:, 0], inputs[0, :, 0:3, 0])


def test_crops_are_the_pixels_around_their_centres_or_white():
    random = np.random.default_rng(0)
    inputs = random.integers(0, 255, (3, 4, 20, 1), dtype=np.uint8)
    rows, centers = random.integers(0, 3, 200), random.uniform(-30.0, 50.0, 200)
    crops = adjudication.crop_glyphs(inputs, rows, centers, width=6)
    for crop, row, center in zip(crops, rows, centers):
        # Pixel by pixel: column left + k of the image, or white where there is none.
        left = round(center - 3)
        expected = [inputs[row, :, column] if 0 <= column < 20 else np.full((4, 1), 255)
                    for column in range(left, left + 6)]
        np.testing.assert_array_equal(crop, np.stack(expected, axis=1))


def test_fit_main_weight_finds_the_weight_that_decides_best():
    labels = np.array([1.0, 1.0, 0.0, 0.0])
    referee_logits = np.array([-1.0, 2.0, 0.5, -2.0])
    margins = np.array([3.0, 1.0, -3.0, -1.0])
    weight, accuracy = referee_stage.fit_main_weight(referee_logits, margins, labels, weights=np.array([0.0, 0.5, 1.0]))
    # Weight 0 gets 2 of 4 right; 0.5 gets all four: -1 + 1.5 > 0 and 0.5 - 1.5 < 0.
    assert (weight, accuracy) == (0.5, 1.0)


def test_adjudicate_lets_the_stronger_opinion_decide(solver):
    config = solver.config
    zero, letter, blank = config.charset.index("0"), config.charset.index("O"), config.num_classes
    # One image of 11 columns reading "A", "B", "0" and "C" in columns 1, 3, 5 and 8, with
    # a margin of 2 for "0" against "O" in column 5; blanks everywhere else.
    outputs = np.full((1, 11, config.num_classes + 1), -10.0)
    outputs[0, :, blank] = 5.0
    for column, character in ((1, "A"), (3, "B"), (8, "C")):
        outputs[0, column, config.charset.index(character)], outputs[0, column, blank] = 5.0, -10.0
    outputs[0, 5, zero], outputs[0, 5, letter], outputs[0, 5, blank] = 6.0, 4.0, -10.0
    characters = decoding.read_characters(outputs, config)
    assert [config.charset[index] for index, _, _ in characters.per_image()[0]] == list("AB0C")
    inputs = np.full((1, config.input_height, config.input_width, 1), 255, dtype=np.uint8)

    def read(logit, main_weight):
        referee_config = RefereeConfig(main_weight=main_weight)
        network = model_lib.KerasNetwork(constant_referee(config, referee_config, logit))
        referee = adjudication.Referee(network, config, referee_config)
        return referee.adjudicate(inputs, outputs, characters).per_image()[0]

    # A referee sure of "O" (logit 5) outweighs the main margin of 2 at weight 1, not at weight 3.
    index, frames, confidence = read(5.0, 1.0)[2]
    assert index == letter and frames == (5,)
    column = outputs[0, 5]
    pair_probability = (np.exp(column[zero]) + np.exp(column[letter])) / np.exp(column).sum()
    assert confidence == pytest.approx(pair_probability / (1 + np.exp(-3.0)), rel=1e-5)
    assert read(5.0, 3.0)[2][0] == zero
    # Characters outside the pair are left as they were read.
    assert read(5.0, 1.0)[:2] + read(5.0, 1.0)[3:] == characters.per_image()[0][:2] + characters.per_image()[0][3:]


def test_attach_puts_the_referee_inside_the_model_file_and_load_gets_it_back(small_model, tmp_path):
    path, config = small_model
    assert keras_runtime.load_referee(path, config) is None
    referee_config = RefereeConfig(widths=(4, 8, 8), main_weight=0.7)
    referee = referee_lib.build_referee(config, referee_config)
    # A trained referee has an optimizer, whose state the model file does not need.
    referee.compile(keras.optimizers.Adam(), keras.losses.BinaryCrossentropy(from_logits=True))
    crops = np.random.default_rng(0).integers(0, 256, (5, config.input_height, 24, 1), dtype=np.uint8)
    referee.train_on_batch(crops, np.ones((5, 1)))
    combined = tmp_path / "with-referee.keras"
    referee_lib.attach(path, referee, referee_config, combined)
    with zipfile.ZipFile(combined) as archive:
        assert {REFEREE_MODEL_ENTRY, REFEREE_CONFIG_ENTRY} <= set(archive.namelist())
        assert {item.compress_type for item in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    loaded = keras_runtime.load_referee(combined, config)
    assert loaded.referee_config == referee_config
    with zipfile.ZipFile(combined) as archive, zipfile.ZipFile(io.BytesIO(archive.read(REFEREE_MODEL_ENTRY))) as inner:
        assert b"optimizer" not in inner.read("model.weights.h5")
    np.testing.assert_allclose(loaded.network.model.predict_on_batch(crops), referee.predict_on_batch(crops), atol=1e-6)
    np.testing.assert_allclose(loaded.network(crops), referee.predict_on_batch(crops),
                               atol=1e-4)
    # The main network still loads from the same file, and the solver picks the referee up.
    model, loaded_config = model_file.load_model(combined)
    assert loaded_config == config
    solver = load_solver(combined)
    assert solver.referee is not None and "referee" in solver.describe()
    # Attaching again replaces the referee rather than adding a second one.
    referee_lib.attach(combined, referee, referee_config)
    with zipfile.ZipFile(combined) as archive:
        assert archive.namelist().count(REFEREE_MODEL_ENTRY) == 1


def test_a_referee_of_a_pooled_model_reads_its_crops_at_full_resolution(tmp_path):
    config = model_lib.default_config("default", trunk_widths=(4, 4, 8, 8)).pooled(2)
    path = tmp_path / "pooled.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    referee_config = RefereeConfig(crop_width=48, widths=(4, 8, 8))
    referee = referee_lib.build_referee(config, referee_config)
    # One convolution at the input's resolution, then the stages at the trunk's.
    assert referee.get_layer("stem_conv").output.shape[1:3] == (80, 48)
    assert referee.get_layer("stage1_1_conv").output.shape[1:3] == (40, 24)
    referee_lib.attach(path, referee, referee_config)
    crops = np.random.default_rng(1).integers(0, 256, (3, 80, 48, 1), dtype=np.uint8)
    loaded = keras_runtime.load_referee(path, config)
    np.testing.assert_allclose(loaded.network.model.predict_on_batch(crops), referee.predict_on_batch(crops), atol=1e-6)


def test_a_referee_that_does_not_fit_its_model_is_refused(small_model, tmp_path):
    path, config = small_model
    narrow = referee_lib.build_referee(config, RefereeConfig(crop_width=16))
    referee_lib.attach(path, narrow, RefereeConfig(crop_width=24))
    with pytest.raises(ValueError, match="the referee reads"):
        keras_runtime.load_referee(path, config)


def test_glyph_examples_crop_each_zero_and_letter_o_where_the_model_reads_it(keras_solver):
    solver = keras_solver
    referee_config = RefereeConfig()
    texts = ["0O12", "ABCD", "O0O0"]
    images = [rendering.sample_captcha(solver.config, seed=616161, index=index, text=text)[1]
              for index, text in enumerate(texts)]
    inputs = preprocessing.preprocess(images, solver.config)
    crops, labels, margins = referee_stage.glyph_examples(
        solver.network.inference_model, solver.config, referee_config, inputs, texts)
    np.testing.assert_array_equal(labels, [0, 1, 1, 0, 1, 0])
    assert crops.shape == (6, solver.config.input_height, referee_config.crop_width, 1)
    # The bundled model's own opinion points the right way for these.
    assert np.mean((margins > 0) == (labels > 0.5)) >= 5 / 6
    with pytest.raises(ValueError, match="examples of both"):
        referee_stage.glyph_examples(solver.network.inference_model, solver.config, referee_config, inputs[1:2],
                                     texts[1:2])


@pytest.mark.slow
def test_train_referee_writes_a_model_whose_solver_uses_it(small_model, tmp_path):
    path, _ = small_model
    output = tmp_path / "run"
    final = referee_stage.main([
        "--model", str(path), "--train-size", "300", "--validation-size", "100", "--test-size", "50",
        "--epochs", "1", "--output", str(output), "--cache-dir", str(tmp_path / "cache"), "--workers", "1",
    ])
    solver = load_solver(final, runtime="keras")
    assert solver.referee is not None
    with open(output / "metrics.json") as handle:
        metrics = json.load(handle)
    assert metrics["referee"]["training_glyphs"] > 100
    assert metrics["test"]["count"] == 50 and metrics["referee"]["test_without_referee"]["count"] == 50
    assert not os.path.exists(output / "backup")

    # Started from that referee and trained for no epoch, a run only refits the weight of the model's opinion.
    flags = ["--model", str(path), "--init-from", str(final), "--train-size", "300", "--validation-size", "100",
             "--test-size", "20", "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    refitted = load_solver(referee_stage.main([*flags, "--epochs", "0", "--output", str(tmp_path / "refit")]),
                           runtime="keras")
    for kept, started in zip(refitted.referee.network.model.get_weights(), solver.referee.network.model.get_weights()):
        np.testing.assert_array_equal(kept, started)
    with pytest.raises(ValueError, match="differs from this one in crop_width"):
        referee_stage.main([*flags, "--crop-width", "16", "--output", str(tmp_path / "narrow")])


@pytest.mark.slow
def test_a_killed_referee_run_carries_on_from_its_last_epoch(small_model, tmp_path, monkeypatch):
    path, _ = small_model
    flags = ["--model", str(path), "--train-size", "300", "--validation-size", "100", "--test-size", "20",
             "--epochs", "2", "--output", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"),
             "--workers", "1"]

    class Killed(Exception):
        pass

    class KilledAfterFirstEpoch(keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            raise Killed()

    monkeypatch.setattr(keras.callbacks, "BackupAndRestore", KilledAfterFirstEpoch)
    with pytest.raises(Killed):
        referee_stage.main(flags)
    assert os.path.isdir(tmp_path / "run" / "backup")
    monkeypatch.undo()
    referee_stage.main(flags)
    with open(tmp_path / "run" / "metrics.json") as handle:
        history = json.load(handle)["referee"]["history"]
    # Only the second epoch ran after the restart.
    assert len(history) == 1


def test_a_referee_needs_a_ctc_model(tmp_path):
    config = model_lib.default_config("seed")
    with pytest.raises(ValueError, match="CTC"):
        referee_stage.glyph_examples(keras.Sequential(), config, RefereeConfig(), np.zeros((1, 1)), ["0"])



@pytest.mark.slow
def test_the_bundled_referee_tells_zero_from_letter_o_better_than_the_network_alone(keras_solver):
    solver = keras_solver
    assert solver.referee is not None
    referee_config = solver.referee.referee_config
    assert 626262 not in seeds.seeds_drawn(solver.metrics)
    inputs, texts = rendering.render_range(solver.config, 626262, 0, 1000, rendering.Emphasis("0O"))
    crops, labels, margins = referee_stage.glyph_examples(
        solver.network.inference_model, solver.config, referee_config, inputs, texts)
    logits = solver.referee.network.inference_model.predict(crops, verbose=0)[:, 0]
    alone = np.mean((margins > 0) == (labels > 0.5))
    together = np.mean((logits + referee_config.main_weight * margins > 0) == (labels > 0.5))
    print(f"{len(labels)} glyphs: the network alone {alone:.2%}, with its referee {together:.2%}")
    # Measured: 97.1% and 98.7% of these, 96.2% and 98.9% of the referee's validation glyphs.
    assert together > alone and together >= 0.98


def test_train_referee_refuses_characters_the_model_cannot_read(small_model, tmp_path):
    path, _ = small_model
    with pytest.raises(ValueError, match="outside the charset; accepted characters are"):
        referee_stage.main(["--model", str(path), "--characters", "0a", "--output", str(tmp_path / "run")])
