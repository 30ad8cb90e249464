"""Seeded streams of captchas: texts, sizes, images, and pools of them rendered in parallel.

A config's `family` says which captchas its streams hold: the `captcha` library's
("library", drawn reproducibly through `library_images`) or the project's general family
("general", `styles.draw_general`). Either way `sample_captcha(config, seed, index)` is a pure
function of its arguments, so any worker can draw any sample. Images become network input
through `preprocessing.preprocess`. Keras is not needed here (training's stream of batches is
in `training.pipeline`).
"""

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import random
import sys

import numpy as np
from tqdm.auto import tqdm

from captcha_model.data import styles
from captcha_model.data.library_images import LIBRARY_DEFAULT_SIZE, draw_library
from captcha_model.data.preprocessing import check_charset, check_text, preprocess

# Seconds between redraws of the rendering progress bar where it goes to a log file rather than a terminal:
# every redraw stays in a log, and a pool takes minutes to render.
LOGGED_PROGRESS_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Emphasis:
    """Training captchas that show some characters more often than the uniform charset does.

    Each character of a text is drawn from `characters` with probability `share`, else
    from the whole charset. `0` and `O` make most errors, yet uniform texts give them 2
    characters in 36; emphasis lets training spend more of its samples on them. It
    shapes training data only: validation and tests keep uniform texts.
    """

    characters: str
    share: float = 0.3

    def __post_init__(self):
        if not self.characters:
            raise ValueError("Emphasis needs at least one character, e.g. '0O'.")
        if not 0.0 < self.share <= 1.0:
            raise ValueError(f"Emphasis share must lie in (0, 1], got {self.share}.")

    def check(self, config):
        """Raise ValueError unless every emphasized character is in the config's charset and its family draws
        the library's texts."""
        if config.family != "library":
            raise ValueError("Emphasis draws the captcha library's texts; the general family draws its own.")
        check_charset(f"Emphasis {self.characters!r}", self.characters, config)


def random_text(rng, config, length=None, emphasis=None):
    """Draw a captcha text from `rng`: random length in the config's range unless given.

    Without `emphasis` every character is uniform over the charset.
    """
    if length is None:
        length = rng.randint(config.min_length, config.max_length)
    if emphasis is None:
        return "".join(rng.choice(config.charset) for _ in range(length))
    return "".join(
        rng.choice(emphasis.characters) if rng.random() < emphasis.share else rng.choice(config.charset)
        for _ in range(length)
    )


def random_size(rng, config):
    """Draw a captcha size (width, height) for `config` from `rng`.

    A config of one size always gives it (and draws nothing, so the streams of such
    configs never change). With size ranges, 40% of captchas have the config's own
    size, 20% the library's default size where it lies in the ranges, and the rest a
    width and height drawn independently from the ranges, so aspect ratios vary too.
    """
    if config.fixed_size:
        return config.captcha_width, config.captcha_height
    draw = rng.random()
    if draw < 0.4:
        return config.captcha_width, config.captcha_height
    if draw < 0.6 and config.covers(*LIBRARY_DEFAULT_SIZE):
        return LIBRARY_DEFAULT_SIZE
    return rng.randint(*config.captcha_width_range), rng.randint(*config.captcha_height_range)


def sample_captcha(config, seed, index=0, text=None, emphasis=None):
    """The `index`-th captcha of the stream named by `seed`: (text, RGB image).

    Each sample has its own RNG, so any worker can draw any sample and a stream is
    the same however it is split between processes. `emphasis` (an `Emphasis`) draws
    the text with some characters more often (the library's family only).
    """
    if text is not None:
        check_text(text, config)
    if emphasis is not None:
        emphasis.check(config)
    if config.family == "general":
        return _sample_general(config, seed, index, text)
    rng = random.Random(f"sample:{seed}:{index}")
    if text is None:
        text = random_text(rng, config, emphasis=emphasis)
    image = draw_library(text, rng, *random_size(rng, config))
    return text, image


def _sample_general(config, seed, index, text):
    """A general captcha of the stream, at the config's size where it has one and of its lengths."""
    size = (config.captcha_width, config.captcha_height) if config.fixed_size else None
    length = None
    if text is None and (config.min_length, config.max_length) != (styles.MIN_LENGTH, styles.MAX_LENGTH):
        length = random.Random(f"length:{seed}:{index}").randint(config.min_length, config.max_length)
    return styles.draw_general(seed, index, text=text, size=size, length=length)


def draw_range(config, seed, start, count, emphasis=None):
    """Samples start..start+count of a seeded stream as (PIL images, texts)."""
    texts, images = [], []
    for index in range(start, start + count):
        text, image = sample_captcha(config, seed, index, emphasis=emphasis)
        texts.append(text)
        images.append(image)
    return images, texts


def render_range(config, seed, start, count, emphasis=None):
    """Samples start..start+count of a seeded stream as (model input, texts)."""
    images, texts = draw_range(config, seed, start, count, emphasis)
    return preprocess(images, config), texts


def _render_chunk(arguments):
    return render_range(*arguments)


def render_dataset(config, seed, count, workers=None, chunk_size=256, progress=True, emphasis=None):
    """Render `count` samples of a seeded stream in parallel worker processes.

    Returns (uint8 inputs of shape (count, H, W, 1), list of texts); the result does
    not depend on the number of workers.
    """
    workers = workers or multiprocessing.cpu_count()
    chunks = [
        (config, seed, start, min(chunk_size, count - start), emphasis) for start in range(0, count, chunk_size)
    ]
    inputs = np.empty(
        (count, config.input_height, config.input_width, config.input_channels), dtype=np.uint8
    )
    texts = []
    bar = tqdm(total=count, desc=f"rendering captchas (seed {seed})", unit="img", disable=not progress,
               mininterval=0.1 if sys.stderr.isatty() else LOGGED_PROGRESS_SECONDS)
    with contextlib.ExitStack() as stack:
        # One worker renders in this process, which saves starting one (seconds: it imports the package).
        results = map(_render_chunk, chunks)
        if workers > 1:
            # Spawned workers start clean instead of inheriting a forked TensorFlow runtime.
            results = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers)).imap(_render_chunk,
                                                                                                   chunks)
        for (_, _, start, size, _), (chunk_inputs, chunk_texts) in zip(chunks, results):
            inputs[start : start + size] = chunk_inputs
            texts.extend(chunk_texts)
            bar.update(size)
    bar.close()
    return inputs, texts


def cache_path(config, seed, count, cache_dir, emphasis=None):
    """Where `cached_dataset` keeps the rendered samples of this stream."""
    # The network (architecture, trunk widths, input pooling) does not change the pixels, so
    # models of every kind share a cache; the key keeps the spelling it had before those existed.
    pixels = {**config.to_dict(), "architecture": "any"}
    del pixels["trunk_widths"], pixels["input_pooling"], pixels["site"]
    if config.family == "library":
        # The library's pools keep the key they had before the general family existed.
        del pixels["family"]
    # Uniform pools keep the key they had before emphasis existed. Emphasized ones are keyed
    # by what shapes their texts, spelled out, so that a field added to Emphasis later does
    # not rename every pool rendered before it (this spelling is the dataclass repr of today).
    texts = "" if emphasis is None else f"|Emphasis(characters={emphasis.characters!r}, share={emphasis.share!r})"
    pixels = json.dumps(pixels, indent=2, sort_keys=True)
    key = hashlib.sha1(f"{pixels}|{seed}|{count}{texts}".encode()).hexdigest()[:12]
    return os.path.join(cache_dir, f"captchas-{seed}-{count}-{key}.npz")


def cache_bytes(config, count):
    """About how many bytes the cache file of `count` samples takes: their pixels and texts."""
    return count * (config.input_height * config.input_width * config.input_channels + 4 * config.max_length)


def cached_dataset(config, seed, count, cache_dir, workers=None, emphasis=None):
    """`render_dataset`, kept in `cache_dir` so a resumed or repeated run renders nothing twice."""
    path = cache_path(config, seed, count, cache_dir, emphasis)
    if os.path.exists(path):
        with np.load(path) as stored:
            return stored["inputs"], [str(text) for text in stored["texts"]]
    inputs, texts = render_dataset(config, seed, count, workers=workers, emphasis=emphasis)
    os.makedirs(cache_dir, exist_ok=True)
    # Named per process: the workers of a cluster on one machine may render the same pool.
    partial = f"{path}.partial-{os.getpid()}.npz"
    try:
        np.savez(partial, inputs=inputs, texts=np.array(texts))
        os.replace(partial, path)
    finally:
        # A write cut short, by a full disk for one, must not leave gigabytes behind.
        if os.path.exists(partial):
            os.remove(partial)
    return inputs, texts
