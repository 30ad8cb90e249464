"""The models a server offers: the first listed under its own name before the bundled ones, a fallback where it
cannot be loaded, each other model loaded once on first use, and names not on offer refused."""

import os
import shutil
import threading

import pytest
from PIL import Image

from captcha_app import page_text, served_models
from captcha_app.served_models import ServedModels, load_first
from captcha_model import load_solver
from captcha_model.reading import solver as solver_lib

# How a refusal lists the models a server started with the default model offers.
OFFERED = "'default', 'ctc', 'ctc-170x80', 'general'"


def offered(source, pictures):
    """The models offered by a server started with the model `source`, their pictures in `pictures`."""
    solver, notice, name = load_first(source)
    return ServedModels(solver, str(pictures), notice, name)


@pytest.mark.parametrize("source, name", [(None, "default"), ("", "default"), ("ctc", "ctc")])
def test_the_first_model_is_listed_under_its_bundled_name(source, name, tmp_path):
    solver, notice, listed = load_first(source)
    assert (notice, listed) == (None, name)
    models = ServedModels(solver, str(tmp_path), notice, listed)
    assert models.names == [name, *sorted({"default", "ctc", "ctc-170x80", "general"} - {name})]
    assert models.solver() is solver and models.config() == solver.config


def test_a_model_named_by_path_is_offered_beside_the_bundled_ones(tmp_path):
    model_path = str(tmp_path / "mine.keras")
    shutil.copy(solver_lib.BUNDLED_MODEL, model_path)
    models = offered(model_path, tmp_path / "pictures")
    assert models.names == [model_path, "ctc", "ctc-170x80", "default", "general"]
    assert models.solver().source == model_path
    assert page_text.model_headline(models.solver(model_path)).startswith(f"**Model:** {model_path}")
    assert page_text.model_headline(models.solver("default")).startswith("**Model:** bundled default model")


def test_a_model_that_cannot_be_loaded_falls_back_to_the_default_one(tmp_path):
    solver, notice, name = load_first(str(tmp_path / "missing.keras"))
    assert name == "default" and notice.startswith("Could not load the model")
    assert ServedModels(solver, str(tmp_path / "pictures"), notice, name).names == [
        "default", "ctc", "ctc-170x80", "general"]


def test_other_models_are_loaded_once_on_first_use_even_when_asked_for_at_once(monkeypatch, tmp_path):
    models = offered(None, tmp_path)
    loads = []
    monkeypatch.setattr(served_models.solver_lib, "load_solver",
                        lambda source, runtime: loads.append(source) or load_solver(source, runtime))
    assert loads == []
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(models.solver("ctc"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["ctc"]
    assert len(answers) == 4 and all(answer is answers[0] for answer in answers)
    assert answers[0].config.architecture == "ctc"


def test_a_name_not_on_offer_is_refused_with_the_names_that_are(tmp_path):
    models = offered(None, tmp_path)
    assert models.check("") == "default" and models.config("ctc").max_length == 8
    assert models.config_if_known("nope") is None
    with pytest.raises(ValueError, match=f"Unknown model 'nope'; the models are {OFFERED}."):
        models.config("nope")
    # Nothing but the first model was loaded to describe the others.
    assert list(models.loaded) == ["default"]


def test_the_identity_of_an_answer_names_the_fallback_only_for_the_first_model(tmp_path):
    solver = load_solver()
    models = ServedModels(solver, str(tmp_path), "Could not load the model 'x'.", "default")
    assert models.identity() == {"name": "default", "source": "bundled default model", "revision": solver.revision,
                                 "runtime": solver_lib.RUNTIME_NAMES[solver.runtime],
                                 "fallback": "Could not load the model 'x'."}
    assert models.identity("ctc")["fallback"] is None


def test_a_picture_of_a_size_the_chosen_model_never_read_goes_to_the_general_model(monkeypatch, tmp_path):
    # Any model file stands in for the general one: only its name and the chosen model's sizes decide.
    monkeypatch.setitem(solver_lib.BUNDLED_MODELS, served_models.GENERAL_MODEL, solver_lib.BUNDLED_MODELS["ctc"])
    models = offered(None, tmp_path)
    assert models.reader_of((170, 80)) == models.reader_of((170, 80), "default") == "default"
    assert models.reader_of((130, 48)) == models.reader_of((160, 60), "default") == "general"
    # ctc reads 120x50 to 240x100.
    assert models.reader_of((160, 60), "ctc") == "ctc" and models.reader_of((130, 48), "ctc") == "general"
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        models.reader_of((130, 48), "nope")


def test_without_a_general_model_the_chosen_model_reads_every_size(monkeypatch, tmp_path):
    monkeypatch.delitem(solver_lib.BUNDLED_MODELS, served_models.GENERAL_MODEL, raising=False)
    models = offered(None, tmp_path)
    assert models.reader_of((130, 48)) == "default" and models.reader_of((130, 48), "ctc") == "ctc"


def test_the_training_curve_is_the_one_drawn_beside_the_model_or_else_drawn_from_its_metrics(tmp_path):
    beside = os.path.join(os.path.dirname(solver_lib.BUNDLED_MODEL), "training_curve.png")
    curve = offered(None, tmp_path / "pictures").get("default").training_curve
    with open(curve, "rb") as served, open(beside, "rb") as drawn:
        assert served.read() == drawn.read()
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("model.keras", "metrics.json"):
        shutil.copy(os.path.join(os.path.dirname(solver_lib.BUNDLED_MODEL), name), folder / name)
    curve = offered(str(folder / "model.keras"), tmp_path / "others").get(str(folder / "model.keras")).training_curve
    with Image.open(curve) as picture:
        assert picture.format == "PNG" and picture.width > 100
