"""Measuring a solver: accuracy with its uncertainty, confusions, failures and speed.

Test captchas come from a seeded stream (fresh captchas, reproducible) or from a
folder of labelled captchas: a `labels.csv` (as `python -m captcha_model generate` writes
it) or images named for their text, see `captcha_model.data.labelled`.
"""

import collections
import dataclasses
import math
import time

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from captcha_model.data import labelled, preprocessing, rendering

CHUNK = 500


def wilson_interval(successes, total, z=1.96):
    """95% Wilson score interval for a proportion; sound even at 0% or 100%."""
    if total == 0:
        return 0.0, 1.0
    proportion = successes / total
    denominator = 1 + z**2 / total
    centre = (proportion + z**2 / (2 * total)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / total + z**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def edit_distance(first, second):
    """Levenshtein distance between two strings."""
    previous = list(range(len(second) + 1))
    for row, first_character in enumerate(first, start=1):
        current = [row]
        for column, second_character in enumerate(second, start=1):
            current.append(min(
                previous[column] + 1,
                current[column - 1] + 1,
                previous[column - 1] + (first_character != second_character),
            ))
        previous = current
    return previous[-1]


def mcnemar_p_value(first_only, second_only):
    """Exact two-sided McNemar p-value: the chance of a split of the discordant captchas at least this uneven,
    were the two solvers equally good."""
    discordant = first_only + second_only
    tail = sum(math.comb(discordant, k) for k in range(min(first_only, second_only) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def paired(first, second):
    """How two `Report`s of the same captchas differ: each solver's captchas the other gets wrong, and the
    exact McNemar p-value of that split."""
    if (first.count, first.source) != (second.count, second.source):
        raise ValueError(f"A paired comparison needs the same captchas; got {first.source} and {second.source}.")
    first_wrong = {failure.index for failure in first.failures}
    second_wrong = {failure.index for failure in second.failures}
    first_only, second_only = len(second_wrong - first_wrong), len(first_wrong - second_wrong)
    return {"first_only": first_only, "second_only": second_only,
            "p_value": mcnemar_p_value(first_only, second_only)}


@dataclasses.dataclass
class Failure:
    index: int
    truth: str
    predicted: str
    confidence: float


@dataclasses.dataclass
class Report:
    count: int
    correct: int
    character_accuracy: float
    confusions: list  # [(truth character, predicted character, times)], most frequent first
    failures: list  # [Failure]
    solve_seconds: float
    source: str

    @property
    def accuracy(self):
        return self.correct / self.count if self.count else 0.0

    @property
    def interval(self):
        return wilson_interval(self.correct, self.count)

    @property
    def images_per_second(self):
        return self.count / self.solve_seconds if self.solve_seconds else float("inf")

    def summary(self):
        low, high = self.interval
        return (
            f"{self.source}: full-captcha accuracy {self.accuracy:.2%} "
            f"(95% CI {low:.2%}-{high:.2%}, n={self.count}), "
            f"per-character {self.character_accuracy:.2%}, {self.images_per_second:.0f} captchas/s"
        )

    def to_dict(self, include_failures=True):
        low, high = self.interval
        values = {
            "source": self.source,
            "count": self.count,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "accuracy_95ci": [low, high],
            "character_accuracy": self.character_accuracy,
            "images_per_second": self.images_per_second,
            "confusions": [list(item) for item in self.confusions[:20]],
        }
        if include_failures:
            values["failures"] = [dataclasses.asdict(failure) for failure in self.failures]
        return values


def score(readings, texts, indices, solve_seconds, source):
    """Compare readings with the true texts."""
    correct, distance, characters = 0, 0, 0
    confusions = collections.Counter()
    failures = []
    for index, reading, truth in zip(indices, readings, texts):
        characters += len(truth)
        if reading.text == truth:
            correct += 1
            continue
        distance += edit_distance(truth, reading.text)
        failures.append(Failure(int(index), truth, reading.text, reading.confidence))
        if len(reading.text) == len(truth):
            confusions.update((a, b) for a, b in zip(truth, reading.text) if a != b)
    return Report(
        count=len(texts),
        correct=correct,
        character_accuracy=1 - distance / characters if characters else 0.0,
        confusions=[(a, b, n) for (a, b), n in confusions.most_common()],
        failures=failures,
        solve_seconds=solve_seconds,
        source=source,
    )


def evaluate_stream(solver, count, seed, progress=True, on_progress=None, captchas=None):
    """Accuracy on `count` fresh captchas of the seeded stream `seed`.

    The captchas are those of `captchas`, a `CaptchaConfig` (default: the model's own),
    e.g. `solver.config.at(160, 60)` for one size or `.at(length=6)` for one length.
    They are rendered and read in chunks, so memory stays flat and `on_progress`
    (called with the fraction done) can drive a progress bar. Only reading time
    counts towards captchas/s.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    if solver.config.site:
        raise ValueError(f"This model reads the captchas of a site ({solver.config.site['source']}), not the "
                         "captcha library's; measure it on labelled captchas of that site (a folder or .zip).")
    captchas = captchas or solver.config
    if captchas.charset != solver.config.charset:
        raise ValueError(f"The model reads {solver.config.charset!r}; captchas of {captchas.charset!r} "
                         "cannot be scored.")
    readings, texts, solve_seconds = [], [], 0.0
    bar = tqdm(total=count, desc="evaluating", unit="captcha", disable=not progress)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        images, chunk_texts = rendering.draw_range(captchas, seed, start, size)
        inputs = preprocessing.preprocess(images, solver.config)
        started = time.perf_counter()
        readings.extend(solver.solve_inputs(inputs))
        solve_seconds += time.perf_counter() - started
        texts.extend(chunk_texts)
        bar.update(size)
        if on_progress:
            on_progress((start + size) / count)
    bar.close()
    return score(readings, texts, range(count), solve_seconds,
                 f"{count} fresh {describe_captchas(captchas)} (seed {seed})")


def describe_captchas(config):
    """e.g. 'captchas', '160x60 captchas of 6 characters' or 'captchas of 1-8 characters, 120x50 to 240x100'."""
    parts = []
    if config.fixed_size:
        parts.append(f"{config.captcha_width}x{config.captcha_height}")
    parts.append("captchas")
    if config.fixed_length:
        parts.append(f"of {config.min_length} characters")
    else:
        parts.append(f"of {config.min_length}-{config.max_length} characters")
    if not config.fixed_size:
        (low_width, high_width), (low_height, high_height) = config.captcha_width_range, config.captcha_height_range
        parts[-1] += f", {low_width}x{low_height} to {high_width}x{high_height}"
    return " ".join(parts)


def evaluate_arrays(solver, inputs, texts, source, ignore_case=False):
    """Accuracy on preprocessed inputs with known texts (e.g. a frozen test set), case ignored where asked."""
    started = time.perf_counter()
    readings = solver.solve_inputs(inputs)
    seconds = time.perf_counter() - started
    if ignore_case:
        readings = [dataclasses.replace(reading, text=reading.text.upper()) for reading in readings]
        texts, source = [text.upper() for text in texts], f"{source}, case ignored"
    return score(readings, texts, range(len(texts)), seconds, source)


def labels_ignore_case(config, texts):
    """Whether readings of a model of `config` are scored against the labels `texts` without regard to case:
    where the model reads both cases and the labels have letters of one case only, as a site that ignores
    case has them typed."""
    letters = [character for text in texts for character in text if character.isalpha()]
    reads_both_cases = any(map(str.islower, config.charset)) and any(map(str.isupper, config.charset))
    return reads_both_cases and bool(letters) and (all(map(str.isupper, letters)) or all(map(str.islower, letters)))


def read_test_captchas(config, folder, max_count=None, max_bytes=None):
    """The labelled captchas of a folder or `.zip` (see `captcha_model.data.labelled`) to score a model of
    `config` on: labels read without regard to case where the model was trained so. `max_count`
    and `max_bytes` bound a zip, as for uploads."""
    return labelled.read_labelled(folder, uppercase=bool((config.site or {}).get("uppercase")),
                                  max_count=max_count, max_bytes=max_bytes)


def evaluate_labelled(solver, captchas, ignore_case=None):
    """Accuracy on `LabelledCaptchas`, case ignored where asked (None: as `labels_ignore_case` says); the report's
    source says what was skipped in reading them and whether case was ignored."""
    skipped = f" ({labelled.describe_skipped(captchas.skipped)})" if captchas.skipped else ""
    if ignore_case is None:
        ignore_case = labels_ignore_case(solver.config, captchas.texts)
    return evaluate_arrays(solver, preprocessing.preprocess(captchas.images, solver.config), captchas.texts,
                           f"{len(captchas)} captchas in {captchas.source}{skipped}", ignore_case)


def evaluate_folder(solver, folder, ignore_case=None):
    """Accuracy on a folder or `.zip` of labelled captchas (case as `evaluate_labelled` says)."""
    return evaluate_labelled(solver, read_test_captchas(solver.config, folder), ignore_case)


def plot_confusions(report, top=15):
    """A bar chart of the most frequent (truth -> read as) character confusions."""
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    pairs = report.confusions[:top]
    if pairs:
        labels = [f"{truth}→{predicted}" for truth, predicted, _ in pairs]
        axes.bar(labels, [times for _, _, times in pairs], color="#d9534f")
        axes.set_ylabel("times")
        axes.set_title("Most confused characters (truth → read as)")
    else:
        axes.text(0.5, 0.5, "No character was confused", ha="center", va="center", fontsize=13)
        axes.set_axis_off()
    figure.tight_layout()
    return figure


def plot_training_curve(history, path):
    """Validation accuracy and training loss against samples seen, saved as a PNG; returns the figure."""
    samples = [record["samples_seen"] for record in history]
    accuracy = [record.get("val_accuracy", np.nan) for record in history]
    loss = [record.get("loss", np.nan) for record in history]
    figure = Figure(figsize=(10, 3.6))
    left, right = figure.subplots(1, 2)
    left.plot(samples, accuracy, marker="o")
    left.set_xlabel("training samples seen")
    left.set_ylabel("validation accuracy (whole captcha)")
    left.grid(alpha=0.3)
    right.plot(samples, loss, marker="o", color="#d9534f")
    right.set_xlabel("training samples seen")
    right.set_ylabel("training loss")
    right.set_yscale("log")
    right.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return figure
