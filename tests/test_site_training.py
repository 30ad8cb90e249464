"""`train.py --data`: a site's config and split, and a tiny run end to end
whose model the solver, the CLI and the Hub then take. How a run reads the site's
captchas (`data_sources.site_data`) is in test_data_sources.py."""

import json
import zipfile

import pytest
from huggingface_hub import HfApi
from PIL import Image

from captcha_model import load_solver
from captcha_model.__main__ import main as cli
from captcha_model.data import rendering
from captcha_model.data.labelled import LabelledCaptchas
from captcha_model.networks import model as model_lib, model_file
from captcha_model.publishing.hub import push
from captcha_model.reading import evaluation
from captcha_model.training import network_stage
from captcha_model.training.site_training import input_width_for, site_config, split, unreadable_texts


def labelled(sizes, texts):
    images = [Image.new("RGB", size, "white") for size in sizes]
    return LabelledCaptchas(images, list(texts), [f"{index:03d}.png" for index in range(len(texts))], [], "here")


def test_the_config_takes_charset_lengths_and_shape_from_the_captchas():
    base = model_lib.default_config("ctc")
    captchas = labelled([(130, 48)] * 3 + [(150, 50)], ["AB2", "ZZ93", "B2", "AAAAA"])
    config = site_config(captchas, base, source="my site")
    assert (config.charset, config.min_length, config.max_length) == ("239ABZ", 2, 5)
    assert (config.input_height, config.input_width, config.input_channels) == (40, 112, 1)
    assert (config.captcha_width, config.captcha_height) == (130, 48)
    assert (config.captcha_width_range, config.captcha_height_range) == ((130, 150), (48, 50))
    assert config.site == {"source": "my site"} and config.architecture == "ctc"
    flagged = site_config(captchas, base, charset="0123456789ABZ", lengths=(1, 6), input_size=(96, 40))
    assert (flagged.charset, flagged.min_length, flagged.max_length, flagged.input_width) == \
        ("0123456789ABZ", 1, 6, 96)
    # A pooled base network keeps its pooling: twice the input, the same trunk.
    pooled = site_config(captchas, base.pooled(2))
    assert (pooled.input_height, pooled.input_width, pooled.input_pooling) == (80, 224, 2)


def test_the_input_is_wide_enough_for_two_columns_per_character():
    assert input_width_for([(200, 50)], 40, 5) == 160
    assert input_width_for([(60, 60)], 40, 8) == 64


def test_the_split_is_seeded_disjoint_and_independent_of_listing_order():
    captchas = labelled([(50, 20)] * 100, [f"A{index % 10}" for index in range(100)])
    training, held = split(captchas, 0.1, seed=3)
    assert len(held) == 10 and len(training) == 90
    assert not set(training.names) & set(held.names)
    reversed_order = captchas.subset(range(99, -1, -1))
    assert sorted(split(reversed_order, 0.1, seed=3)[1].names) == held.names
    assert split(captchas, 0.1, seed=4)[1].names != held.names
    for share in (0, 1, 1.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            split(captchas, share, seed=3)


def test_texts_the_config_cannot_read_are_found():
    config = site_config(labelled([(50, 20)] * 2, ["AB", "ABC"]), model_lib.default_config("ctc"))
    assert unreadable_texts(labelled([(50, 20)] * 4, ["AB", "AX", "A", "ABCA"]), config) == [1, 2, 3]


@pytest.fixture(scope="module")
def trained(site_folder, tmp_path_factory):
    output = tmp_path_factory.mktemp("run")
    # In this process: TensorFlow has started already, and the run writes nothing that the tests here share.
    network_stage.main(["--data", str(site_folder), "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "8",
                        "--output", str(output)])
    return output


@pytest.mark.slow
def test_a_tiny_run_records_the_data_the_split_and_the_held_out_figure(trained, site_folder, site_captcha_config):
    network, config = model_file.load_model(trained / "model.keras")
    assert (config.charset, config.min_length, config.max_length) == ("123ABC", 3, 4)
    assert (config.input_height, config.input_width) == (40, 112)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert config.site["source"] == str(site_folder)
    assert (config.site["labelled"], config.site["training"], config.site["held_out"]) == (64, 58, 6)
    assert config.site["test_count"] == 6 and 0 <= config.site["test_accuracy"] <= 1
    assert metrics["test"]["count"] == 6 and len(metrics["data"]["held_out_files"]) == 6
    assert metrics["samples_seen"] == 2 * 3 * 8
    assert (trained / "training_curve.png").stat().st_size > 1000
    # Its ONNX export, beside it, reads as it does.
    images = [rendering.sample_captcha(site_captcha_config, seed=44, index=index)[1] for index in range(3)]
    assert [reading.text for reading in load_solver(trained, runtime="onnx").solve(images)] == [
        reading.text for reading in load_solver(trained / "model.keras", runtime="keras").solve(images)]


@pytest.mark.slow
def test_the_solver_and_the_cli_read_with_a_site_model(trained, site_folder, tmp_path, capsys):
    solver = load_solver(trained / "model.keras")
    assert "for the captchas of" in solver.describe()
    paths = sorted(site_folder.iterdir())[:4]
    readings = solver.solve(paths)
    assert all(set(reading.text) <= set("123ABC") for reading in readings)
    archive = tmp_path / "test.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in paths:
            handle.write(path, path.name)
    capsys.readouterr()
    assert cli(["evaluate", "--model", str(trained / "model.keras"), "--folder", str(archive)]) == 0
    assert "4 captchas in" in capsys.readouterr().out
    assert cli(["solve", "--model", str(trained / "model.keras"), str(paths[0])]) == 0
    assert capsys.readouterr().out.split("\t")[1] == readings[0].text


@pytest.mark.slow
def test_a_site_model_is_not_scored_or_drawn_with_library_captchas(trained, tmp_path, capsys):
    with pytest.raises(ValueError, match="reads the captchas of a site"):
        evaluation.evaluate_stream(load_solver(trained / "model.keras"), count=5, seed=1)
    assert cli(["generate", "--model", str(trained / "model.keras"), "--count", "2", "--seed", "1",
                "--out", str(tmp_path / "out")]) == 2
    assert "which it was not trained for" in capsys.readouterr().err


@pytest.mark.slow
def test_a_site_model_goes_to_the_hub_without_its_training_images(trained, hub_server, site_captcha_config):
    repo = "someone/my-site"
    push(trained / "model.keras", repo)
    files = set(HfApi().list_repo_files(repo))
    assert not any(name.endswith(".png") and name != "training_curve.png" for name in files)
    card = HfApi().hf_hub_download(repo, "README.md")
    with open(card) as handle:
        text = handle.read()
    assert "the captchas of one site, learnt from 58 of its captchas labelled by hand" in text
    assert "On 6 held-out captchas" in text and "type: site-captchas" in text
    pulled, local = load_solver(repo), load_solver(trained / "model.keras")
    images = [image for _, image in (rendering.sample_captcha(site_captcha_config, seed=42, index=index)
                                     for index in range(4))]
    assert [reading.text for reading in pulled.solve(images)] == [reading.text for reading in local.solve(images)]


@pytest.mark.slow
def test_the_app_serves_a_site_model_for_uploads_and_zips_but_draws_nothing(trained, site_folder, tmp_path):
    from app_server import serving
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    import app

    demo = app.build_demo(app.make_actions(*app.load_first(str(trained / "model.keras"))))
    paths = sorted(site_folder.iterdir())[:5]
    archive = tmp_path / "labelled.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in paths:
            handle.write(path, path.name)
    local = load_solver(trained / "model.keras")
    with serving(demo) as url:
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="reads the captchas of a site"):
            client.predict("", 1, api_name="/generate")
        reading = client.predict(handle_file(str(paths[0])), api_name="/solve")[0]
        assert reading == local.solve([paths[0]])[0].text
        summary, _, _, report = client.predict(handle_file(str(archive)), api_name="/evaluate_zip")
    expected = evaluation.evaluate_folder(local, archive)
    assert report["count"] == 5 and report["correct"] == expected.correct
    assert "of 5 captchas read right" in summary
