"""The files a served app keeps on disk, bounded by age and total size.

Every answer of the app comes with pictures (the captcha drawn, what the model saw, heat
maps, failures), and every reading starts from a file a visitor uploaded. A public demo
cannot keep them all: `PictureStore` writes each picture once, named after its content,
counts the uploads it is handed, and deletes the oldest files beyond `max_bytes` or older
than `max_age_seconds`.

The store's folder is meant to lie inside Gradio's own cache, so that Gradio serves the
pictures where they are instead of storing a second copy of each.
"""

import collections
import contextlib
import hashlib
import io
import os
import tempfile
import threading
import time


def content_digest(path):
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


class PictureStore:
    """Content-addressed PNG files under `folder`, plus files it is told about, pruned by age and size.

    Files are forgotten oldest first, by when they were last written or handed out, so a
    picture shown again is kept longer. The newest file is never deleted, even when it alone
    is larger than `max_bytes`: it is the one an answer is about to name.
    """

    def __init__(self, folder, max_bytes, max_age_seconds):
        if max_bytes < 1 or max_age_seconds <= 0:
            raise ValueError(f"A store needs a positive size and age bound, got {max_bytes} bytes and "
                             f"{max_age_seconds} s.")
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        # path -> (size in bytes, time last used), oldest first.
        self.files = collections.OrderedDict()
        self.total_bytes = 0
        # The sha256 of contents never to count or delete: the example uploads, whose copies Gradio
        # serves for as long as the page offers them.
        self.kept = set()
        self.lock = threading.Lock()
        os.makedirs(folder, exist_ok=True)

    def save(self, picture, name):
        """A PIL image as `name`.png in a folder named after its content; returns its path.

        The file is written under a temporary name and renamed into place, so a visitor
        shown the same picture as another request at the same moment never gets half a file.
        """
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        content = buffer.getvalue()
        directory = os.path.join(self.folder, hashlib.sha256(content).hexdigest())
        path = os.path.join(directory, f"{name}.png")
        with self.lock:
            if os.path.exists(path):
                # Gradio's own cache cleaning ages files by their timestamps too.
                os.utime(path)
            else:
                os.makedirs(directory, exist_ok=True)
                handle, partial = tempfile.mkstemp(suffix=".png", dir=directory)
                with os.fdopen(handle, "wb") as file:
                    file.write(content)
                os.replace(partial, path)
            self._record(path, len(content))
        return path

    def keep(self, paths):
        """Never count or delete a file with the content of one of `paths`, wherever it lies.

        An example upload reaches `add` as Gradio's copy of it, whose path is Gradio's to choose;
        its content is the example's.
        """
        self.kept |= {content_digest(path) for path in paths}

    def add(self, path):
        """Count a file written by someone else (an upload), so that it is pruned with the rest."""
        with contextlib.suppress(FileNotFoundError):
            if self.kept and content_digest(path) in self.kept:
                return
        with self.lock:
            with contextlib.suppress(FileNotFoundError):
                self._record(path, os.path.getsize(path))

    def _record(self, path, size):
        """Note `path` as the newest file, then prune; the lock is held."""
        self._forget(path)
        self.files[path] = (size, time.time())
        self.total_bytes += size
        self._prune()

    def _forget(self, path):
        if path in self.files:
            size, _ = self.files.pop(path)
            self.total_bytes -= size

    def _prune(self):
        oldest_kept = time.time() - self.max_age_seconds
        while len(self.files) > 1:
            path, (_, used) = next(iter(self.files.items()))
            if self.total_bytes <= self.max_bytes and used >= oldest_kept:
                break
            self._forget(path)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            # Each file has a folder of its own (here and in Gradio's cache); an empty one goes too.
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(path))
