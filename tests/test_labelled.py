"""Reading a user's labelled captchas: both label shapes, zips, odd images, every kind of bad entry."""

import hashlib
import os
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from captcha_model.data.labelled import describe_skipped, label_from_name, read_labelled, read_partly_labelled

SITE_A_TRAIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                            "datasets", "site-a", "train")


def picture(width=120, height=40, mode="RGB", seed=0):
    """A small image of `mode` with some structure, different for every seed."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def write_csv_folder(folder, rows, newline="\r\n", bom=False):
    folder.mkdir(parents=True, exist_ok=True)
    text = newline.join(["file,text", *(f"{name},{label}" for name, label in rows)]) + newline
    (folder / "labels.csv").write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    for seed, (name, _) in enumerate(rows):
        picture(seed=seed).save(folder / name)
    return folder


def folder_digest(folder):
    return {path: hashlib.sha1(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*"))
            if path.is_file()}


@pytest.mark.parametrize("newline, bom", [("\r\n", True), ("\n", False), ("\r\n", False), ("\n", True)])
def test_labels_csv_with_either_line_end_and_an_optional_byte_order_mark(tmp_path, newline, bom):
    folder = write_csv_folder(tmp_path / "site", [("a.png", "7K2P"), ("b.png", "X9")], newline, bom)
    found = read_labelled(folder)
    assert (found.names, found.texts, found.skipped) == (["a.png", "b.png"], ["7K2P", "X9"], [])
    assert found.charset == "279KPX" and found.lengths == (2, 4)


def test_labels_from_file_names_before_the_first_underscore_or_dash(tmp_path):
    names = ["7K2P.png", "7K2P_0001.png", "7k2p-17.jpg", "AB12_x-y.gif"]
    for seed, name in enumerate(names):
        picture(seed=seed).save(tmp_path / name)
    found = read_labelled(tmp_path)
    assert dict(zip(found.names, found.texts)) == {"7K2P.png": "7K2P", "7K2P_0001.png": "7K2P",
                                                   "7k2p-17.jpg": "7k2p", "AB12_x-y.gif": "AB12"}
    assert read_labelled(tmp_path, uppercase=True).texts.count("7K2P") == 3
    assert label_from_name("dir/ZZ-1.png") == "ZZ"


@pytest.mark.parametrize("shape", ["csv", "names"])
def test_a_zip_of_either_shape_reads_like_the_folder(tmp_path, shape):
    folder = tmp_path / "site"
    if shape == "csv":
        write_csv_folder(folder, [("a.png", "AB"), ("b.png", "CD")])
    else:
        folder.mkdir()
        for seed, name in enumerate(["AB.png", "CD_1.png"]):
            picture(seed=seed).save(folder / name)
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in folder.iterdir():
            # Zips made by file managers hold their folder too.
            handle.write(path, f"site/{path.name}")
    from_folder, from_zip = read_labelled(folder), read_labelled(archive)
    assert from_zip.texts == from_folder.texts
    assert [np.asarray(image).tolist() for image in from_zip.images] == \
        [np.asarray(image).tolist() for image in from_folder.images]


def test_mixed_sizes_and_modes_are_all_read(tmp_path):
    transparent = Image.new("RGBA", (90, 30), (0, 0, 0, 0))
    transparent.paste((20, 20, 20, 255), (10, 5, 40, 25))
    sixteen_bit = Image.fromarray((np.arange(60 * 200).reshape(60, 200) % 65535).astype(np.uint16))
    images = {"RGBA.png": transparent, "P.png": picture(mode="P", seed=1), "L.png": picture(50, 20, "L", 2),
              "WIDE.png": sixteen_bit, "JPG.jpg": picture(160, 60, seed=3), "BMP.bmp": picture(seed=4),
              "WEBP.webp": picture(seed=5)}
    for name, image in images.items():
        image.save(tmp_path / name)
    found = read_labelled(tmp_path)
    assert sorted(found.texts) == sorted(os.path.splitext(name)[0] for name in images)
    assert found.skipped == []
    assert {image.size for image in found.images} == {(90, 30), (120, 40), (50, 20), (200, 60), (160, 60)}
    assert "sizes 120x40 (3)" in found.summary()


def test_every_kind_of_bad_entry_is_skipped_with_its_reason(tmp_path):
    folder = write_csv_folder(tmp_path / "site", [("good.png", "AB"), ("other.png", "CD")])
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "empty.png").write_bytes(b"")
    picture(seed=7).save(folder / "nolabel.png")
    picture(seed=8).save(folder / "blank.png")
    (folder / "copy.png").write_bytes((folder / "good.png").read_bytes())
    with open(folder / "labels.csv", "a", newline="") as handle:
        handle.write("broken.png,EF\r\nempty.png,GH\r\nmissing.png,IJ\r\nblank.png,\r\n"
                     "good.png,AB\r\ncopy.png,AB\r\n")
    before = folder_digest(folder)
    found = read_labelled(folder)
    assert found.texts == ["AB", "CD"]
    reasons = {name: reason.split(":")[0] for name, reason in found.skipped}
    assert reasons == {"nolabel.png": "image without a label", "broken.png": "unreadable image",
                       "empty.png": "unreadable image", "missing.png": "listed but missing",
                       "blank.png": "empty label", "good.png": "duplicate", "copy.png": "duplicate"}
    assert dict(found.skipped)["copy.png"] == "duplicate: same image as good.png"
    assert "Skipped 7: " in found.summary() and "listed but missing (1, e.g. missing.png)" in found.summary()
    assert folder_digest(folder) == before


def test_too_few_usable_captchas_are_refused_saying_what_is_accepted(tmp_path):
    write_csv_folder(tmp_path, [("a.png", "AB"), ("b.png", "")])
    with pytest.raises(ValueError, match=r"holds 1 usable labelled captchas; at least 5 are needed.*"
                                         r"labels.csv with columns file,text.*empty label \(1, e.g. b.png\)"):
        read_labelled(tmp_path, min_count=5)


@pytest.mark.parametrize("content, message", [
    (b"", "must start with the header 'file,text'"),
    (b"name,label\nA.png,AB\n", "must start with the header 'file,text'"),
    (b"file,text\n\xff\xfe,AB\n", "is not UTF-8 text"),
])
def test_a_malformed_labels_csv_says_what_is_expected(tmp_path, content, message):
    (tmp_path / "labels.csv").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_labelled(tmp_path)


def test_what_is_neither_folder_nor_zip_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for source in (tmp_path / "notes.txt", tmp_path / "absent"):
        with pytest.raises(ValueError, match="neither a folder nor a .zip archive"):
            read_labelled(source)


def test_a_zip_beyond_the_bounds_is_refused_before_decoding(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for index in range(6):
            handle.writestr(f"A{index}.png", b"\0" * 300_000)
    with pytest.raises(ValueError, match="holds 6 labelled images; at most 5 are accepted"):
        read_labelled(archive, max_count=5)
    with pytest.raises(ValueError, match="unpacks to 1.7 MB; at most 1 MB are accepted"):
        read_labelled(archive, max_bytes=2**20)


def test_describe_skipped_counts_each_reason_with_an_example():
    assert describe_skipped([("a.png", "empty label"), ("b.png", "empty label"), ("c.png", "unreadable image: x")]) \
        == "Skipped 3: empty label (2, e.g. a.png); unreadable image (1, e.g. c.png)."


@pytest.mark.skipif(not os.path.isdir(SITE_A_TRAIN), reason="the shared site-a data is not beside the checkout")
def test_the_shared_site_a_folder_parses():
    found = read_labelled(SITE_A_TRAIN)
    assert len(found) == 2000 and found.skipped == []
    assert found.lengths == (5, 5) and len(found.charset) > 20 and found.charset.isupper()
    assert {image.size for image in found.images} == {(130, 48)}


def test_a_zip_entry_that_unpacks_to_more_than_it_declares_is_skipped_as_unreadable(tmp_path):
    archive = tmp_path / "lying.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("AB.png", (write_csv_folder(tmp_path / "one", [("a.png", "AB")]) / "a.png").read_bytes())
        handle.writestr("CD.png", b"\0" * 2**20)
    content = bytearray(archive.read_bytes())
    # The size CD.png declares, in its local header and in the central directory: 1 MB claimed as 100 bytes.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = content.rfind(signature)
        content[start + offset : start + offset + 4] = struct.pack("<I", 100)
    archive.write_bytes(bytes(content))
    found = read_labelled(archive)
    assert found.texts == ["AB"]
    name, reason = found.skipped[0]
    assert name == "CD.png" and "damaged, encrypted or unsupported entry of the zip" in reason
    images = read_partly_labelled(archive)
    assert [(name, reason is None) for name, _, reason in images.decoded(images.names)] == [("AB.png", True),
                                                                                            ("CD.png", False)]


def test_partly_labelled_takes_labels_from_labels_csv_and_from_names_only_when_asked(tmp_path):
    for seed, name in enumerate(["0001.png", "0002.png", "7K2P.png"]):
        picture(seed=seed).save(tmp_path / name)
    images = read_partly_labelled(tmp_path)
    assert (images.names, images.typed, images.labels_from) == (["0001.png", "0002.png", "7K2P.png"], {}, "nothing")
    named = read_partly_labelled(tmp_path, labels_from_names=True)
    assert (named.typed["7K2P.png"], named.labels_from) == ("7K2P", "file names")
    # What train.py --data reads is unchanged: without a labels.csv, names are labels.
    assert read_labelled(tmp_path).texts == ["0001", "0002", "7K2P"]
    (tmp_path / "labels.csv").write_text("file,text\n0002.png,X9\n0001.png,\n")
    images = read_partly_labelled(tmp_path)
    assert (images.typed, images.labels_from) == ({"0002.png": "X9"}, "labels.csv")
    before = folder_digest(tmp_path)
    decoded = list(images.decoded(images.names))
    assert [image.size for _, image, _ in decoded] == [(120, 40)] * 3 and folder_digest(tmp_path) == before


def test_partly_labelled_names_are_those_of_the_labels_csv_inside_a_zip(tmp_path):
    folder = write_csv_folder(tmp_path / "site", [("a.png", "AB"), ("b.png", "")])
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in folder.iterdir():
            handle.write(path, f"site/{path.name}")
    images = read_partly_labelled(archive)
    assert (images.names, images.typed) == (["site/a.png", "site/b.png"], {"site/a.png": "AB"})
    assert [images.listed_as(name) for name in images.names] == ["a.png", "b.png"]


def test_a_models_readings_marked_typed_no_are_not_labels(tmp_path):
    # As `python -m captcha_model label` writes them, once a person typed or checked some rows.
    folder = write_csv_folder(tmp_path / "site", [("a.png", "7K2P"), ("b.png", "X9"), ("c.png", "Q1")])
    (folder / "labels.csv").write_text("file,text,confidence,typed\nb.png,X9,0.4121,no\nc.png,Q1,,yes\n"
                                       "a.png,7K2P,0.9900,NO\n")
    captchas = read_labelled(folder)
    assert captchas.texts == ["Q1"]
    assert sorted(captchas.skipped) == [("a.png", "a model's reading that no person checked (typed=no)"),
                                        ("b.png", "a model's reading that no person checked (typed=no)")]
    assert read_labelled(folder, uppercase=True).texts == ["Q1"]
    assert read_partly_labelled(folder).typed == {"c.png": "Q1"}
