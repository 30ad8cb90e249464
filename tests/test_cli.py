"""The command line: generate, solve and evaluate."""

import csv
import json
import subprocess
import sys

import pytest
from PIL import Image

from captcha_model import load_solver
from captcha_model.__main__ import main
from captcha_model.data import rendering, styles
from captcha_model.reading.evaluation import wilson_interval


def read_labels(folder):
    with open(folder / "labels.csv", newline="") as handle:
        return {row["file"]: row["text"] for row in csv.DictReader(handle)}


def test_generate_writes_pngs_and_labels_reproducibly(tmp_path, capsys):
    assert main(["generate", "--count", "12", "--seed", "5", "--out", str(tmp_path / "a")]) == 0
    assert main(["generate", "--count", "12", "--seed", "5", "--out", str(tmp_path / "b")]) == 0
    labels = read_labels(tmp_path / "a")
    assert list(labels) == [f"{index:02d}.png" for index in range(12)]
    assert labels == read_labels(tmp_path / "b")
    assert (tmp_path / "a" / "03.png").read_bytes() == (tmp_path / "b" / "03.png").read_bytes()
    assert "Wrote 12 captchas" in capsys.readouterr().out


def test_solve_prints_path_text_confidence(tmp_path, capsys):
    main(["generate", "--count", "20", "--seed", "6", "--out", str(tmp_path)])
    labels = read_labels(tmp_path)
    paths = [str(tmp_path / name) for name in labels]
    capsys.readouterr()
    assert main(["solve", *paths]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 20
    correct = 0
    for line, (name, truth) in zip(lines, labels.items()):
        path, text, confidence = line.split("\t")
        assert path.endswith(name)
        assert 0.0 <= float(confidence) <= 1.0
        correct += text == truth
    assert correct >= 19


def test_solve_reports_bad_files_and_keeps_going(tmp_path, capsys):
    main(["generate", "--count", "1", "--seed", "7", "--out", str(tmp_path)])
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    capsys.readouterr()
    assert main(["solve", str(bad), str(tmp_path / "0.png")]) == 1
    captured = capsys.readouterr()
    assert "Could not read the file as an image" in captured.err
    assert captured.out.startswith(str(tmp_path / "0.png"))


def test_solve_reads_pictures_of_sizes_the_default_model_never_read_with_the_general_model(tmp_path, capsys):
    library, other = tmp_path / "library.png", tmp_path / "other.png"
    rendering.sample_captcha(load_solver().config, 5)[1].save(library)
    styles.draw_general(5, 0, size=(130, 48))[1].save(other)
    capsys.readouterr()
    assert main(["solve", str(library), str(other)]) == 0
    captured = capsys.readouterr()
    texts = [line.split("\t")[1] for line in captured.out.strip().split("\n")]
    assert texts == [load_solver().solve([str(library)])[0].text, load_solver("general").solve([str(other)])[0].text]
    assert "The general model read 1 of the images" in captured.err
    # A model named reads every picture.
    assert main(["solve", "--model", "default", str(other)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split("\t")[1] == load_solver().solve([str(other)])[0].text and not captured.err


def test_evaluate_fresh_and_folder(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    assert main(["evaluate", "--count", "40", "--seed", "8", "--json", str(report_path)]) == 0
    assert "n=40" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["count"] == 40
    assert report["accuracy_95ci"] == pytest.approx(wilson_interval(report["correct"], report["count"]))
    main(["generate", "--count", "30", "--seed", "9", "--out", str(tmp_path / "frozen")])
    assert main(["evaluate", "--folder", str(tmp_path / "frozen")]) == 0
    assert "n=30" in capsys.readouterr().out


def test_evaluate_against_another_model_reads_the_same_captchas_with_both(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    assert main(["evaluate", "--count", "60", "--seed", "12", "--against", "ctc-170x80", "--json",
                 str(report_path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    against = report["against"]
    assert (against["model"], against["count"], against["source"]) == ("ctc-170x80", 60, report["source"])
    first_wrong = {failure["index"] for failure in report["failures"]}
    second_wrong = {failure["index"] for failure in against["failures"]}
    paired = against["paired"]
    assert (paired["first_only"], paired["second_only"]) == (len(second_wrong - first_wrong),
                                                             len(first_wrong - second_wrong))
    assert (f"default reads {paired['first_only']} that ctc-170x80 gets wrong, and ctc-170x80 reads "
            f"{paired['second_only']} that default gets wrong") in out


def test_errors_exit_non_zero_with_a_message(tmp_path, capsys):
    assert main(["generate", "--count", "0", "--seed", "1", "--out", str(tmp_path)]) == 2
    assert "--count must be at least 1" in capsys.readouterr().err
    assert main(["evaluate", "--folder", str(tmp_path)]) == 2
    assert "holds 0 usable labelled captchas; at least 1 are needed" in capsys.readouterr().err
    assert main(["solve", "x.png", "--model", str(tmp_path / "missing.keras")]) == 2
    assert "No model file" in capsys.readouterr().err


def test_module_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "captcha_model", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("solve", "evaluate", "generate"))


def test_size_and_length_choose_the_captchas(tmp_path, capsys):
    assert main(["generate", "--count", "6", "--seed", "10", "--out", str(tmp_path), "--size", "160x60",
                 "--length", "6"]) == 0
    labels = read_labels(tmp_path)
    assert {len(text) for text in labels.values()} == {6}
    with Image.open(tmp_path / "0.png") as image:
        assert image.size == (160, 60)
    capsys.readouterr()
    assert main(["evaluate", "--count", "20", "--seed", "11", "--model", "ctc", "--size", "200x70",
                 "--length", "5"]) == 0
    assert "20 fresh 200x70 captchas of 5 characters (seed 11)" in capsys.readouterr().out
    assert main(["evaluate", "--count", "5", "--size", "wide"]) == 2
    assert "WIDTHxHEIGHT in pixels, e.g. 160x60" in capsys.readouterr().err


def test_label_writes_readings_least_sure_first_then_the_typed_rows(tmp_path, capsys):
    folder, out = tmp_path / "site", tmp_path / "prelabels.csv"
    main(["generate", "--count", "30", "--seed", "13", "--out", str(folder)])
    truth = read_labels(folder)
    # A person has typed three of them; the rest are the model's to read.
    typed_names = ["04.png", "11.png", "27.png"]
    (folder / "labels.csv").write_text("file,text\n" + "".join(f"{name},{truth[name]}\n" for name in typed_names))
    (folder / "broken.png").write_bytes(b"not an image")
    capsys.readouterr()
    assert main(["label", str(folder), "--model", "ctc", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == (f"Wrote 30 rows to {out}: 27 read by ctc, the least sure first, then 3 typed "
                            "(labels from labels.csv).\n")
    assert "pre-labelling: 100%" in captured.err and "skipped broken.png: unreadable image" in captured.err
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["file", "text", "confidence", "typed"]
    read, typed = rows[:27], rows[27:]
    assert [(row["file"], row["text"], row["confidence"], row["typed"]) for row in typed] == [
        (name, truth[name], "", "yes") for name in typed_names]
    assert {row["typed"] for row in read} == {"no"} and all(len(row["confidence"]) == 6 for row in read)
    assert [float(row["confidence"]) for row in read] == sorted(float(row["confidence"]) for row in read)
    assert sum(row["text"] == truth[row["file"]] for row in read) >= 25
    assert main(["label", str(folder), "--model", "ctc", "--out", str(out)]) == 2
    assert "exists already; pass --force to replace it" in capsys.readouterr().err
    assert main(["label", str(folder), "--model", "ctc", "--out", str(out), "--force"]) == 0


def test_label_reads_with_the_general_model_where_it_is_bundled_else_with_ctc(tmp_path, capsys, monkeypatch):
    from captcha_model.reading.solver import BUNDLED_MODELS

    main(["generate", "--count", "3", "--seed", "14", "--out", str(tmp_path / "site")])
    (tmp_path / "site" / "labels.csv").unlink()
    monkeypatch.delitem(BUNDLED_MODELS, "general", raising=False)
    capsys.readouterr()
    assert main(["label", str(tmp_path / "site"), "--out", str(tmp_path / "by-ctc.csv")]) == 0
    assert "3 read by ctc, the least sure first" in capsys.readouterr().out
    monkeypatch.setitem(BUNDLED_MODELS, "general", BUNDLED_MODELS["ctc"])
    assert main(["label", str(tmp_path / "site"), "--out", str(tmp_path / "by-general.csv")]) == 0
    assert "3 read by general, the least sure first, none typed (no labels.csv; file names count as labels only " \
           "with --labels-from-names)" in capsys.readouterr().out


def test_evaluate_ignore_case_scores_labels_typed_in_the_other_case(tmp_path, capsys):
    main(["generate", "--count", "20", "--seed", "10", "--out", str(tmp_path)])
    labels = tmp_path / "labels.csv"
    labels.write_text(labels.read_text().lower())
    capsys.readouterr()
    main(["evaluate", "--folder", str(tmp_path)])
    assert "full-captcha accuracy 0.00%" in capsys.readouterr().out
    main(["evaluate", "--folder", str(tmp_path), "--ignore-case"])
    printed = capsys.readouterr().out
    assert "case ignored" in printed and "full-captcha accuracy 0.00%" not in printed
