"""The bench's bookkeeping: the provenance every section records, and RESULTS.md assembled from saved sections."""

import datetime
import hashlib
import json
import os
import sys
import types

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import provenance  # noqa: E402
import sections  # noqa: E402


def test_a_file_is_recorded_with_the_start_of_its_sha256_and_the_command(tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(b"not really a model, but bytes with a known digest")
    command = provenance.command("run.py", ["--quick", "--skip", "load", "--output", "/tmp/a folder"])
    record = provenance.record(command, [model, model])

    assert command == "python bench/run.py --quick --skip load --output '/tmp/a folder'"
    assert record["command"] == command
    assert record["date"] == datetime.date.today().isoformat()
    expected = hashlib.sha256(model.read_bytes()).hexdigest()[: provenance.DIGITS]
    assert record["model_files"] == [{"path": str(model), "sha256": expected}]
    assert f"`{command}`" in provenance.lines(record)[0]
    assert expected in provenance.lines(record)[1]


def test_the_files_of_bundled_models_are_their_keras_file_or_their_onnx_export():
    keras_files = provenance.model_files(None)
    onnx_files = provenance.model_files("ctc", "onnx")

    assert [os.path.relpath(path, provenance.ROOT) for path in keras_files] == [
        os.path.join("captcha_model", "bundled", "default", "model.keras")]
    assert [os.path.basename(path) for path in onnx_files] == ["model.onnx", "referee.onnx"]
    described = provenance.describe_file(keras_files[0])
    assert described["path"] == os.path.join("captcha_model", "bundled", "default", "model.keras")
    assert len(described["sha256"]) == provenance.DIGITS


def test_a_section_measured_before_files_were_recorded_says_so():
    lines = provenance.lines({"command": "python bench/load.py", "date": "2026-11-30", "model_files": None})

    assert lines == ["- measured by `python bench/load.py`, 2026-11-30", "- model files not recorded"]


def save_section(output, name, figure, command):
    record = provenance.record(command, [])
    sections.save(output, name, record, {"figure": figure}, [f"## Section {name}", "", f"The figure is {figure}."])


def test_a_skipped_section_keeps_its_text_and_a_measured_one_is_replaced(tmp_path):
    save_section(tmp_path, "sizes", 1, "python bench/run.py")
    save_section(tmp_path, "models", 2, "python bench/run.py")
    with open(tmp_path / "results" / "sizes.md") as handle:
        sizes_before = handle.read()
    # A second run that skips the sizes section.
    save_section(tmp_path, "models", 3, "python bench/run.py --skip sizes")
    text = (tmp_path / sections.assemble(tmp_path)).read_text()

    assert text.startswith("# Benchmark results\n")
    assert sizes_before.strip() in text
    assert "The figure is 3." in text and "The figure is 2." not in text
    assert "`python bench/run.py --skip sizes`" in text
    # Sections stand in their order, whichever was measured last.
    assert text.index("## Section models") < text.index("## Section sizes")
    with open(tmp_path / "results" / "models.json") as handle:
        saved = json.load(handle)
    assert saved["results"] == {"figure": 3}
    assert saved["provenance"]["command"] == "python bench/run.py --skip sizes"


def test_an_unknown_section_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a section"):
        save_section(tmp_path, "speed", 1, "python bench/run.py")


def test_every_section_the_bench_measures_has_its_place_in_results_and_can_be_skipped():
    import run

    assert set(run.SECTIONS) == set(sections.ORDER)
    assert set(run.SCRIPTS) <= set(run.SECTIONS) <= set(run.SKIP_CHOICES)


def test_the_labelling_bench_shows_the_typed_labels_alone_and_counts_the_labels_to_the_target(tmp_path):
    import labelling

    train = tmp_path / "train"
    train.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (train / name).write_bytes(b"png")
    captchas = types.SimpleNamespace(names=["a.png", "b.png", "c.png"], texts=["AAA", "BBB", "CCC"])
    labelling.write_typed_folder(str(train), captchas, ["c.png", "a.png"], str(tmp_path / "typing"))
    assert sorted(os.listdir(tmp_path / "typing")) == ["a.png", "b.png", "c.png", "labels.csv"]
    assert (tmp_path / "typing" / "labels.csv").read_text().splitlines() == [
        "file,text,confidence,typed", "a.png,AAA,,yes", "c.png,CCC,,yes"]
    # The images are the person's own files, linked rather than copied.
    assert os.path.samefile(train / "b.png", tmp_path / "typing" / "b.png")
    scores = [{"typed": 50, "accuracy": 0.9}, {"typed": 100, "accuracy": 0.991}, {"typed": 150, "accuracy": 0.995}]
    assert labelling.typed_to_reach(scores, 0.99) == 100 and labelling.typed_to_reach(scores, 0.999) is None


def test_the_general_readers_readings_are_split_by_the_components_each_captcha_was_drawn_with():
    import general_reader
    from common import FRESH_SEED

    from captcha_model.data import styles

    count = 40
    texts = [styles.draw_general(FRESH_SEED, index)[0] for index in range(count)]
    # Right on the captchas without decoration (in lower case: case is ignored), wrong on the others.
    drawn = [styles.general_style(FRESH_SEED, index) for index in range(count)]
    readings = [text.lower() if style.decoration == "none" and style.source == "drawn" else "?"
                for text, style in zip(texts, drawn)]
    split = general_reader.by_component(readings, texts)
    assert set(split) == {"source", "text length", *general_reader.COMPONENTS}
    library = sum(style.source == "library" for style in drawn)
    assert split["source"]["the captcha library's image"] == {**split["source"]["the captcha library's image"],
                                                              "n": library, "accuracy": 0.0}
    # Components split the captchas drawn here; source and length split them all.
    for name, groups in split.items():
        assert sum(score["n"] for score in groups.values()) == (count if name in ("source", "text length")
                                                                 else count - library)
    assert split["decoration"]["none"]["accuracy"] == 1.0
    assert all(score["accuracy"] == 0.0 for group, score in split["decoration"].items() if group != "none")


def test_the_general_start_is_ahead_only_where_it_reads_more_at_every_training_length():
    import general_start

    def run(start, epochs, accuracy):
        return {"start": start, "epochs": epochs, "training_minutes": epochs / 4, "accuracy": accuracy, "n": 1000,
                "low": accuracy - 0.01, "high": accuracy + 0.01, "character_accuracy": accuracy}

    ahead = [run("ctc", 10, 0.90), run("general", 10, 0.95), run("ctc", 40, 0.98), run("general", 40, 0.99)]
    behind_once = [*ahead[:3], run("general", 40, 0.98)]
    assert general_start.general_is_ahead(ahead) and not general_start.general_is_ahead(behind_once)
    text = "\n".join(general_start.lines({"data": "site", "labels": 100, "runs": behind_once}))
    assert "| general | 10 | 2.5 min | 95.00% (94.00%-96.00%, n=1,000) | 95.00% |" in text
    assert text.endswith("**misses target**.")
