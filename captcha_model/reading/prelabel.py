"""Pre-labelling: a model's reading of every captcha in a folder or `.zip`, least sure first, for a person to correct.

`prelabel(source, solver)` reads the images of a site's captchas (`data.labelled.read_partly_labelled`:
the labels a person typed in the source's labels.csv are kept, never read again) and returns the rows
of a CSV with the columns `file,text,confidence,typed`: the model's readings first, the least sure
first (those are the ones worth a person's look), then the typed rows, which need no correcting.
`write_prelabels` writes them atomically, never inside the source and never over a file unless told.
`python -m captcha_model label` is the command line over both.
"""

import csv
import dataclasses
import os
import tempfile

from tqdm.auto import tqdm

from captcha_model.data import labelled
from captcha_model.reading.solver import BUNDLED_MODELS, GENERAL_MODEL

# The readers `label` uses when none is named, the first one bundled: the general reader of sites no model has
# seen, then `ctc` (any length and size of the library's captchas, and where `train.py --data` starts from).
DEFAULT_MODELS = (GENERAL_MODEL, "ctc")
COLUMNS = ("file", "text", "confidence", "typed")
# Images decoded and read together: large enough for the solver to read in lanes, small enough to hold.
BATCH_SIZE = 512
# A zip is refused beyond these before anything in it is decoded (a zip bomb); each image is bounded too
# (`image_input.MAX_FILE_BYTES`, `MAX_PIXELS`). 100,000 captchas take about an hour to read on 2 cores.
MAX_IMAGES = 100_000
MAX_ZIP_BYTES = 2**30


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the pre-labels: the file as labels.csv names it, its text, the model's confidence in that
    text (None for a typed row, which the model does not read) and whether a person typed it."""

    file: str
    text: str
    confidence: float | None
    typed: bool

    def cells(self):
        confidence = "" if self.confidence is None else f"{self.confidence:.4f}"
        return [self.file, self.text, confidence, "yes" if self.typed else "no"]


@dataclasses.dataclass
class Prelabels:
    """The rows to write, what was skipped (name, reason), warnings for the person, and where the typed labels
    came from (`labels.csv`, `file names` or `nothing`)."""

    rows: list
    skipped: list
    warnings: list
    labels_from: str

    @property
    def read_count(self):
        return sum(not row.typed for row in self.rows)

    @property
    def typed_count(self):
        return sum(row.typed for row in self.rows)


def default_model():
    """The model `label` reads with when none is named: the first of DEFAULT_MODELS that is bundled."""
    return next(name for name in DEFAULT_MODELS if name in BUNDLED_MODELS)


def prelabel(source, solver, labels_from_names=False, batch_size=BATCH_SIZE, progress=False,
             max_count=MAX_IMAGES, max_bytes=MAX_ZIP_BYTES):
    """`Prelabels` for the folder or `.zip` at `source`, its unlabelled images read by `solver`.

    The rows: the model's readings, least confident first (ties by file name), then the typed rows in
    file-name order. An image with the same bytes as another is read once: the copy is skipped, and a
    typed image is the one kept. Unreadable images are skipped with their reason. A typed text with
    characters outside the model's charset is kept, with a warning. ValueError where `source` is not a
    folder or zip of images (see `labelled.read_partly_labelled`) or holds no readable image.
    """
    images = labelled.read_partly_labelled(source, labels_from_names, max_count, max_bytes)
    skipped = list(images.skipped)
    typed_names = [name for name in images.names if name in images.typed]
    with tqdm(total=len(images.names), desc="pre-labelling", unit="captcha", disable=not progress) as bar:
        # The typed images are decoded first, so that of two copies of one image the typed one is kept.
        typed_rows = []
        for name, _, reason in images.decoded(typed_names):
            if reason:
                skipped.append((name, reason))
            else:
                typed_rows.append(Row(images.listed_as(name), images.typed[name], None, True))
            bar.update()
        read_rows, batch = [], []
        for name, image, reason in images.decoded(name for name in images.names if name not in images.typed):
            if reason:
                skipped.append((name, reason))
                bar.update()
            else:
                batch.append((name, image))
            if len(batch) == batch_size:
                read_rows += read_batch(solver, batch, images)
                bar.update(len(batch))
                batch = []
        if batch:
            read_rows += read_batch(solver, batch, images)
            bar.update(len(batch))
    if not typed_rows and not read_rows:
        raise ValueError(f"{source} holds no readable image. {labelled.describe_skipped(skipped)}")
    read_rows.sort(key=lambda row: (row.confidence, row.file))
    return Prelabels(read_rows + typed_rows, skipped, charset_warnings(typed_rows, solver.config), images.labels_from)


def read_batch(solver, batch, images):
    """[Row] of the model's readings of `batch`, [(name, image)]."""
    readings = solver.solve([image for _, image in batch])
    return [Row(images.listed_as(name), reading.text, float(reading.confidence), False)
            for (name, _), reading in zip(batch, readings)]


def charset_warnings(typed_rows, config):
    """A warning where typed texts hold characters the model does not read: a model trained on them would
    have to learn those, and this one cannot read them."""
    # A model trained on a site that ignores case reads labels in upper case.
    fold = str.upper if (config.site or {}).get("uppercase") else str
    known = set(config.charset)
    outside = [row for row in typed_rows if set(fold(row.text)) - known]
    if not outside:
        return []
    characters = "".join(sorted({character for row in outside for character in fold(row.text)} - known))
    examples = ", ".join(f"{row.file} {row.text!r}" for row in outside[:3])
    return [f"{len(outside):,} typed labels hold characters the model does not read ({characters!r}), e.g. "
            f"{examples}; they are kept as typed."]


def check_output(path, source, force=False):
    """ValueError unless the pre-labels of `source` may be written to `path`: a file outside the source (a
    folder's own files, its labels.csv above all, are never touched), in a folder that exists, and not
    a file already there unless `force`."""
    target, input_path = os.path.realpath(path), os.path.realpath(source)
    if target == input_path or target.startswith(input_path.rstrip(os.sep) + os.sep):
        raise ValueError(f"The output {path} is inside the input {source}, which pre-labelling never changes; "
                         f"write it outside, e.g. --out {os.path.basename(input_path.rstrip(os.sep))}-labels.csv.")
    if os.path.isdir(target):
        raise ValueError(f"The output {path} is a folder; give the path of a .csv file to write.")
    if not os.path.isdir(os.path.dirname(target)):
        raise ValueError(f"The folder of the output {path} does not exist; create it or choose another path.")
    if os.path.exists(target) and not force:
        raise ValueError(f"{path} exists already; pass --force to replace it, or choose another --out.")


def write_prelabels(rows, path, source, force=False):
    """`write_rows` to `path`, checked by `check_output` again, since reading took time."""
    check_output(path, source, force)
    write_rows(rows, path)


def write_rows(rows, path):
    """Write `rows` (of `prelabel`) to `path` as a CSV with a header, atomically: a crash leaves the file that
    was there or the new one, never part of one."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, partial = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.partial-", suffix=".csv", dir=folder)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as output:
            writer = csv.writer(output)
            writer.writerow(COLUMNS)
            writer.writerows(row.cells() for row in rows)
        # mkstemp creates private files; a CSV to correct and share is like any other file.
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
