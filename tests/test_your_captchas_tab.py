"""The "Your captchas" tab (`captcha_app.your_captchas_tab`): a page of the grid out of thousands, its boxes'
titles, and the result of a run as the page shows it. The tab in a browser: tests/test_browser.py."""

import os
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from captcha_app import training_run, your_captchas_tab
from captcha_app.training_run import TrainingResult
from captcha_app.your_captchas import PAGE_SIZE, Workspace
from captcha_model.reading.prelabel import Row
from captcha_model.reading.solver import GENERAL_MODEL


@pytest.fixture
def workspace():
    made = Workspace()
    yield made
    made.close()


def test_the_grid_turns_pages_of_2000_captchas_at_once(workspace):
    workspace.rows = [Row(f"{index:04d}.png", f"T{index}", index / 2000, False) for index in range(2000)]
    started = time.perf_counter()
    outputs = your_captchas_tab.page_outputs(workspace, 83)
    elapsed = time.perf_counter() - started
    assert workspace.page == 83 and elapsed < 0.1
    images, boxes, info = outputs[:PAGE_SIZE], outputs[PAGE_SIZE:-1], outputs[-1]
    # The last page holds 2000 - 83 * 24 = 8 captchas; the other boxes are hidden.
    assert [box["visible"] for box in boxes] == [True] * 8 + [False] * 16
    assert boxes[0]["label"] == "#1993 · 99% sure" and images[0]["value"].endswith("1992.png")
    assert info == "Page 84 of 84 · 2,000 captchas · 0 typed or confirmed"
    your_captchas_tab.page_outputs(workspace, 500)
    assert workspace.page == 83
    your_captchas_tab.page_outputs(workspace, -1)
    assert workspace.page == 0


def test_a_box_is_titled_with_its_number_and_how_sure_the_model_is():
    assert your_captchas_tab.cell_label(0, Row("a.png", "AB12", 0.2999, False)) == "#1 · 29% sure"
    assert your_captchas_tab.cell_label(41, Row("b.png", "CD34", None, True)) == "#42 · ✓ typed"


def test_the_result_shows_held_out_accuracy_with_its_interval_and_the_misread_captchas(workspace, monkeypatch):
    status = "Training was stopped before it finished. You have no trained model yet."
    assert your_captchas_tab.result_outputs(workspace, status) == (status, {"__type__": "update", "value": [],
                                                                            "visible": False})
    path = os.path.join(workspace.images, "30.png")
    monkeypatch.setattr(workspace, "result", lambda: TrainingResult(0.5, (0.1, 0.9), 2, [(path, "AB12", "")]))
    text, failures = your_captchas_tab.result_outputs(workspace, "Trained.")
    assert text.startswith("Trained.\n\n### 50.0% of 2 held-out captchas read right\n95% interval 10.0% to 90.0%")
    assert "1 misread, shown below." in text
    assert failures["value"] == [(path, "AB12 → (nothing)")] and failures["visible"]


class Models:
    """What the tab asks of the app's models: their names and the first one's."""

    def __init__(self, names):
        self.names, self.name = names, names[0]


def test_the_general_model_prelabels_where_it_is_served():
    assert your_captchas_tab.prelabelling_model(Models(["ctc", "default", GENERAL_MODEL])) == GENERAL_MODEL
    assert your_captchas_tab.prelabelling_model(Models(["ctc", "default"])) == "ctc"


@pytest.mark.parametrize("setting, keras_installed", [("off", True), ("1", True), ("0.5", True), ("", False)])
def test_the_tab_builds_where_training_is_off_or_capped_below_two_minutes(setting, keras_installed, tmp_path):
    # The light install (no TensorFlow) switches training off: the app must start all the same.
    policy = training_run.training_policy(setting, keras_installed)
    actions = SimpleNamespace(models=None, upload_folder=str(tmp_path))
    with gr.Blocks() as demo, gr.Tab("Your captchas"):
        workspaces = your_captchas_tab.build(demo, actions, policy=policy)
    minutes = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "your-minutes")
    assert minutes.maximum >= max(policy.max_minutes, 1.0) > minutes.minimum and minutes.visible == policy.enabled
    workspaces.close_all()
