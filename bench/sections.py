"""The sections of bench/RESULTS.md that scripts other than run.py measure.

Each such script writes its section to a file of its own (bench/load.md, bench/runtimes.md,
bench/site_captchas.md) and RESULTS.md is run.py's sections followed by those files, in that
order, whichever script ran last; so one run of each regenerates the whole of RESULTS.md.
"""

import os

BENCH = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(BENCH, "RESULTS.md")
SECTION_FILES = [os.path.join(BENCH, name) for name in ("load.md", "runtimes.md", "site_captchas.md")]


def _heading(path):
    with open(path) as handle:
        return handle.readline().strip()


def write(path, lines, main_part=None):
    """Write a section file (unless `path` is None) and RESULTS.md: `main_part` (run.py's sections;
    default: those already in RESULTS.md) followed by every section file there is."""
    if path is not None:
        with open(path, "w") as handle:
            handle.write("\n".join(lines).rstrip("\n") + "\n")
    present = [section for section in SECTION_FILES if os.path.exists(section)]
    if main_part is None:
        with open(RESULTS) as handle:
            text = handle.read()
        cuts = [text.find(f"\n{_heading(section)}\n") for section in present]
        main_part = text[:min([cut for cut in cuts if cut >= 0], default=len(text))]
    parts = [main_part.rstrip("\n")]
    for section in present:
        with open(section) as handle:
            parts.append(handle.read().strip("\n"))
    with open(RESULTS, "w") as handle:
        handle.write("\n\n".join(parts) + "\n")
