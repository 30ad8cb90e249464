"""Reading a user's labelled captchas: a folder or a `.zip`, labels in `labels.csv` or in the file names.

Two shapes are accepted, inside a folder or a zip archive:

- a `labels.csv` with the columns `file,text` (as `python -m captcha_model generate` writes it;
  header required, CRLF or LF line ends, UTF-8 with or without a byte order mark);
- image files named for their text: `7K2P.png`, `7K2P_0001.png`, `7k2p-17.jpg` (the label is
  the name before the first `_` or `-`).

`read_labelled` decodes every image once, keeps what is usable and says what it skipped and
why (unreadable image, empty label, listed but missing, image without a label, duplicate).
Nothing in the source is modified.
"""

import collections
import csv
import dataclasses
import hashlib
import io
import os
import zipfile

from captcha_model.image_input import MAX_FILE_BYTES, open_image

LABELS_FILE = "labels.csv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")


@dataclasses.dataclass
class LabelledCaptchas:
    """Decoded images with their texts, what was skipped (name, reason) and where they came from."""

    images: list
    texts: list
    names: list
    skipped: list
    source: str

    def __len__(self):
        return len(self.texts)

    @property
    def charset(self):
        return "".join(sorted(set("".join(self.texts))))

    @property
    def lengths(self):
        return min(map(len, self.texts)), max(map(len, self.texts))

    def subset(self, rows, source=None):
        """The captchas at `rows` (indices), e.g. one side of a split."""
        return LabelledCaptchas([self.images[row] for row in rows], [self.texts[row] for row in rows],
                                [self.names[row] for row in rows], [], source or self.source)

    def summary(self):
        """What was found and skipped, in a few lines for the terminal and the app."""
        sizes = collections.Counter(image.size for image in self.images)
        size_text = ", ".join(f"{width}x{height} ({count:,})" for (width, height), count in sizes.most_common(3))
        if len(sizes) > 3:
            size_text += f" and {len(sizes) - 3} more sizes"
        low, high = self.lengths
        lines = [f"{self.source}: {len(self):,} labelled captchas, {len(self.charset)} characters "
                 f"{self.charset!r}, length {low if low == high else f'{low}-{high}'}, sizes {size_text}."]
        if self.skipped:
            lines.append(describe_skipped(self.skipped))
        return "\n".join(lines)


def describe_skipped(skipped):
    """'Skipped 3: empty label (2, e.g. a.png); listed but missing (1, e.g. b.png).'"""
    examples = {}
    for name, reason in skipped:
        examples.setdefault(reason.split(":")[0], name)
    reasons = collections.Counter(reason.split(":")[0] for _, reason in skipped)
    return f"Skipped {len(skipped):,}: " + "; ".join(
        f"{reason} ({count:,}, e.g. {examples[reason]})" for reason, count in reasons.most_common()) + "."


def label_from_name(name):
    """'7K2P_0001.png' -> '7K2P': the file name before its suffix and before the first '_' or '-'."""
    stem = os.path.splitext(os.path.basename(name))[0]
    for separator in "_-":
        stem = stem.split(separator, 1)[0]
    return stem.strip()


class _Folder:
    """The files of a folder, by path relative to it."""

    def __init__(self, path):
        self.path = path
        self.names = sorted(
            os.path.relpath(os.path.join(root, name), path).replace(os.sep, "/")
            for root, _, names in os.walk(path) for name in names
        )

    def read(self, name):
        full = os.path.join(self.path, name)
        if os.path.getsize(full) > MAX_FILE_BYTES:
            raise ValueError(f"larger than the {MAX_FILE_BYTES // 2**20} MB accepted")
        with open(full, "rb") as handle:
            return handle.read()


class _Archive:
    """The files of a zip archive, read only as far as the size limits allow."""

    def __init__(self, path, max_bytes):
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise ValueError(f"{path} is not a readable .zip archive ({error}).") from None
        entries = [item for item in self.archive.infolist() if not item.is_dir()]
        total = sum(item.file_size for item in entries)
        if max_bytes is not None and total > max_bytes:
            raise ValueError(f"{os.path.basename(path)} unpacks to {total / 2**20:.1f} MB; at most "
                             f"{max_bytes / 2**20:.0f} MB are accepted.")
        self.sizes = {item.filename: item.file_size for item in entries}
        self.names = sorted(self.sizes)

    def read(self, name):
        if self.sizes[name] > MAX_FILE_BYTES:
            raise ValueError(f"larger than the {MAX_FILE_BYTES // 2**20} MB accepted")
        return self.archive.read(name)


def _labels_from_csv(text, where):
    """labels.csv text -> [(file, label)], or ValueError when it is not file,text with a header."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header[:2] != ["file", "text"]:
        raise ValueError(f"{where} must start with the header 'file,text', "
                         f"got {','.join(rows[0]) if rows else 'an empty file'!r}.")
    return [(row[0].strip(), row[1].strip() if len(row) > 1 else "") for row in rows[1:]
            if any(cell.strip() for cell in row)]


def _entries(files, source):
    """[(name in `files`, label or None)], the label-less rows skipped with reasons, and the label shape."""
    labels_files = sorted((name for name in files.names if os.path.basename(name).lower() == LABELS_FILE),
                          key=lambda name: (name.count("/"), name))
    images = [name for name in files.names if name.lower().endswith(IMAGE_SUFFIXES)
              and not os.path.basename(name).startswith(".") and "__MACOSX/" not in name]
    if not labels_files:
        return [(name, label_from_name(name)) for name in images], [], "file names"
    labels_path = labels_files[0]
    folder = labels_path.rpartition("/")[0]
    prefix = f"{folder}/" if folder else ""
    try:
        text = files.read(labels_path).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{labels_path} in {source} is not UTF-8 text.") from None
    rows = _labels_from_csv(text, f"{labels_path} in {source}")
    listed = {prefix + name for name, _ in rows}
    unlabelled = [(name, "image without a label") for name in images if name not in listed]
    return [(prefix + name, label) for name, label in rows], unlabelled, LABELS_FILE


def read_labelled(source, uppercase=False, min_count=1, max_count=None, max_bytes=None):
    """The labelled captchas in the folder or `.zip` at `source`, as `LabelledCaptchas`.

    `uppercase` folds labels to upper case (for sites that ignore case). ValueError when
    fewer than `min_count` are usable, or a zip holds more than `max_count` images or unpacks
    to more than `max_bytes` (the app's bounds for uploads).
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        files = _Folder(source)
    elif os.path.isfile(source) and zipfile.is_zipfile(source):
        files = _Archive(source, max_bytes)
    else:
        raise ValueError(f"{source!r} is neither a folder nor a .zip archive of labelled captchas.")
    entries, skipped, shape = _entries(files, source)
    if max_count is not None and len(entries) > max_count:
        raise ValueError(f"{os.path.basename(source)} holds {len(entries):,} labelled images; at most "
                         f"{max_count:,} are accepted.")
    present = set(files.names)
    images, texts, names, seen_names, seen_content = [], [], [], set(), {}
    for name, label in entries:
        label = label.upper() if uppercase else label
        if name in seen_names:
            skipped.append((name, "duplicate: listed twice"))
            continue
        seen_names.add(name)
        if name not in present:
            skipped.append((name, "listed but missing"))
            continue
        if not label:
            skipped.append((name, "empty label"))
            continue
        try:
            content = files.read(name)
            image = open_image(content)
        except ValueError as error:
            skipped.append((name, f"unreadable image: {str(error).split(';')[0].rstrip('.')}"))
            continue
        digest = hashlib.sha1(content).hexdigest()
        if digest in seen_content:
            # The same image twice would put one captcha on both sides of a train/test split.
            skipped.append((name, f"duplicate: same image as {seen_content[digest]}"))
            continue
        seen_content[digest] = name
        images.append(image)
        texts.append(label)
        names.append(name)
    found = LabelledCaptchas(images, texts, names, skipped, f"{source} (labels from {shape})")
    if len(found) < min_count:
        reasons = f" {describe_skipped(skipped)}" if skipped else ""
        raise ValueError(f"{source} holds {len(found)} usable labelled captchas; at least {min_count} are needed. "
                         f"Accepted: a labels.csv with columns file,text, or images named for their text "
                         f"like 7K2P.png or 7K2P_0001.png, in a folder or a .zip.{reasons}")
    return found
