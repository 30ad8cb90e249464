"""Training for a site's own captchas: the config, the held-out split and the recipe of `train.py --data`.

A user brings a few thousand captchas of one site, labelled (see `captcha_model.data.labelled`).
The model for them starts from a bundled network (its convolutional trunk and column
reader already know what glyphs look like), reads the charset and lengths of the labels,
takes its input at the shape of the site's images, and trains on augmented copies of the
labelled images. A seeded share of them is held out: training never sees it, and the final
figure is measured on it.
"""

import dataclasses
import statistics

import numpy as np

# The bundled model a site's model starts from: it reads 1-8 characters on captchas of many sizes.
BASE_MODEL = "ctc"
# The flags of `train.py --data` unless the command line says otherwise: short epochs, so the
# clock is checked often, and a schedule that the time budget, not the epoch count, ends.
RECIPE = {
    "epochs": 200,
    "steps_per_epoch": 100,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "warmup_epochs": 1,
    "max_minutes": 15.0,
    "patience": 0,
    "calibration_batches": 16,
}
# Below this many usable labelled captchas, training would only learn them by heart.
MIN_LABELLED = 50
# With unlabelled captchas to learn from too (`self_training.py`), fewer typed labels can start the rounds.
MIN_TYPED_WITH_UNLABELLED = 30


def input_width_for(sizes, input_height, max_length):
    """The network's input width for images of `sizes`: their median aspect ratio at `input_height`.

    A multiple of 8, and wide enough that the CTC reader has two columns per character.
    """
    aspect = statistics.median(width / height for width, height in sizes)
    return max(8 * max_length, int(round(aspect * input_height / 8)) * 8)


def site_config(captchas, base_config, charset=None, lengths=None, input_size=None, source=None):
    """The `CaptchaConfig` for a site's captchas: the base network's architecture and input height,
    the charset and lengths of the labels and the images' shape, unless given.

    `lengths` is (min, max); `input_size` is (width, height); `source` describes the data for
    the config's record.
    """
    min_length, max_length = lengths or captchas.lengths
    sizes = [image.size for image in captchas.images]
    widths, heights = [width for width, _ in sizes], [height for _, height in sizes]
    if input_size is None:
        # The base network's trunk reads its input after pooling; the site's input keeps that pooling.
        pooling = base_config.input_pooling
        trunk_height = base_config.input_height // pooling
        input_size = input_width_for(sizes, trunk_height, max_length) * pooling, trunk_height * pooling
    width, height = statistics.median_low(widths), statistics.median_low(heights)
    return dataclasses.replace(
        base_config,
        charset=charset or captchas.charset,
        min_length=min_length, max_length=max_length,
        captcha_width=width, captcha_height=height,
        # At least 8 pixels either way: the smallest captcha the config accepts.
        captcha_width_range=(max(8, min(widths)), max(8, max(widths))),
        captcha_height_range=(max(8, min(heights)), max(8, max(heights))),
        input_width=input_size[0], input_height=input_size[1],
        site={"source": source or captchas.source},
    )


def split(captchas, share, seed):
    """(training, held out): a seeded `share` of `captchas` held out, the same for the same names and seed."""
    if not 0 < share < 1:
        raise ValueError(f"The held-out share must lie strictly between 0 and 1, got {share}.")
    held_count = max(1, int(round(len(captchas) * share)))
    if held_count >= len(captchas):
        raise ValueError(f"Holding out {share:.0%} of {len(captchas)} captchas would leave none to train on.")
    # Ordered by name first, so the split does not depend on the order the files were listed in.
    by_name = sorted(range(len(captchas)), key=lambda row: captchas.names[row])
    order = np.random.default_rng([seed, len(captchas)]).permutation(len(captchas))
    held = sorted(by_name[row] for row in order[:held_count])
    kept = sorted(by_name[row] for row in order[held_count:])
    return captchas.subset(kept), captchas.subset(held, f"{held_count} held-out captchas of {captchas.source}")


def readable(text, config):
    """Whether a model of `config` can read `text`: every character in its charset, the length in its range."""
    return set(text) <= set(config.charset) and config.min_length <= len(text) <= config.max_length


def unreadable_texts(captchas, config):
    """The rows of `captchas` whose text the config cannot read (a character outside its charset or
    a length outside its range), to leave out of training."""
    return [row for row, text in enumerate(captchas.texts) if not readable(text, config)]
