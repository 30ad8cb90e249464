"""The end of an epoch: validation on whole captchas, one log line, the state and model a resumed run starts from,
and a stop once --max-minutes is reached; and resuming where there is nothing to resume."""

import dataclasses
import json

import pytest

from captcha_model.data import rendering
from captcha_model.networks import model as model_lib, model_file
from captcha_model.training import checkpoint, settings as settings_lib


class OneMachine:
    """The devices of a run on one machine, which is its chief."""

    chief = True

    def output_path(self, path):
        return path

    def any_worker(self, condition):
        return condition


def test_an_epoch_ends_with_validation_a_log_line_and_a_checkpoint_to_resume_from(tmp_path, capsys):
    flags = ["--output", str(tmp_path), "--learning-rate", "0.001", "--max-minutes", "0.000001"]
    settings = dataclasses.replace(settings_lib.parse(flags), steps_per_epoch=2, batch_size=4)
    config = model_lib.default_config(trunk_widths=(4, 4, 8, 8))
    model = model_lib.build_model(config)
    model_lib.compile_model(model, config, settings.make_optimizer())
    inputs, texts = rendering.render_range(config, seed=1, start=0, count=8)
    state = checkpoint.fresh_state(settings)
    assert (state["epoch"], state["samples_seen"], state["args"]["learning_rate"]) == (0, 0, 0.001)
    callback = checkpoint.Checkpoint(settings, config, state, OneMachine(), [inputs[:4]], inputs, texts)
    callback.set_model(model)
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 2.5})
    record = state["history"][0]
    assert (state["epoch"], state["samples_seen"], record["epoch"], record["loss"]) == (1, 8, 1, 2.5)
    # An untrained network reads none of the eight captchas.
    assert record["val_accuracy"] == 0.0
    with open(tmp_path / checkpoint.STATE) as handle:
        assert json.load(handle)["history"] == state["history"]
    assert checkpoint.resumed_state(tmp_path)["samples_seen"] == 8
    assert model_file.load_model(tmp_path / checkpoint.CHECKPOINT)[1] == config
    log = capsys.readouterr().out
    assert log.startswith("epoch 1: loss 2.5000 val_accuracy 0.0000 lr nan samples 8 time ")
    assert "Stopping:" in log and model.stop_training


def test_resuming_without_a_checkpoint_says_how_to_start_afresh(tmp_path):
    with pytest.raises(ValueError, match="--resume needs .*checkpoint.keras, which does not exist; drop --resume to "
                                         "start afresh"):
        checkpoint.resumed_state(tmp_path)
