"""The saliency section: do each model's heat maps point at what drives its readings?

Each model explains its own readings with LayerCAM heat maps (`captcha_model.saliency`).
For each character read, the box with the most heat is painted white (the background),
and separately a few boxes of the same size at random places; honest maps cost the
character more when their hottest box is hidden than a random box does.
"""

import matplotlib.patches
import numpy as np
from common import save_plot
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from captcha_model.data import preprocessing, rendering
from captcha_model.reading import evaluation, saliency
from captcha_model.reading.evaluation import wilson_interval

SALIENCY_SEED = 7_300_000
# Random boxes masked per character, and captchas per model in the picture.
RANDOM_BOXES = 5
PICTURED_CAPTCHAS = 3


def box_shape(input_height, input_width):
    """The masked box of the saliency test, in input pixels: half the height, an eighth of the width."""
    return input_height // 2, input_width // 8


def hottest_box(heatmap, height, width):
    """(top, left) of the height x width box holding the largest sum of `heatmap`."""
    # Box sums for every position at once, from the summed-area table.
    table = np.pad(heatmap.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    sums = table[height:, width:] - table[:-height, width:] - table[height:, :-width] + table[:-height, :-width]
    top, left = np.unravel_index(sums.argmax(), sums.shape)
    return int(top), int(left)


def mask_box(image, top, left, height, width):
    """A copy of one preprocessed input with a box painted white, the captchas' background."""
    masked = image.copy()
    masked[top : top + height, left : left + width] = 255
    return masked


def score_in_slices(solver, inputs, explanations, size=256):
    """`saliency.score_characters` in slices, so that thousands of masked copies fit in memory."""
    scores = []
    for start in range(0, len(inputs), size):
        scores.extend(saliency.score_characters(solver, inputs[start : start + size],
                                                explanations[start : start + size]))
    return scores


def saliency_drops(solver, inputs, explanations, rng):
    """Per character read: its confidence drop with its hottest box masked, and the mean drop over random boxes.

    Each character is scored on copies of its own captcha, one per masked box, so its
    drop says what that box meant to that character alone.
    """
    height, width = box_shape(*inputs.shape[1:3])
    free_rows, free_columns = inputs.shape[1] - height + 1, inputs.shape[2] - width + 1
    variants, variant_characters, before = [], [], []
    originals = saliency.score_characters(solver, inputs, explanations)
    for image, characters, confidences in zip(inputs, explanations, originals):
        for character, confidence in zip(characters, confidences):
            corners = [hottest_box(character.heatmap, height, width),
                       *zip(rng.integers(0, free_rows, RANDOM_BOXES), rng.integers(0, free_columns, RANDOM_BOXES))]
            variants.extend(mask_box(image, top, left, height, width) for top, left in corners)
            variant_characters.extend([character] for _ in corners)
            before.append(confidence)
    if not variants:
        return []
    after = np.array(score_in_slices(solver, np.stack(variants), variant_characters)).reshape(len(before), -1)
    drops = np.array(before)[:, None] - after
    return [(float(row[0]), float(row[1:].mean())) for row in drops]


def measure(bench):
    """Per model: the masking test on --saliency-count of its own captchas; the first few explained, pictured."""
    count, results, pictured = bench.args.saliency_count, {}, {}
    for name, solver in bench.models.items():
        # One generator per model, so each model's boxes do not depend on the others.
        rng = np.random.default_rng(SALIENCY_SEED)
        drops = []
        for start in tqdm(range(0, count, 16), desc=f"saliency, {name}", unit="chunk"):
            images, texts = rendering.draw_range(solver.config, SALIENCY_SEED, start, min(16, count - start))
            inputs = preprocessing.preprocess(images, solver.config)
            explanations = saliency.explain_inputs(solver, inputs)
            drops.extend(saliency_drops(solver, inputs, explanations, rng))
            if start == 0:
                pictured[name] = list(zip(images, texts, explanations))[:PICTURED_CAPTCHAS]
        results[name] = {"captchas": count, "test_captchas": evaluation.describe_captchas(solver.config),
                         "box": list(box_shape(solver.config.input_height, solver.config.input_width)),
                         **summarize_drops(drops)}
    plot_saliency(pictured, bench.path("saliency.png"))
    return results, bench.files(bench.models)


def summarize_drops(drops):
    """Mean drops for salient and random boxes, and how often the salient one costs more, with its interval."""
    # A model that reads no character at all (an untrained one) has nothing to summarize.
    salient, random_mean = np.array(drops).reshape(-1, 2).T if drops else (np.full(1, np.nan),) * 2
    wins = int((salient > random_mean).sum())
    low, high = wilson_interval(wins, len(drops))
    return {"characters": len(drops), "salient_drop": float(salient.mean()), "random_drop": float(random_mean.mean()),
            "salient_wins": wins, "share": wins / max(len(drops), 1), "low": low, "high": high}


def plot_saliency(pictured, path):
    """Each pictured captcha, then one overlay per character read, with the box the test masks."""
    rows = [(name, *item) for name, items in pictured.items() for item in items]
    columns = 1 + max((len(explanations) for *_, explanations in rows), default=0)
    figure = Figure(figsize=(2.2 * columns, 1.25 * len(rows)))
    grid = figure.subplots(len(rows), columns, squeeze=False)
    for axes_row, (name, image, text, explanations) in zip(grid, rows):
        axes_row[0].imshow(image)
        reading = "".join(character.character for character in explanations)
        axes_row[0].set_title(f"{name}: {text}, read {reading}", fontsize=8)
        for axes, character in zip(axes_row[1:], explanations):
            axes.imshow(saliency.overlay(image, character.heatmap))
            height, width = box_shape(*character.heatmap.shape)
            top, left = hottest_box(character.heatmap, height, width)
            # The box is found in input pixels; the overlay has the captcha's own size.
            scale_x, scale_y = image.width / character.heatmap.shape[1], image.height / character.heatmap.shape[0]
            axes.add_patch(matplotlib.patches.Rectangle((left * scale_x, top * scale_y), width * scale_x,
                                                        height * scale_y, fill=False, edgecolor="cyan", linewidth=1))
            axes.set_title(f"{character.character} ({character.confidence:.2f})", fontsize=8)
        for axes in axes_row:
            axes.set_axis_off()
    save_plot(figure, path)


def lines(results):
    lines = ["## Saliency honesty", "",
             "Each model explains its own readings with LayerCAM heat maps (`captcha_model.saliency`). For each "
             "character read, the box of half the input height and an eighth of its width with the most heat is "
             f"painted white (the background), and separately {RANDOM_BOXES} boxes of the same size at random "
             "places; the drop is the character's probability at its own output positions before minus after. "
             "Honest maps cost the character more when their hottest box is hidden than a random box does. "
             f"Captchas from seed {SALIENCY_SEED}, each model on its own kind of captcha.", "",
             "| model | captchas | characters read | box (input pixels) | mean drop, salient box | "
             "mean drop, random box | salient drop > mean random drop (95% interval) |",
             "|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        lines.append(f"| {name} | {result['captchas']:,} {result['test_captchas']} | {result['characters']:,} | "
                     f"{result['box'][0]}x{result['box'][1]} | {result['salient_drop']:.3f} | "
                     f"{result['random_drop']:.3f} | {result['share']:.1%} "
                     f"({result['low']:.1%}-{result['high']:.1%}) |")
    return lines + ["", "Each pictured captcha, then one heat map per character read (its confidence in brackets) "
                    "with the box that the test masks:", "", "![saliency maps](saliency.png)"]
