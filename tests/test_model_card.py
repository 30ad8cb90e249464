"""The model card of a pushed model, made without a Hub: metadata as the Hub reads them (license, base model,
results as model-index entries) and a text that describes the model and how to read captchas with it."""

import re

from captcha_model.config import CaptchaConfig
from captcha_model.publishing.model_card import model_card

TEST = {"source": "10,000 fresh captchas (seed 7)", "count": 10_000, "accuracy": 0.991234,
        "accuracy_95ci": [0.9893, 0.9929], "character_accuracy": 0.99765, "images_per_second": 1234.5}
METRICS = {"test": TEST, "epochs": 3, "samples_seen": 192_000, "wall_seconds": 600, "device": "GPU",
           "history": [{"val_accuracy": 0.9}, {"val_accuracy": 0.98}]}


def test_a_fine_tuned_model_names_its_base_and_carries_its_results():
    card = model_card("me/solver", CaptchaConfig(), 123_456, metrics=METRICS, base_model="someone/base")
    assert (card.data.base_model, card.data.base_model_relation, card.data.license) == ("someone/base", "finetune",
                                                                                         "mit")
    # Rounded to five places; the character error rate is one minus the per-character accuracy.
    assert {result.metric_type: result.metric_value for result in card.data.eval_results} == {
        "accuracy": 0.99123, "cer": 0.00235}
    assert {result.dataset_type for result in card.data.eval_results} == {"captcha-library-synthetic"}
    for line in ("Fine-tuned from [someone/base](https://huggingface.co/someone/base).",
                 "123,456 parameters", "| Full-captcha accuracy | 99.12% (95% CI 98.93% to 99.29%) |",
                 "- 3 epochs, 192,000 training captchas, 10.0 minutes on the GPU.",
                 "- Validation accuracy after the last epoch: 98.00%."):
        assert line in card.text


def test_the_keras_section_decodes_heads_or_ctc_columns_with_code_that_compiles():
    heads = model_card("me/seed", CaptchaConfig(architecture="seed", input_height=80, input_width=170,
                                                input_channels=3), 1000).text
    ctc = model_card("me/ctc", CaptchaConfig(), 1000, has_referee=True, has_onnx=True).text
    assert "4 tensors of shape (batch, 36), one per character position" in heads and ".convert(\"RGB\")" in heads
    assert "one tensor of shape (batch, columns, 37)" in ctc and ".convert(\"L\")" in ctc
    assert "`model.onnx` and `referee.onnx` (the ONNX export" in ctc and "referee.keras" not in heads
    for text in (heads, ctc):
        blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
        assert len(blocks) == 2
        for block in blocks:
            compile(block, "model card", "exec")


def test_a_site_model_says_whose_captchas_it_learnt_and_that_none_is_pushed():
    site = {"source": "my site", "training": 580, "held_out": 64, "held_out_source": "a seeded 10% of the data"}
    metrics = {**METRICS, "test": {**TEST, "source": "64 captchas"}}
    card = model_card("me/site", CaptchaConfig(site=site), 1000, metrics=metrics)
    assert {result.dataset_type for result in card.data.eval_results} == {"site-captchas"}
    assert "the captchas of one site, learnt from 580 of its captchas labelled by hand (my site)" in card.text
    assert "No training image is part of this repository." in card.text
    assert "No evaluation results" in model_card("me/untested", CaptchaConfig(), 1000).text


def test_a_general_model_says_it_learnt_no_sites_captchas():
    card = model_card("me/general", CaptchaConfig(family="general"), 1000, metrics=METRICS)
    assert {result.dataset_type for result in card.data.eval_results} == {"captcha-general-synthetic"}
    assert "reads text captchas of sites it never saw" in card.text and "on no site's captchas" in card.text


def test_metrics_without_the_networks_training_figures_still_make_a_card():
    # As a referee stage run on a model that had no metrics.json leaves them.
    card = model_card("me/refereed", CaptchaConfig(), 1000, metrics={"test": TEST, "referee": {"epochs": 2}})
    assert "## Training" in card.text and " epochs, " not in card.text
