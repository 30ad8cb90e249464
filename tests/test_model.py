"""Architectures (layers, heads, input pooling, trunk widths), the CTC loss and metric, and CTC and heads
decoding."""

import itertools

import keras
import numpy as np
import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.data import fonts, styles
from captcha_model.networks import model as model_lib, model_file
from captcha_model.reading import decoding


def test_seed_architecture_matches_the_tutorial():
    config = model_lib.default_config("seed")
    network = model_lib.build_model(config)
    assert network.input_shape == (None, 80, 170, 3)
    convolutions = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert network.get_layer("block4_pool").output.shape == (None, 1, 6, 256)
    assert [output.shape for output in network.outputs] == [(None, 36)] * 4
    assert [layer.name for layer in network.layers[-4:]] == ["c1", "c2", "c3", "c4"]


def test_seed_bn_is_the_tutorials_network_with_a_batchnorm_between_each_convolution_and_its_relu(tmp_path):
    seed, repaired = (model_lib.build_model(model_lib.default_config(name)) for name in ("seed", "seed-bn"))
    layers = [layer for layer in repaired.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in layers] == [layer.name for layer in seed.layers
                                                 if isinstance(layer, keras.layers.Conv2D)]
    for layer in layers:
        # No bias: the BatchNorm's own offset takes its place.
        assert not layer.use_bias
        assert isinstance(repaired.get_layer(f"{layer.name}_bn"), keras.layers.BatchNormalization)
        assert isinstance(repaired.get_layer(f"{layer.name}_relu"), keras.layers.ReLU)
    assert [output.shape for output in repaired.outputs] == [output.shape for output in seed.outputs]
    config = model_lib.default_config("seed-bn")
    path = tmp_path / "seed-bn.keras"
    model_file.save_model(repaired, config, path)
    loaded, loaded_config = model_file.load_model(path)
    inputs = np.random.default_rng(0).integers(0, 256, (2, 80, 170, 3), dtype=np.uint8)
    assert loaded_config == config
    np.testing.assert_allclose(loaded.predict_on_batch(inputs), repaired.predict_on_batch(inputs), atol=1e-6)


def test_default_architecture_is_small_and_reads_columns():
    config = model_lib.default_config()
    network = model_lib.build_model(config)
    assert network.output_shape == (None, 11, config.num_classes + 1)
    # Float32 weights: 4 bytes each, so this keeps the file well under 2 MB.
    assert network.count_params() < 400_000


def test_unknown_architecture_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"accepted architectures are \['ctc', 'default', 'seed', 'seed-bn'\]"):
        model_lib.default_config("resnet")
    with pytest.raises(ValueError, match="Unknown architecture"):
        model_lib.build_model(CaptchaConfig(architecture="resnet"))


def test_heads_need_a_fixed_length():
    with pytest.raises(ValueError, match="fixed number of characters"):
        model_lib.build_model(CaptchaConfig(architecture="seed", min_length=3, max_length=5))


def one_hot_frames(indices, classes=37):
    logits = np.full((len(indices), classes), 0.0)
    for frame, index in enumerate(indices):
        logits[frame, index] = 10.0
    return logits


def test_ctc_decoding_merges_repeats_and_drops_blanks():
    config = model_lib.default_config()
    blank = config.num_classes
    # "1 1 _ 1 2 2 _ 2" reads 1122: repeats merge unless a blank separates them.
    frames = one_hot_frames([1, 1, blank, 1, 2, 2, blank, 2])
    reading = decoding.decode_outputs(frames[None], config)[0]
    assert reading.text == "1122"
    assert len(reading.character_confidences) == 4
    assert all(0.99 < value <= 1.0 for value in reading.character_confidences)
    assert reading.confidence == pytest.approx(np.prod(reading.character_confidences))


def test_ctc_decoding_splits_touching_repeats_to_read_the_trained_length():
    config = model_lib.default_config()
    blank, letter = config.num_classes, config.charset.index
    # Greedy decoding merges the run of Z columns into one Z and reads "ZIS", a length the
    # model never saw; the best 4-character path parts the run at its most blank-like column.
    logits = one_hot_frames([blank, letter("Z"), letter("Z"), letter("Z"), blank, letter("I"), blank,
                             letter("S")] + [blank] * 3)
    logits[2, blank] = 7.0
    characters = decoding.read_characters(logits[None], config).per_image()[0]
    assert "".join(config.charset[index] for index, _, _ in characters) == "ZZIS"
    assert [frames for _, frames, _ in characters] == [(1,), (3,), (5,), (7,)]


def test_ctc_decoding_drops_the_weakest_of_one_character_too_many():
    config = model_lib.default_config()
    blank, letter = config.num_classes, config.charset.index
    logits = one_hot_frames([letter("A"), blank, letter("A"), blank, letter("B"), letter("C"), blank,
                             letter("D")] + [blank] * 3)
    logits[2, blank] = 9.5
    assert decoding.decode_outputs(logits[None], config)[0].text == "ABCD"


def test_ctc_decoding_of_all_blanks_reads_the_likeliest_characters_with_no_confidence():
    config = model_lib.default_config()
    reading = decoding.decode_outputs(one_hot_frames([config.num_classes] * 11)[None], config)[0]
    assert len(reading.text) == 4 and reading.confidence < 1e-15


def test_best_paths_match_a_search_over_every_path():
    blank, symbols, frames = 3, 4, 6
    random = np.random.default_rng(0)

    def reads(path):
        merged = [symbol for position, symbol in enumerate(path) if position == 0 or symbol != path[position - 1]]
        return [symbol for symbol in merged if symbol != blank]

    # One batch of 20 images, each with its own search.
    log_probabilities = np.log(random.dirichlet(np.ones(symbols), size=(20, frames)))
    fallback = np.full((20, frames), blank)
    for min_length, max_length in ((1, 1), (2, 3), (4, 4), (6, 6)):
        found_paths = decoding.best_paths(log_probabilities, fallback, blank, min_length, max_length)
        for image, found in zip(log_probabilities, found_paths):
            every_path = itertools.product(range(symbols), repeat=frames)
            accepted = [path for path in every_path if min_length <= len(reads(path)) <= max_length]
            best = max(accepted, key=lambda path: image[np.arange(frames), path].sum())
            assert reads(list(found)) == reads(best)
            assert image[np.arange(frames), found].sum() == pytest.approx(image[np.arange(frames), best].sum())
    # Seven characters cannot fit in six columns: each image keeps its fallback path.
    np.testing.assert_array_equal(decoding.best_paths(log_probabilities, fallback, blank, 7, 7), fallback)


def test_heads_decoding_known_answer():
    config = model_lib.default_config("seed")
    heads = [np.eye(36)[[index]] * 0.8 + 0.2 / 36 for index in (10, 11, 0, 35)]
    reading = decoding.decode_outputs(heads, config)[0]
    assert reading.text == "AB0Z"
    assert reading.character_confidences[0] == pytest.approx(0.8 + 0.2 / 36)


def test_ctc_loss_and_exact_match_metric():
    config = model_lib.default_config()
    blank = config.num_classes
    logits = np.stack([one_hot_frames([1, blank, 2, blank, 3, blank, 4, blank, blank, blank, blank])])
    targets = np.array([[1, 2, 3, 4]])
    loss_function = model_lib.CTCLoss(blank)
    assert float(loss_function(targets, logits.astype("float32"))) < 0.05
    assert float(loss_function(np.array([[4, 3, 2, 1]]), logits.astype("float32"))) > 10
    # Padding with -1 shortens the target: "12" alone does not explain frames that read "1234".
    assert float(loss_function(np.array([[1, 2, -1, -1]]), logits.astype("float32"))) > 10
    metric = model_lib.CTCExactMatch(blank)
    metric.update_state(targets, logits.astype("float32"))
    metric.update_state(np.array([[1, 2, 3, 5]]), logits.astype("float32"))
    assert float(metric.result()) == pytest.approx(0.5)


def test_trunk_widths_set_the_channels_and_older_configs_keep_theirs():
    wide = model_lib.build_model(model_lib.default_config(trunk_widths=(8, 24, 40, 56)))
    channels = [layer.filters for layer in wide.layers if isinstance(layer, keras.layers.Conv2D)]
    assert channels == [8, 24, 40, 40, 56, 56]
    # A config written before trunk widths existed has no such key and means the original trunk.
    stored = {key: value for key, value in CaptchaConfig().to_dict().items() if key != "trunk_widths"}
    assert CaptchaConfig.from_dict(stored).trunk_widths == (16, 32, 64, 128)


def test_a_pooled_input_gives_the_trunk_what_the_unpooled_model_sees():
    config = model_lib.default_config(trunk_widths=(4, 4, 8, 8))
    pooled = config.pooled(2)
    assert (pooled.input_height, pooled.input_width, pooled.input_pooling) == (80, 176, 2)
    plain_model, pooled_model = model_lib.build_model(config), model_lib.build_model(pooled)
    # Pooling adds no weights, so the two networks share theirs and read the same 11 columns.
    pooled_model.set_weights(plain_model.get_weights())
    assert pooled_model.output_shape == plain_model.output_shape == (None, 11, config.num_classes + 1)
    # Each pixel repeated into a 2x2 block averages back to itself: the same outputs.
    inputs = np.random.default_rng(3).integers(0, 256, (2, 40, 88, 1)).astype("float32")
    enlarged = inputs.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(pooled_model.predict_on_batch(enlarged), plain_model.predict_on_batch(inputs),
                               rtol=1e-4, atol=1e-4)
    # A config saved before input pooling existed reads its input unpooled.
    stored = {key: value for key, value in config.to_dict().items() if key != "input_pooling"}
    assert CaptchaConfig.from_dict(stored).input_pooling == 1
    with pytest.raises(ValueError, match="positive divisor of input_height and input_width"):
        CaptchaConfig(input_width=90, input_pooling=4)
    with pytest.raises(ValueError, match="input_pooling must be 1"):
        model_lib.build_model(model_lib.default_config("seed").pooled(2))


def test_ctc_architecture_reads_22_columns_of_up_to_8_characters():
    config = model_lib.default_config("ctc")
    assert (config.min_length, config.max_length) == (1, 8)
    network = model_lib.build_model(config)
    # Twice the default's 11 columns: 8 characters with repeats need blanks between them.
    assert network.output_shape == (None, 22, config.num_classes + 1)
    assert isinstance(network.get_layer("column_gru"), keras.layers.Bidirectional)
    with pytest.raises(ValueError, match="too few for 12 characters; use max_length <= 11"):
        model_lib.build_model(model_lib.default_config("ctc", max_length=12))


def test_ctc_decoding_of_variable_lengths_with_blanks_and_repeats():
    config = model_lib.default_config("ctc")
    blank = config.num_classes
    padding = [blank] * 10
    # Three readings of one batch: "A", "7" twice (a blank between) and "ZZZ" with merged repeats.
    rows = [
        [blank, 10, 10, 10] + [blank] * 8 + padding,
        [7, blank, 7, blank] + [blank] * 8 + padding,
        [35, 35, blank, 35, blank, blank, 35, 35, 35] + [blank] * 3 + padding,
    ]
    readings = decoding.decode_outputs(np.stack([one_hot_frames(row) for row in rows]), config)
    assert [reading.text for reading in readings] == ["A", "77", "ZZZ"]
    assert [len(reading.character_confidences) for reading in readings] == [1, 2, 3]


def test_the_general_config_reads_the_family_it_is_trained_on():
    general = model_lib.default_config("ctc", "general")
    assert general.family == "general" and general.charset == fonts.GENERAL_CHARSET
    assert (general.min_length, general.max_length) == (styles.MIN_LENGTH, styles.MAX_LENGTH)
    assert (general.captcha_width_range, general.captcha_height_range) == (styles.WIDTH_RANGE, styles.HEIGHT_RANGE)
    # CTC needs two columns a character: the ctc network reads a quarter of the input's columns.
    assert general.input_width // 4 >= 2 * general.max_length
    assert model_lib.default_config("ctc").family == "library"
    with pytest.raises(ValueError, match="family must be one of"):
        CaptchaConfig(family="site")
