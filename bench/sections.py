"""The saved sections of bench/RESULTS.md, and RESULTS.md assembled from them.

Each section saves its figures with their provenance to results/NAME.json in the output
folder (bench/ by default) and its Markdown to results/NAME.md; RESULTS.md is a short header
followed by every saved section, in ORDER. A run that skips a section leaves its files
alone, so RESULTS.md keeps that section's previous text, which names the command, date and
model files behind it.
"""

import json
import os
import time

import provenance

BENCH = os.path.dirname(os.path.abspath(__file__))
ORDER = ("comparison", "models", "training", "tutorial_plateau", "generation", "throughput", "sizes", "lengths",
         "saliency", "load", "runtimes", "site_captchas", "general_reader",
         "general_start", "labelling")
HEADER = [
    "# Benchmark results",
    "",
    "Each section says the command that measured it, when, on which machine, and the model files it read, "
    f"each with the first {provenance.DIGITS} hex digits of its sha256. `python bench/run.py` measures every "
    "section again; a run that skips sections keeps their previous text. Plots lie beside this file.",
]


def _paths(output, name):
    folder = os.path.join(output, "results")
    return os.path.join(folder, f"{name}.json"), os.path.join(folder, f"{name}.md")


def markdown(record, lines):
    """A section's text: its heading, the lines of its provenance, then the rest of `lines`."""
    heading, body = lines[0], lines[1:]
    while body and not body[0].strip():
        body = body[1:]
    return "\n".join([heading, "", *provenance.lines(record), "", *body]).rstrip("\n") + "\n"


def save(output, name, record, results, lines):
    """Write section `name`'s figures with their provenance, and its Markdown, under `output`/results."""
    if name not in ORDER:
        raise ValueError(f"{name!r} is not a section of RESULTS.md; the sections are {', '.join(ORDER)}.")
    json_path, markdown_path = _paths(output, name)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w") as handle:
        json.dump({"provenance": record, "results": results}, handle, indent=2, default=str)
    with open(markdown_path, "w") as handle:
        handle.write(markdown(record, lines))


def run(bench, name, measure, lines):
    """Measure section `name` for the run `bench` (`measure(bench)` gives its results and the model files it
    read) and save it with its provenance and the minutes it took."""
    print(f"Measuring the {name} section...", flush=True)
    started = time.time()
    results, files = measure(bench)
    record = {**provenance.record(bench.command, files), "minutes": round((time.time() - started) / 60, 1)}
    save(bench.output, name, record, results, lines(results))


def assemble(output=BENCH):
    """Write `output`/RESULTS.md from every section saved under `output`; return its path."""
    parts = ["\n".join(HEADER)]
    for name in ORDER:
        _, markdown_path = _paths(output, name)
        if os.path.exists(markdown_path):
            with open(markdown_path) as handle:
                parts.append(handle.read().strip("\n"))
    path = os.path.join(output, "RESULTS.md")
    with open(path, "w") as handle:
        handle.write("\n\n".join(parts) + "\n")
    return path
