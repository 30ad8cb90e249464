"""The seeds of the captcha streams: training, validation and test never share one.

A run trains on the stream of its seed, validates on its seed plus VALIDATION_SEED_OFFSET
and is tested on its seed plus TEST_SEED_OFFSET, so no accuracy figure is measured on a
captcha the model trained on; a model's metrics.json says which seeds its stages used.
"""


# A stage that trains on the stream of captchas of --seed validates and tests on these streams.
VALIDATION_SEED_OFFSET = 1_000_000


TEST_SEED_OFFSET = 2_000_000


def stage_seeds(metrics):
    """The seeds of the captcha streams a model's stages trained on, from its metrics.json.

    The stages are those of its lineage, or, for a model of one run, that run and its referee.
    Each also validated and tested on its seed plus VALIDATION_SEED_OFFSET and TEST_SEED_OFFSET.
    """
    stages = (metrics.get("lineage") or {}).get("stages") or [
        {"seed": (metrics.get("args") or {}).get("seed")},
        {"seed": ((metrics.get("referee") or {}).get("args") or {}).get("seed")},
    ]
    return sorted({stage["seed"] for stage in stages if stage.get("seed") is not None})


def streams_of(seeds):
    """The seeds of every stream stages of these seeds drew from: training, validation and test."""
    return sorted(seed + offset for seed in seeds for offset in (0, VALIDATION_SEED_OFFSET, TEST_SEED_OFFSET))


def seeds_drawn(metrics):
    """Every seed whose captchas a model trained, validated or tested on: captchas of others it never saw."""
    return streams_of(stage_seeds(metrics))
