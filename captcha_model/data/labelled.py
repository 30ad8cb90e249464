"""Reading a user's labelled captchas: a folder or a `.zip`, labels in `labels.csv` or in the file names.

Two shapes are accepted, inside a folder or a zip archive:

- a `labels.csv` with the columns `file,text` (as `python -m captcha_model generate` writes it;
  header required, CRLF or LF line ends, UTF-8 with or without a byte order mark);
- image files named for their text: `7K2P.png`, `7K2P_0001.png`, `7k2p-17.jpg` (the label is
  the name before the first `_` or `-`).

`read_labelled` decodes every image once, keeps what is usable and says what it skipped and
why (unreadable image, empty label, listed but missing, image without a label, duplicate).

`read_partly_labelled` opens the same folders and zips for pre-labelling (`python -m captcha_model
label`): every image, whether or not a person has labelled it, decoded a batch at a time. There the
labels are those of a `labels.csv`; file names count as labels only when asked
(`labels_from_names`), since a folder of numbered files (`0001.png`) is not labelled.
Nothing in the source is modified.
"""

import collections
import csv
import dataclasses
import hashlib
import io
import os
import zipfile
import zlib

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
        try:
            # zipfile stops at the size an entry declares, so an entry that unpacks to more fails its CRC here.
            return self.archive.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
            raise ValueError(f"a damaged, encrypted or unsupported entry of the zip ({error})") from None


def _open_files(source, max_bytes, what):
    """The files of the folder or `.zip` at `source` (a zip bounded by `max_bytes` unpacked), or ValueError."""
    if os.path.isdir(source):
        return _Folder(source)
    if os.path.isfile(source) and zipfile.is_zipfile(source):
        return _Archive(source, max_bytes)
    raise ValueError(f"{source!r} is neither a folder nor a .zip archive of {what}.")


def _image_names(files):
    """The names in `files` that look like images: by suffix, leaving out hidden files and macOS's resource forks."""
    return [name for name in files.names if name.lower().endswith(IMAGE_SUFFIXES)
            and not os.path.basename(name).startswith(".") and "__MACOSX/" not in name]


def _labels_from_csv(text, where):
    """labels.csv text -> [(file, label)], or ValueError when it is not file,text with a header.

    In a file with a `typed` column (as `python -m captcha_model label` writes), a row marked `no` is
    a model's reading that no person checked: its label is None.
    """
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header[:2] != ["file", "text"]:
        raise ValueError(f"{where} must start with the header 'file,text', "
                         f"got {','.join(rows[0]) if rows else 'an empty file'!r}.")
    typed = header.index("typed") if "typed" in header else None

    def label(row):
        if typed is not None and len(row) > typed and row[typed].strip().lower() == "no":
            return None
        return row[1].strip() if len(row) > 1 else ""

    return [(row[0].strip(), label(row)) for row in rows[1:] if any(cell.strip() for cell in row)]


def _labels_csv(files, source):
    """(the path prefix of the shallowest labels.csv in `files`, its rows [(file, text)]), or (None, [])
    where there is none. The files a labels.csv names are relative to its folder."""
    labels_files = sorted((name for name in files.names if os.path.basename(name).lower() == LABELS_FILE),
                          key=lambda name: (name.count("/"), name))
    if not labels_files:
        return None, []
    labels_path = labels_files[0]
    folder = labels_path.rpartition("/")[0]
    try:
        text = files.read(labels_path).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{labels_path} in {source} is not UTF-8 text.") from None
    return f"{folder}/" if folder else "", _labels_from_csv(text, f"{labels_path} in {source}")


def _entries(files, source):
    """[(name in `files`, label or None)], the label-less rows skipped with reasons, and the label shape."""
    images = _image_names(files)
    prefix, rows = _labels_csv(files, source)
    if prefix is None:
        return [(name, label_from_name(name) or "") for name in images], [], "file names"
    listed = {prefix + name for name, _ in rows}
    unlabelled = [(name, "image without a label") for name in images if name not in listed]
    return [(prefix + name, label) for name, label in rows], unlabelled, LABELS_FILE


def _decode(files, name, seen_content):
    """(image, None), or (None, reason) for an unreadable image or one with the same bytes as an image in
    `seen_content` ({digest: name}, which a decoded image joins)."""
    try:
        content = files.read(name)
        image = open_image(content)
    except ValueError as error:
        return None, f"unreadable image: {str(error).split(';')[0].rstrip('.')}"
    digest = hashlib.sha1(content).hexdigest()
    if digest in seen_content:
        return None, f"duplicate: same image as {seen_content[digest]}"
    seen_content[digest] = name
    return image, None


def read_labelled(source, uppercase=False, min_count=1, max_count=None, max_bytes=None):
    """The labelled captchas in the folder or `.zip` at `source`, as `LabelledCaptchas`.

    `uppercase` folds labels to upper case (for sites that ignore case). ValueError when
    fewer than `min_count` are usable, or a zip holds more than `max_count` images or unpacks
    to more than `max_bytes` (the app's bounds for uploads).
    """
    source = os.fspath(source)
    files = _open_files(source, max_bytes, "labelled captchas")
    entries, skipped, shape = _entries(files, source)
    if max_count is not None and len(entries) > max_count:
        raise ValueError(f"{os.path.basename(source)} holds {len(entries):,} labelled images; at most "
                         f"{max_count:,} are accepted.")
    present = set(files.names)
    images, texts, names, seen_names, seen_content = [], [], [], set(), {}
    for name, label in entries:
        label = label.upper() if uppercase and label else label
        if name in seen_names:
            skipped.append((name, "duplicate: listed twice"))
            continue
        seen_names.add(name)
        if name not in present:
            skipped.append((name, "listed but missing"))
            continue
        if label is None:
            skipped.append((name, "a model's reading that no person checked (typed=no)"))
            continue
        if not label:
            skipped.append((name, "empty label"))
            continue
        # The same image twice would put one captcha on both sides of a train/test split.
        image, reason = _decode(files, name, seen_content)
        if reason:
            skipped.append((name, reason))
            continue
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


@dataclasses.dataclass
class PartlyLabelled:
    """The images of a folder or `.zip`, some with the text a person typed for them, decoded on demand.

    `names` lists every image (paths inside the source, `/` between folders), `typed` maps those a person
    labelled to their text, `labels_from` says where those came from (`labels.csv`, `file names` or
    `nothing`), and `skipped` holds the (name, reason) of what will not be read: rows of labels.csv that
    name no file or one already listed, images outside the folder of labels.csv.
    """

    source: str
    names: list
    typed: dict
    labels_from: str
    skipped: list
    files: object = dataclasses.field(repr=False)
    # The folder (with its trailing "/") that the names of labels.csv are relative to; "" for the top.
    prefix: str = ""
    seen_content: dict = dataclasses.field(default_factory=dict, repr=False)

    def listed_as(self, name):
        """`name` as a labels.csv beside the source's own (or at its top) lists it: '7K2P.png' for 'site/7K2P.png'."""
        return name.removeprefix(self.prefix)

    def decoded(self, names):
        """(name, image, None), or (name, None, reason) where the image is unreadable or has the same bytes as
        one this object decoded before, for each of `names` in turn: one image in memory at a time."""
        for name in names:
            image, reason = _decode(self.files, name, self.seen_content)
            yield name, image, reason


def read_partly_labelled(source, labels_from_names=False, max_count=None, max_bytes=None):
    """Every image in the folder or `.zip` at `source`, with the labels a person gave some of them, as
    `PartlyLabelled` (nothing is decoded yet).

    The labels are the non-empty rows of the source's labels.csv (an empty text leaves the image
    unlabelled); without a labels.csv, with `labels_from_names`, the file names (see `label_from_name`),
    and otherwise none. ValueError where `source` holds no image, more than `max_count`, or is a zip that
    unpacks to more than `max_bytes`, or where `labels_from_names` is asked of a source with a labels.csv.
    """
    source = os.fspath(source)
    files = _open_files(source, max_bytes, "captchas")
    prefix, rows = _labels_csv(files, source)
    images, skipped, typed, listed = _image_names(files), [], {}, set()
    if prefix is not None:
        if labels_from_names:
            raise ValueError(f"{source} has a labels.csv, whose rows are its labels; file names count as labels "
                             f"only in a folder or .zip without one: leave out --labels-from-names.")
        present = set(files.names)
        for name, text in rows:
            name = prefix + name
            if name in listed:
                skipped.append((name, "duplicate: listed twice"))
            elif name not in present:
                skipped.append((name, "listed but missing"))
            elif text:
                typed[name] = text
            listed.add(name)
        outside = [name for name in images if not name.startswith(prefix)]
        skipped += [(name, f"outside {prefix}, the folder of labels.csv") for name in outside]
        images = [name for name in images if name.startswith(prefix)]
    elif labels_from_names:
        typed = {name: label_from_name(name) for name in images if label_from_name(name)}
    # A file labels.csv lists is read whatever its suffix, as read_labelled reads it.
    names = sorted(set(images) | (listed & set(files.names)))
    if not names:
        reasons = f" {describe_skipped(skipped)}" if skipped else ""
        raise ValueError(f"{source} holds no images. Accepted: files ending in "
                         f"{', '.join(IMAGE_SUFFIXES)}, in a folder (or its subfolders) or a .zip.{reasons}")
    if max_count is not None and len(names) > max_count:
        raise ValueError(f"{os.path.basename(source)} holds {len(names):,} images; at most {max_count:,} are "
                         f"accepted.")
    labels_from = LABELS_FILE if prefix is not None else "file names" if labels_from_names else "nothing"
    return PartlyLabelled(source, names, typed, labels_from, skipped, files, prefix or "")
