"""Pre-labelling (`captcha_model.reading.prelabel`): readings least sure first, typed labels kept, every bad input."""

import csv
import os
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from captcha_model import load_solver
from captcha_model.config import CaptchaConfig
from captcha_model.data.labelled import read_labelled, read_partly_labelled
from captcha_model.data.rendering import sample_captcha
from captcha_model.reading import prelabel as prelabel_module
from captcha_model.reading.decoding import Reading
from captcha_model.reading.prelabel import check_output, default_model, prelabel, write_prelabels
from captcha_model.reading.solver import BUNDLED_MODELS


class ShadeSolver:
    """A stand-in model: it reads a solid grey image of shade `v` as f"T{v}" with confidence v/255, and
    counts the images and batches it is given."""

    def __init__(self, config=None):
        self.config = config or CaptchaConfig()
        self.read = []
        self.batches = 0

    def solve(self, images):
        self.batches += 1
        shades = [int(np.asarray(image.convert("L"))[0, 0]) for image in images]
        self.read += shades
        return [Reading(f"T{shade}", shade / 255, (shade / 255,)) for shade in shades]


def shade(folder, name, value):
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (60, 20), value).save(folder / name)


def write_labels(folder, rows):
    (folder / "labels.csv").write_text("file,text\n" + "".join(f"{name},{text}\n" for name, text in rows))


def table(result):
    return [row.cells() for row in result.rows]


def snapshot(folder):
    """Every file and folder below `folder`, with its bytes and modification time."""
    return {path: (path.is_file() and path.read_bytes(), path.stat().st_mtime_ns) for path in folder.rglob("*")}


@pytest.fixture(scope="module")
def ctc():
    return load_solver("ctc")


@pytest.fixture
def seeded(tmp_path, ctc):
    """A folder of 24 seeded captchas the ctc model reads, numbered files with no labels.csv, and their texts."""
    folder = tmp_path / "site"
    folder.mkdir()
    truth = {}
    for index in range(24):
        text, image = sample_captcha(ctc.config.at(160, 60), 21, index)
        image.save(folder / f"{index + 1:04d}.png")
        truth[f"{index + 1:04d}.png"] = text
    return folder, truth


def test_a_folder_round_trips_to_the_labels_read_back(seeded, ctc, tmp_path):
    folder, truth = seeded
    before = snapshot(folder)
    result = prelabel(folder, ctc)
    assert snapshot(folder) == before
    assert sorted(row.file for row in result.rows) == sorted(truth)
    assert not any(row.typed for row in result.rows) and result.labels_from == "nothing"
    # The numbered names are not labels: every text is the model's reading, and nearly all are right.
    assert sum(row.text == truth[row.file] for row in result.rows) >= 22
    out = tmp_path / "prelabels.csv"
    write_prelabels(result.rows, out, folder)
    with open(out, newline="") as handle:
        assert next(csv.reader(handle)) == ["file", "text", "confidence", "typed"]
    copy = tmp_path / "checked"
    shutil.copytree(folder, copy)
    # As written, every row is the model's reading, which no person checked: none is a label yet.
    shutil.copy(out, copy / "labels.csv")
    assert read_partly_labelled(copy).typed == {}
    # Checked by a person, rows marked typed=yes, they are.
    (copy / "labels.csv").write_text(out.read_text().replace(",no\n", ",yes\n").replace(",no\r\n", ",yes\r\n"))
    found = read_labelled(copy)
    assert dict(zip(found.names, found.texts)) == {row.file: row.text for row in result.rows}


def test_the_least_sure_reading_comes_first(seeded, ctc):
    confidences = [row.confidence for row in prelabel(seeded[0], ctc).rows]
    assert confidences == sorted(confidences) and confidences[0] < confidences[-1]


def test_readings_come_least_sure_first_and_typed_rows_last_as_typed(tmp_path):
    for name, value in [("a.png", 200), ("b.png", 40), ("c.png", 120), ("d.png", 10), ("e.png", 90)]:
        shade(tmp_path, name, value)
    # d.png is typed wrongly on purpose: a person's text is kept whatever the model would read.
    write_labels(tmp_path, [("d.png", "XY"), ("a.png", "AB"), ("c.png", "")])
    solver = ShadeSolver()
    result = prelabel(tmp_path, solver)
    assert table(result) == [["b.png", "T40", "0.1569", "no"], ["e.png", "T90", "0.3529", "no"],
                             ["c.png", "T120", "0.4706", "no"], ["a.png", "AB", "", "yes"],
                             ["d.png", "XY", "", "yes"]]
    assert sorted(solver.read) == [40, 90, 120]
    assert (result.read_count, result.typed_count, result.labels_from) == (3, 2, "labels.csv")


def test_readings_are_made_in_batches(tmp_path):
    for value in range(10):
        shade(tmp_path, f"{value:02d}.png", value * 20)
    solver = ShadeSolver()
    result = prelabel(tmp_path, solver, batch_size=4)
    assert solver.batches == 3 and len(result.rows) == 10


def test_names_count_as_labels_only_when_asked(tmp_path):
    shade(tmp_path, "7K2P.png", 30)
    shade(tmp_path, "AB12_0001.png", 60)
    shade(tmp_path, "_0002.png", 90)
    assert not any(row.typed for row in prelabel(tmp_path, ShadeSolver()).rows)
    result = prelabel(tmp_path, ShadeSolver(), labels_from_names=True)
    # A name with no text before its separator is no label: the model reads that image.
    assert table(result) == [["_0002.png", "T90", "0.3529", "no"], ["7K2P.png", "7K2P", "", "yes"],
                             ["AB12_0001.png", "AB12", "", "yes"]]
    assert result.labels_from == "file names"
    write_labels(tmp_path, [("7K2P.png", "7K2P")])
    with pytest.raises(ValueError, match="has a labels.csv, whose rows are its labels.*leave out --labels-from-names"):
        prelabel(tmp_path, ShadeSolver(), labels_from_names=True)


def test_a_copy_of_an_image_is_read_once_and_a_typed_copy_is_the_one_kept(tmp_path):
    shade(tmp_path, "a.png", 50)
    shade(tmp_path, "c.png", 70)
    shutil.copy(tmp_path / "a.png", tmp_path / "b.png")
    shutil.copy(tmp_path / "c.png", tmp_path / "d.png")
    write_labels(tmp_path, [("d.png", "CD")])
    solver = ShadeSolver()
    result = prelabel(tmp_path, solver)
    assert table(result) == [["a.png", "T50", "0.1961", "no"], ["d.png", "CD", "", "yes"]]
    assert sorted(result.skipped) == [("b.png", "duplicate: same image as a.png"),
                                      ("c.png", "duplicate: same image as d.png")]
    assert solver.read == [50]


def test_unreadable_images_and_bad_rows_are_skipped_with_reasons(tmp_path):
    shade(tmp_path, "good.png", 80)
    shade(tmp_path, "typed.png", 90)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not listed, not an image: not read")
    write_labels(tmp_path, [("typed.png", "AB"), ("missing.png", "CD"), ("typed.png", "EF")])
    result = prelabel(tmp_path, ShadeSolver())
    assert table(result) == [["good.png", "T80", "0.3137", "no"], ["typed.png", "AB", "", "yes"]]
    reasons = {name: reason.split(":")[0] for name, reason in result.skipped}
    assert reasons == {"broken.png": "unreadable image", "empty.jpg": "unreadable image",
                       "missing.png": "listed but missing", "typed.png": "duplicate"}


def test_typed_characters_the_model_does_not_read_are_kept_with_a_warning(tmp_path):
    shade(tmp_path, "a.png", 10)
    shade(tmp_path, "b.png", 20)
    shade(tmp_path, "c.png", 30)
    write_labels(tmp_path, [("a.png", "ab#1"), ("b.png", "AB12")])
    result = prelabel(tmp_path, ShadeSolver())
    assert [row.text for row in result.rows if row.typed] == ["ab#1", "AB12"]
    assert result.warnings == ["1 typed labels hold characters the model does not read ('#ab'), e.g. a.png "
                               "'ab#1'; they are kept as typed."]
    # A model of a site that ignores case reads labels in upper case: only '#' is foreign to it.
    site = CaptchaConfig(site={"source": "x", "uppercase": True})
    assert "('#')" in prelabel(tmp_path, ShadeSolver(site)).warnings[0]


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir(), "holds no images. Accepted: files ending in .png"),
    (lambda path: zipfile.ZipFile(path, "w").close(), "holds no images"),
    (lambda path: path.write_text("hello"), "neither a folder nor a .zip archive of captchas"),
])
def test_a_source_without_images_is_refused_saying_what_is_accepted(tmp_path, make, message):
    source = tmp_path / ("source.zip" if "zip" in make.__code__.co_names else "source")
    make(source)
    with pytest.raises(ValueError, match=message):
        prelabel(source, ShadeSolver())


def test_a_source_of_unreadable_images_only_is_refused_with_the_reasons(tmp_path):
    (tmp_path / "a.png").write_bytes(b"no image")
    with pytest.raises(ValueError, match=r"holds no readable image. Skipped 1: unreadable image \(1, e.g. a.png\)"):
        prelabel(tmp_path, ShadeSolver())


def test_a_zip_reads_as_its_folder_does(tmp_path):
    folder = tmp_path / "site"
    for name, value in [("a.png", 30), ("b.png", 60), ("sub/c.png", 90)]:
        shade(folder, name, value)
    write_labels(folder, [("b.png", "BB")])
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*")):
            # Zips made by file managers hold their folder too: names stay those of the folder's labels.csv.
            handle.write(path, f"site/{path.relative_to(folder).as_posix()}")
    before = snapshot(tmp_path)
    assert table(prelabel(archive, ShadeSolver())) == table(prelabel(folder, ShadeSolver())) == [
        ["a.png", "T30", "0.1176", "no"], ["sub/c.png", "T90", "0.3529", "no"], ["b.png", "BB", "", "yes"]]
    assert snapshot(tmp_path) == before


def test_images_outside_the_folder_of_labels_csv_are_skipped(tmp_path):
    shade(tmp_path, "site/a.png", 30)
    shade(tmp_path, "loose.png", 60)
    write_labels(tmp_path / "site", [("a.png", "AA")])
    result = prelabel(tmp_path, ShadeSolver())
    assert table(result) == [["a.png", "AA", "", "yes"]]
    assert result.skipped == [("loose.png", "outside site/, the folder of labels.csv")]


def test_a_zip_bomb_is_refused_before_anything_is_decoded(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for index in range(3):
            handle.writestr(f"{index}.png", b"\0" * 2**20)
    assert archive.stat().st_size < 20_000
    with pytest.raises(ValueError, match="bomb.zip unpacks to 3.0 MB; at most 2 MB are accepted"):
        prelabel(archive, ShadeSolver(), max_bytes=2 * 2**20)
    with pytest.raises(ValueError, match="bomb.zip holds 3 images; at most 2 are accepted"):
        prelabel(archive, ShadeSolver(), max_count=2)
    assert prelabel_module.MAX_ZIP_BYTES == 2**30 and prelabel_module.MAX_IMAGES == 100_000


def test_the_output_is_refused_inside_the_source_or_over_a_file_without_force(tmp_path):
    folder = tmp_path / "site"
    shade(folder, "a.png", 10)
    write_labels(folder, [("a.png", "AB")])
    for inside in (folder / "labels.csv", folder / "new.csv", folder):
        with pytest.raises(ValueError, match="is inside the input .*which pre-labelling never changes"):
            check_output(inside, folder, force=True)
    archive = tmp_path / "site.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(ValueError, match="is inside the input"):
        check_output(archive, archive, force=True)
    existing = tmp_path / "prelabels.csv"
    existing.write_text("mine")
    with pytest.raises(ValueError, match="exists already; pass --force to replace it"):
        check_output(existing, folder)
    with pytest.raises(ValueError, match="does not exist"):
        check_output(tmp_path / "absent" / "out.csv", folder)
    check_output(existing, folder, force=True)
    check_output(tmp_path / "fresh.csv", folder)


def test_the_output_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    shade(folder, "a.png", 10)
    rows = prelabel(folder, ShadeSolver()).rows
    out = tmp_path / "out.csv"
    out.write_text("before")
    monkeypatch.setattr(prelabel_module.csv, "writer", lambda handle: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_prelabels(rows, out, folder, force=True)
    assert out.read_text() == "before" and sorted(os.listdir(tmp_path)) == ["out.csv", "site"]
    monkeypatch.undo()
    write_prelabels(rows, out, folder, force=True)
    assert out.read_text().splitlines() == ["file,text,confidence,typed", "a.png,T10,0.0392,no"]
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_the_default_model_is_the_general_one_where_it_is_bundled_else_ctc(monkeypatch):
    monkeypatch.delitem(BUNDLED_MODELS, "general", raising=False)
    assert default_model() == "ctc"
    monkeypatch.setitem(BUNDLED_MODELS, "general", BUNDLED_MODELS["ctc"])
    assert default_model() == "general"
