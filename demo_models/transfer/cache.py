"""Bottleneck vectors cached on disk, keyed by the base's weights and each image's content.

One `.npy` file per vector: `<root>/bottlenecks/<base key>/<image sha256>.npy`. A second run
over the same images and weights computes none; a changed image (new content hash) or new
weights (new base key) recompute only what changed. Deleting the folder is always safe, and
an unreadable or malformed entry is recomputed (and counted), never trusted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo_models.runtime import progress

FORMAT = 1  # bump when the vectors' meaning changes, so old entries are not reused


def content_key(data: bytes) -> str:
    """The SHA-256 of some bytes (an image file's content), as hex."""
    return hashlib.sha256(data).hexdigest()


def file_key(path: str | os.PathLike, *extra: str) -> str:
    """The SHA-256 of a file's bytes and `extra` strings (e.g. the input size), as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    for text in (f"format={FORMAT}", *extra):
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


@dataclass
class CacheStats:
    """What one pass over the cache did."""

    reused: int = 0
    computed: int = 0
    corrupt: int = 0  # entries that were present but unreadable, recomputed
    failed: int = 0  # items compute could not do (e.g. not an image): not stored

    def __str__(self) -> str:
        text = f"{self.computed} computed, {self.reused} from the cache"
        if self.corrupt:
            text += f", {self.corrupt} corrupt entries recomputed"
        return text + (f", {self.failed} failed" if self.failed else "")


class BottleneckCache:
    """Vectors of one base (`base_key`) under `root`, one file per image content key."""

    def __init__(self, root: str | os.PathLike, base_key: str, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.folder = Path(root) / "bottlenecks" / base_key[:32]
        self.dim = dim
        self.stats = CacheStats()

    def path(self, key: str) -> Path:
        """The file that holds the vector of the image with content key `key`."""
        return self.folder / f"{key}.npy"

    def read(self, key: str) -> np.ndarray | None:
        """The cached vector, or None when absent or not a float32 [dim] array."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            vector = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            vector = None
        if (
            vector is None
            or vector.shape != (self.dim,)
            or vector.dtype != np.float32
            or not np.isfinite(vector).all()
        ):
            self.stats.corrupt += 1
            return None
        return vector

    def write(self, key: str, vector: np.ndarray) -> None:
        """Store a vector atomically (a crash leaves the old entry or none, never half)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(vector, np.float32).reshape(self.dim))
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def vectors(
        self,
        keys: Sequence[str],
        compute: Callable[[list[int]], np.ndarray],
        batch_size: int = 32,
        desc: str = "bottlenecks",
    ) -> np.ndarray:
        """[len(keys), dim] vectors: cached ones read, the others computed and stored.

        `compute(indices)` returns the vectors of `keys[i]` for those indices, in order;
        misses go to it `batch_size` at a time, each batch stored before the next, so an
        interrupted run keeps what it computed. A row of NaN from `compute` means "cannot"
        (e.g. not an image): it is returned as NaN, counted in `stats.failed`, never stored.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(keys), self.dim), np.float32)
        missing: list[int] = []
        first: dict[str, int] = {}  # duplicate images are computed once
        for i, key in enumerate(keys):
            if key in first:
                continue
            first[key] = i
            vector = self.read(key)
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
                self.stats.reused += 1
        batches = [missing[at : at + batch_size] for at in range(0, len(missing), batch_size)]
        for batch in progress(batches, desc=desc):
            computed = np.asarray(compute(batch), np.float32)
            if computed.shape != (len(batch), self.dim):
                raise ValueError(
                    f"compute returned shape {list(computed.shape)}, "
                    f"expected {[len(batch), self.dim]}"
                )
            for i, vector in zip(batch, computed, strict=True):
                out[i] = vector
                if np.isfinite(vector).all():
                    self.write(keys[i], vector)
                    self.stats.computed += 1
                else:
                    out[i] = np.nan
                    self.stats.failed += 1
        for i, key in enumerate(keys):
            if first[key] != i:
                out[i] = out[first[key]]
        return out
