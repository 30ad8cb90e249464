"""Model files: `save_model` and `load_model` round trips, atomic saves that a crash or a full disk cannot break,
and every kind of file that is not a safe model of this project refused."""

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.networks import model as model_lib, model_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    config = model_lib.default_config()
    network = model_lib.build_model(config)
    path = tmp_path / "model.keras"
    model_file.save_model(network, config, path)
    loaded, loaded_config = model_file.load_model(path)
    assert loaded_config == config
    inputs = np.random.default_rng(0).integers(0, 256, (3, 40, 88, 1), dtype=np.uint8)
    assert np.array_equal(network.predict_on_batch(inputs), loaded.predict_on_batch(inputs))
    # Without optimizer state the file holds the network alone, every entry deflated.
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("metadata.json"))
        assert "optimizer" not in archive.read("config.json").decode().lower()
        assert {item.compress_type for item in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_save_refuses_other_extensions(tmp_path):
    config = model_lib.default_config()
    with pytest.raises(ValueError, match="must end in '.keras'"):
        model_file.save_model(model_lib.build_model(config), config, tmp_path / "model.h5")


def test_a_model_with_code_is_refused(tmp_path):
    inputs = keras.Input((40, 88, 1))
    outputs = keras.layers.Lambda(lambda tensor: tensor * 2)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(model_file.CONFIG_ENTRY, CaptchaConfig().to_json())
    with pytest.raises(ValueError, match="safe Keras model"):
        model_file.load_model(path)


def test_a_model_that_does_not_fit_its_config_is_refused(tmp_path):
    config = model_lib.default_config()
    path = tmp_path / "model.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    rewritten = tmp_path / "digits.keras"
    rewrite_config(path, rewritten, CaptchaConfig(charset="0123456789").to_json())
    with pytest.raises(ValueError, match="do not fit architecture 'default' with charset of 10"):
        model_file.load_model(rewritten)


def rewrite_config(source_path, target_path, config_text):
    model_file.rewrite_archive(source_path, target_path, {model_file.CONFIG_ENTRY: config_text})


def test_a_malformed_config_is_refused(tmp_path):
    config = model_lib.default_config()
    path = tmp_path / "model.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    for number, text in enumerate(['{"charset": 5}', "{not json"]):
        rewrite_config(path, tmp_path / f"bad{number}.keras", text)
        with pytest.raises(ValueError, match="malformed captcha_config.json"):
            model_file.load_model(tmp_path / f"bad{number}.keras")


def test_files_that_are_not_models_are_refused(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .keras model"):
        model_file.load_model(path)
    plain = tmp_path / "plain.keras"
    model_lib.build_model(model_lib.default_config()).save(plain)
    with pytest.raises(ValueError, match="only models saved by captcha_model"):
        model_file.load_model(plain)


def test_ctc_model_round_trips_with_its_size_ranges(tmp_path):
    config = model_lib.default_config("ctc", min_length=2, max_length=6)
    network = model_lib.build_model(config)
    path = tmp_path / "ctc.keras"
    model_file.save_model(network, config, path)
    loaded, loaded_config = model_file.load_model(path)
    assert loaded_config == config
    assert loaded_config.captcha_width_range == (120, 240) and not loaded_config.fixed_size
    inputs = np.random.default_rng(1).integers(0, 256, (2, 40, 88, 1), dtype=np.uint8)
    assert np.array_equal(network.predict_on_batch(inputs), loaded.predict_on_batch(inputs))


def test_a_model_naming_a_python_function_is_refused_without_running_it(tmp_path):
    """A Lambda layer can name a function by module instead of carrying its bytecode."""
    config = CaptchaConfig()
    path = tmp_path / "named-function.keras"
    inputs = keras.Input((config.input_height, config.input_width, config.input_channels))
    keras.Model(inputs, keras.layers.Lambda(lambda tensor: tensor, name="code")(inputs)).save(path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    network = json.loads(entries["config.json"])
    marker = tmp_path / "ran"
    for layer in network["config"]["layers"]:
        if layer["class_name"] == "Lambda":
            layer["config"]["function"] = {"module": "os", "class_name": "function", "config": "system",
                                           "registered_name": "function"}
            layer["config"]["arguments"] = {"command": f"touch {marker}"}
    entries["config.json"] = json.dumps(network).encode()
    entries[model_file.CONFIG_ENTRY] = config.to_json().encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match="safe Keras model"):
        model_file.load_model(path)
    assert not marker.exists()


def predictions(path):
    network, config = model_file.load_model(path)
    inputs = np.random.default_rng(0).integers(0, 256, (2, config.input_height, config.input_width, 1), dtype=np.uint8)
    return network.predict_on_batch(inputs)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A small model saved by `save_model`, and its predictions."""
    config = model_lib.default_config()
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model_file.save_model(model_lib.build_model(config), config, path)
    return path, predictions(path)


def test_a_save_that_fails_mid_write_leaves_the_previous_model_in_place(saved_model, tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    shutil.copy(saved_model[0], path)

    def full_disk(model, target, *arguments, **options):
        with open(target, "wb") as handle:
            handle.write(b"PK\x03\x04 half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    config = model_lib.default_config()
    with pytest.raises(OSError, match="No space left"):
        model_file.save_model(model_lib.build_model(config), config, path)
    assert os.listdir(tmp_path) == ["model.keras"]
    np.testing.assert_array_equal(predictions(path), saved_model[1])


# Run as a separate process: saves the model handed to it twice, pausing mid-write in the second save.
SAVING_PROCESS = """
import sys, time, zipfile
from captcha_model.networks import model_file

network, config = model_file.load_model(sys.argv[1])
write = zipfile.ZipFile.writestr
config_writes = []

def pause_mid_write(archive, name, *arguments, **options):
    if name == model_file.CONFIG_ENTRY:
        config_writes.append(name)
        if len(config_writes) == 2:
            print("mid-write", flush=True)
            time.sleep(120)
    return write(archive, name, *arguments, **options)

zipfile.ZipFile.writestr = pause_mid_write
for _ in range(2):
    model_file.save_model(network, config, sys.argv[2])
"""


def test_kill_9_mid_save_leaves_the_previous_model_and_the_next_save_clears_up(saved_model, tmp_path):
    source, expected = saved_model
    target = tmp_path / "checkpoint.keras"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-c", SAVING_PROCESS, str(source), str(target)], cwd=ROOT,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "mid-write\n", process.stderr.read()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    leftovers = [name for name in os.listdir(tmp_path) if name != target.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".checkpoint.keras.partial-")
    np.testing.assert_array_equal(predictions(target), expected)

    network, config = model_file.load_model(source)
    model_file.save_model(network, config, target)
    assert os.listdir(tmp_path) == [target.name]
