"""What a run trains, validates and is tested on: a site's labelled captchas split or validated on another folder,
the library's captchas, and what the model's config and metrics record of each."""

import dataclasses

import pytest

from captcha_model.config import CaptchaConfig
from captcha_model.data import rendering
from captcha_model.reading import evaluation
from captcha_model.training import data_sources, settings as settings_lib


def test_the_data_are_split_or_validated_on_another_folder_and_recorded(site_folder, site_captcha_config,
                                                                       tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    for index in range(6):
        text, image = rendering.sample_captcha(site_captcha_config, seed=43, index=index)
        image.save(lower / f"{text.lower()}_{index}.png")
    data = data_sources.site_data(settings_lib.parse(["--data", str(site_folder), "--holdout", "0.25"]))
    (inputs, texts), (_, held_texts) = data.pool, data.validation
    assert (len(texts), len(held_texts), inputs.shape[1:]) == (48, 16, (40, 112, 1))
    assert data.site["held_out_source"] == "a seeded 25% of the data (seed 0)"
    assert len(data.site_details["held_out_files"]) == 16 and data.distort
    data = data_sources.site_data(settings_lib.parse(["--data", str(site_folder), "--validation-data", str(lower),
                                                      "--uppercase", "--init-from", "ctc-170x80"]))
    config, (inputs, texts), (_, held_texts) = data.config, data.pool, data.validation
    assert len(texts) == 64 and data.site["held_out_source"] == str(lower) and data.site["uppercase"]
    # From the pooled ctc-170x80 network: twice the input, pooled back before the trunk.
    assert (config.input_height, config.input_width, config.input_pooling) == (80, 224, 2)
    assert sorted(held_texts) == sorted(rendering.sample_captcha(site_captcha_config, seed=43, index=index)[0]
                                        for index in range(6))
    # A model trained without regard to case is scored so too.
    folded = dataclasses.replace(config, site={**config.site, "uppercase": True})
    assert evaluation.read_test_captchas(folded, lower).texts == held_texts
    assert evaluation.read_test_captchas(config, lower).texts == [text.lower() for text in held_texts]


def test_a_site_records_its_held_out_figure_in_the_config_and_its_failures_in_the_metrics():
    data = data_sources.TrainingData(CaptchaConfig(), pool=None, validation=([], []), site={"source": "my site"},
                                     site_details={"held_out_files": ["a.png"], "skipped": []})
    report = evaluation.Report(count=10, correct=9, character_accuracy=0.975, confusions=[], failures=[],
                               solve_seconds=0.5, source="10 held-out captchas of my site")
    site, metrics = data.recorded(report)
    assert site == {"source": "my site", "test_accuracy": 0.9, "test_interval": list(report.interval), "test_count": 10}
    assert metrics == {"test": report.to_dict(include_failures=True),
                       "data": {**site, "held_out_files": ["a.png"], "skipped": []}}


def test_a_run_on_the_library_records_its_test_alone_and_none_without_one():
    data = data_sources.TrainingData(CaptchaConfig(), pool=None, validation=([], []))
    assert data.final_test(solver=None, seed=0) is None and data.recorded(None) == (None, {})
    report = evaluation.Report(count=4, correct=4, character_accuracy=1.0, confusions=[], failures=[],
                               solve_seconds=0.1, source="4 fresh captchas (seed 2000000)")
    assert data.recorded(report) == (None, {"test": report.to_dict(include_failures=False)})


def test_emphasis_is_checked_against_the_config_it_trains():
    assert data_sources.checked_emphasis(settings_lib.parse([]), CaptchaConfig()) is None
    emphasis = data_sources.checked_emphasis(settings_lib.parse(["--emphasize", "0O"]), CaptchaConfig())
    assert emphasis == rendering.Emphasis("0O")
    with pytest.raises(ValueError, match="Emphasis '0o' has characters 'o' outside the charset"):
        data_sources.checked_emphasis(settings_lib.parse(["--emphasize", "0o"]), CaptchaConfig())


def test_batchnorm_is_recalibrated_on_the_pool_at_most_once_over():
    streamed = data_sources.TrainingData(CaptchaConfig(), pool=None, validation=([], []))
    assert streamed.calibration_batch_count(batch_size=8, wanted=50) == 50
    pooled = dataclasses.replace(streamed, pool=([None] * 33, ["a"] * 33))
    assert pooled.calibration_batch_count(batch_size=8, wanted=50) == 5
    assert pooled.calibration_batch_count(batch_size=8, wanted=3) == 3
