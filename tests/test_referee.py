"""The 0/O referee's network: built (a pooled model's at the input's full resolution), attached inside a model
file and read back, and refused where it does not fit its model."""

import io
import zipfile

import keras
import numpy as np
import pytest

from captcha_model import load_solver
from captcha_model.config import REFEREE_CONFIG_ENTRY, REFEREE_MODEL_ENTRY, RefereeConfig
from captcha_model.networks import model as model_lib, model_file, referee as referee_lib
from captcha_model.reading import keras_runtime


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
