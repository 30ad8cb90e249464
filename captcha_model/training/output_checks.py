"""Checks made before training starts: the output folder and the cache of rendered captchas have room.

A run that cannot write its results should fail in its first second, not after an hour of
training or many minutes of rendering.
"""

import contextlib
import math
import os
import shutil

from captcha_model.data import rendering
from captcha_model.training import recipes, settings as settings_lib


def check_output_directory(path, needed_megabytes=100, purpose="training"):
    """Fail now, not after an hour of training, if `path` cannot be written or lacks room for `purpose`."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write-test")
        with open(probe, "wb") as handle:
            handle.write(b"\0" * 4 * 1024 * 1024)
        # The workers of a cluster on one machine may check the same folder at once.
        with contextlib.suppress(FileNotFoundError):
            os.remove(probe)
    except OSError as error:
        raise ValueError(f"Cannot write to output directory {path!r}: {error.strerror or error}.") from error
    free_megabytes = shutil.disk_usage(path).free // 2**20
    if free_megabytes < needed_megabytes:
        raise ValueError(
            f"Only {free_megabytes:,} MB free under {path!r}; {purpose} needs at least {needed_megabytes:,} MB."
        )


def check_cache_directory(settings, config):
    """Fail now if the training pool is to be rendered but `--cache-dir` has no room to keep it.

    Rendering a large pool takes many minutes, and the pool is written only after that.
    """
    path = rendering.cache_path(config, settings.seed, settings.train_size, settings.cache_dir, settings.emphasis())
    if not settings.train_size or os.path.exists(path):
        return
    check_output_directory(
        settings.cache_dir, math.ceil(rendering.cache_bytes(config, settings.train_size) / 2**20),
        f"the cache of {settings.train_size:,} rendered captchas (--train-size)",
    )


def check_recipe_caches(recipe, output, shared):
    """Fail now, not hours into a recipe, if the pool of one of its network stages has no room in --cache-dir.

    `recipe`, `output` and `shared` are as `recipes.run` takes them.
    """
    for stage in recipes.load(recipe)["stages"]:
        if stage["kind"] == "train":
            stage_settings = settings_lib.parse(recipes.stage_arguments(stage, output, shared))
            check_cache_directory(stage_settings, stage_settings.network_config())
