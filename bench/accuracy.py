"""The models, sizes and lengths sections: every model's accuracy on the same streams of captchas.

Every bundled model made for 4-character 170x80 captchas reads the comparison's fresh ones;
then every model (and --model) reads 4-character captchas of many sizes, and the ctc model
texts of 1 to 8 characters, each other model those of its own lengths and size beside it.
The size and length sections draw each cell from its own seed (the base plus the cell's
index), so no two cells share captchas and none meets a training stream.
"""

import numpy as np
from common import FRESH_SEED, finish_accuracy_plot, percent, plot_accuracies, pooled, read_stream, size_name
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from captcha_model.data.library_images import LIBRARY_DEFAULT_SIZE
from captcha_model.networks.model import default_config

SIZES_SEED = 7_100_000
LENGTHS_SEED = 7_200_000
# 4-character captchas at the sizes sites use, from the library's default to the default
# model's training size and beyond, and two odd aspect ratios (wide and flat, narrow and tall).
SIZES = ((120, 50), (140, 60), LIBRARY_DEFAULT_SIZE, (170, 80), (200, 80), (240, 100), (240, 60), (130, 90))
SIZE_NOTES = {LIBRARY_DEFAULT_SIZE: "the library's default", (170, 80): "the default model's training size"}
SIZES_LENGTH = 4
# Text lengths the ctc model reads, per captcha size.
LENGTHS = {(170, 80): range(1, 9), (160, 60): range(3, 7)}
# The pooled summary of the length section: the lengths most sites use, at one size.
POOLED_LENGTHS, POOLED_SIZE = range(3, 7), (170, 80)


def measure_models(bench):
    """{model: result} of every model made for the default model's captchas, on the comparison's fresh ones.

    They are the very captchas of the comparison section (seed FRESH_SEED), so the default
    model's figure here repeats its figure there and the other models stand beside it.
    """
    captchas = default_config()
    solvers = {name: model for name, model in bench.models.items()
               if model.config.covers(captchas.captcha_width, captchas.captcha_height, captchas.min_length)}
    with tqdm(total=bench.args.count, desc="models", unit="captcha") as bar:
        return read_stream(solvers, captchas, bench.args.count, FRESH_SEED, bar), bench.files(solvers)


def model_lines(results):
    count = next(iter(results.values()))["n"]
    lines = ["## Every model on the same captchas", "",
             f"Each bundled model made for 4-character 170x80 captchas reads the {count:,} fresh ones of the "
             f"comparison (seed {FRESH_SEED}), so the default model's figure repeats the one above.", "",
             "| model | full-captcha accuracy (95% interval, n) | per character | captchas read wrong |",
             "|---|---|---|---|"]
    for name, result in results.items():
        lines.append(f"| {name} | {percent(result)} | {result['character_accuracy']:.2%} | "
                     f"{result['n'] - result['correct']:,} |")
    return lines


def measure_sizes(bench):
    """{size: {model: result}} on 4-character captchas at each size of SIZES, and its plot."""
    count, captchas, results = bench.args.cell_count, default_config(), {}
    with tqdm(total=count * len(SIZES), desc="sizes", unit="captcha") as bar:
        for index, (width, height) in enumerate(SIZES):
            results[size_name((width, height))] = read_stream(
                bench.models, captchas.at(width, height, SIZES_LENGTH), count, SIZES_SEED + index, bar)
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    names = list(bench.models)
    for offset, name in enumerate(names):
        # Models side by side within each size, so their error bars do not hide each other; no
        # lines, since the sizes are categories rather than a scale.
        positions = np.arange(len(results)) + 0.15 * (offset - (len(names) - 1) / 2)
        plot_accuracies(axes, positions, [row[name] for row in results.values()], name, linestyle="none")
    axes.set_xticks(np.arange(len(results)), list(results))
    finish_accuracy_plot(figure, axes, "captcha size (4 characters)", bench.path("accuracy_by_size.png"))
    return results, bench.files(names)


def size_lines(sizes):
    names = list(next(iter(sizes.values())))
    lines = ["## Accuracy per captcha size", "",
             f"{SIZES_LENGTH}-character captchas of 0-9A-Z at each size, drawn from seed {SIZES_SEED} plus the "
             "row's index; every model reads the same captchas, resized to its own input size. Cells: "
             "full-captcha accuracy (95% interval, n).", "",
             "| size | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for size, row in sizes.items():
        note = SIZE_NOTES.get(tuple(int(side) for side in size.split("x")))
        label = f"{size} ({note})" if note else size
        lines.append(f"| {label} | " + " | ".join(percent(row[name]) for name in names) + " |")
    return lines + ["", "![accuracy per captcha size](accuracy_by_size.png)"]


def measure_lengths(bench):
    """{size: {length: {model: result}}} at each size and length of LENGTHS, and its plot.

    The ctc model reads every cell; each other model reads the cells it was made for (the
    default model its own size and length), on the same captchas.
    """
    models, count = bench.models, bench.args.cell_count
    cells = [(size, length) for size, lengths in LENGTHS.items() for length in lengths]
    results = {size_name(size): {} for size in LENGTHS}
    with tqdm(total=count * len(cells), desc="lengths", unit="captcha") as bar:
        for index, ((width, height), length) in enumerate(cells):
            solvers = {name: model for name, model in models.items()
                       if name == "ctc" or model.config.covers(width, height, length)}
            results[size_name((width, height))][length] = read_stream(
                solvers, models["ctc"].config.at(width, height, length), count, LENGTHS_SEED + index, bar)
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    # One line per model and size; a model that reads one cell only is one marker.
    for size, row in results.items():
        for name in dict.fromkeys(name for cell in row.values() for name in cell):
            read = [length for length, cell in row.items() if name in cell]
            plot_accuracies(axes, read, [row[length][name] for length in read], f"{name}, {size}",
                            marker="o" if name == "ctc" else "s", linestyle="-" if len(read) > 1 else "none")
    axes.set_xticks(range(1, 1 + max(max(row) for row in results.values())))
    finish_accuracy_plot(figure, axes, "characters in the captcha", bench.path("accuracy_by_length.png"))
    read_by = {name for row in results.values() for cell in row.values() for name in cell}
    return results, bench.files([name for name in models if name in read_by])


def length_lines(lengths):
    # Saved results have their lengths as JSON keys, which are strings.
    lengths = {size: {int(length): cell for length, cell in row.items()} for size, row in lengths.items()}
    lines = ["## Accuracy per text length", ""]
    pooled_cells = lengths.get(size_name(POOLED_SIZE), {})
    # Every model that read all the pooled cells gets a pooled summary.
    for name in dict.fromkeys(name for cell in pooled_cells.values() for name in cell):
        results = [pooled_cells[length].get(name) for length in POOLED_LENGTHS if length in pooled_cells]
        if results and None not in results:
            summary = pooled(results)
            lines += [f"**{name} model, lengths {POOLED_LENGTHS[0]}-{POOLED_LENGTHS[-1]} at {size_name(POOLED_SIZE)}: "
                      f"{summary['accuracy']:.2%} over {summary['n']:,} captchas** (pooled; 95% interval "
                      f"{summary['low']:.2%}-{summary['high']:.2%}).", ""]
    lines += [f"The ctc model on captchas of one length each, drawn from seed {LENGTHS_SEED} plus the cell's index "
              "(sizes in the order of the columns, then lengths). Cells: full-captcha accuracy (95% interval, n).", "",
              "| characters | " + " | ".join(f"ctc, {size}" for size in lengths) + " |",
              "|---|" + "---|" * len(lengths)]
    for length in sorted({length for row in lengths.values() for length in row}):
        cells = [percent(row[length]["ctc"]) if length in row else "" for row in lengths.values()]
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    others = list(dict.fromkeys(name for row in lengths.values() for cell in row.values() for name in cell
                                if name != "ctc"))
    lines += ["", "The other models on the same captchas, where they were made for them:", "",
              "| captchas | ctc | " + " | ".join(others) + " |", "|---|" + "---|" * (1 + len(others))]
    for size, row in lengths.items():
        for length, cell in row.items():
            if set(cell) & set(others):
                shown = [percent(cell[name]) if name in cell else "" for name in others]
                lines.append(f"| {length} characters, {size} | {percent(cell['ctc'])} | " + " | ".join(shown) + " |")
    return lines + ["", "![accuracy per text length](accuracy_by_length.png)"]
