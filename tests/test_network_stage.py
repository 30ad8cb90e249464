"""One run of the network (`python -m captcha_model.training FLAGS`, as train.py runs it), from the side of its own
steps: checks that stop it before any device starts, and a resumed run that has no epoch left to train. Runs that
train are in test_train.py, test_site_training.py and test_cluster.py."""

import json

import keras
import pytest

from captcha_model.networks import model as model_lib, model_file
from captcha_model.training import checkpoint, distribute, network_stage


@pytest.fixture
def no_devices(monkeypatch):
    """Choosing the devices fails the test: what is checked must be checked before."""

    def choose_devices(*arguments):
        raise AssertionError("the run chose its devices")

    monkeypatch.setattr(distribute, "choose_devices", choose_devices)


def test_an_output_folder_that_cannot_be_written_stops_the_run_before_its_devices_start(tmp_path, no_devices):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ValueError, match="Cannot write to output directory .*a-file/run"):
        network_stage.main(["--output", str(tmp_path / "a-file" / "run"), "--train-size", "0"])


def test_a_push_to_a_revision_stops_the_run_before_its_output_is_made(tmp_path, no_devices):
    with pytest.raises(ValueError, match="Push to OWNER/NAME, without a revision; got 'someone/solver@main'"):
        network_stage.main(["--push-to-hub", "someone/solver@main", "--output", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_resumed_after_its_last_epoch_writes_its_model_metrics_and_export(tmp_path):
    config = model_lib.default_config(trunk_widths=(4, 4, 8, 8))
    model = model_lib.build_model(config)
    model_lib.compile_model(model, config, keras.optimizers.Adam(0.001))
    model_file.save_model(model, config, tmp_path / checkpoint.CHECKPOINT, include_optimizer=True)
    history = [{"epoch": epoch, "loss": 3.0 / epoch, "val_accuracy": 0.1 * epoch, "samples_seen": 8 * epoch,
                "wall_seconds": 6.0 * epoch} for epoch in (1, 2)]
    state = {"epoch": 2, "samples_seen": 16, "wall_seconds": 12.0, "history": history, "args": {"seed": 3}}
    (tmp_path / checkpoint.STATE).write_text(json.dumps(state))
    path = network_stage.main(["--resume", "--epochs", "2", "--output", str(tmp_path), "--batch-size", "2",
                               "--validation-size", "4", "--test-size", "0", "--train-size", "0", "--workers", "1"])
    assert model_file.load_model(path)[1] == config
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # The run's record is the checkpoint's: its epochs, its history and the flags of its first start.
    assert (metrics["epochs"], metrics["samples_seen"], metrics["history"], metrics["args"]) == (2, 16, history,
                                                                                                 {"seed": 3})
    assert "test" not in metrics
    assert (tmp_path / "training_curve.png").exists() and (tmp_path / "model.onnx").exists()
