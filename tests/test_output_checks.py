"""Checks before training: an output folder that cannot be written or lacks room, and a cache too small for the pool
to be rendered, fail at once; a pool already rendered, or none to render, needs no room."""

import collections
import os
import shutil

import pytest

from captcha_model.data import rendering
from captcha_model.training import output_checks, settings as settings_lib

Usage = collections.namedtuple("Usage", "total used free")


def free_megabytes(monkeypatch, megabytes):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(2**40, 2**40 - megabytes * 2**20, megabytes * 2**20))


def test_a_folder_is_made_and_checked_for_room_without_leaving_its_probe(tmp_path, monkeypatch):
    folder = str(tmp_path / "new" / "run")
    output_checks.check_output_directory(folder)
    assert os.listdir(folder) == []
    free_megabytes(monkeypatch, 99)
    with pytest.raises(ValueError, match=r"Only 99 MB free under .*run'; exporting needs at least 1,000 MB\."):
        output_checks.check_output_directory(folder, 1000, "exporting")


def test_a_path_below_a_file_cannot_be_written(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ValueError, match="Cannot write to output directory .*a-file/run'"):
        output_checks.check_output_directory(str(tmp_path / "a-file" / "run"))


def test_the_cache_needs_room_only_for_a_pool_not_yet_rendered(tmp_path, monkeypatch):
    free_megabytes(monkeypatch, 10)
    settings = settings_lib.parse(["--train-size", "40000", "--cache-dir", str(tmp_path)])
    config = settings.network_config()
    # 40,000 captchas of 40x88 pixels and 4 characters: 141,440,000 bytes, 135 MB rounded up.
    with pytest.raises(ValueError, match=r"the cache of 40,000 rendered captchas \(--train-size\) needs at least "
                                         "135 MB"):
        output_checks.check_cache_directory(settings, config)
    output_checks.check_cache_directory(settings_lib.parse(["--train-size", "0", "--cache-dir", str(tmp_path)]),
                                        config)
    with open(rendering.cache_path(config, settings.seed, settings.train_size, settings.cache_dir), "wb"):
        pass
    output_checks.check_cache_directory(settings, config)
