"""PictureStore: one file per picture, pruned oldest first by total size and by age."""

import os
import shutil
import time

import pytest
from PIL import Image

from captcha_app.picture_store import PictureStore


def picture(shade, size=64):
    return Image.new("L", (size, size), shade)


def test_the_same_picture_is_stored_once(tmp_path):
    store = PictureStore(tmp_path, 10**6, 60)
    first, second = store.save(picture(10), "captcha"), store.save(picture(10), "captcha")
    assert first == second and len(os.listdir(tmp_path)) == 1
    assert store.total_bytes == os.path.getsize(first)
    with Image.open(first) as stored:
        assert stored.tobytes() == picture(10).tobytes()


def test_the_oldest_files_go_beyond_the_size_bound_and_the_newest_stays(tmp_path):
    probe = PictureStore(tmp_path / "probe", 10**6, 60)
    sizes = [os.path.getsize(probe.save(picture(shade), "p")) for shade in range(6)]
    store = PictureStore(tmp_path / "store", sum(sizes[3:]), 60)
    paths = [store.save(picture(shade), "p") for shade in range(6)]
    assert [os.path.exists(path) for path in paths] == [False, False, False, True, True, True]
    assert store.total_bytes == sum(sizes[3:])
    # Shown again, a picture counts as new.
    store.save(picture(3), "p")
    store.save(picture(6), "p")
    assert not os.path.exists(paths[4]) and os.path.exists(paths[3])
    # A file larger than the bound is kept while it is the newest.
    big = store.save(Image.effect_noise((200, 200), 80), "big")
    assert os.path.exists(big) and store.total_bytes == os.path.getsize(big)


def test_files_older_than_the_age_bound_go_and_kept_files_are_never_counted(tmp_path):
    upload = tmp_path / "upload" / "captcha.png"
    upload.parent.mkdir()
    picture(1).save(upload)
    example = tmp_path / "example.png"
    picture(2).save(example)
    # Gradio serves a clicked example from a copy of its own, wherever it put it.
    served_example = tmp_path / "served" / "example.png"
    served_example.parent.mkdir()
    shutil.copy(example, served_example)
    store = PictureStore(tmp_path / "store", 10**6, 0.2)
    store.keep([str(example)])
    store.add(str(upload))
    store.add(str(example))
    store.add(str(served_example))
    assert list(store.files) == [str(upload)]
    time.sleep(0.3)
    store.save(picture(3), "p")
    # The upload, now too old, went with its folder; the example was never the store's to delete.
    assert not upload.parent.exists() and example.exists() and served_example.exists()


def test_a_store_needs_bounds(tmp_path):
    with pytest.raises(ValueError, match="positive size and age bound"):
        PictureStore(tmp_path, 0, 60)
