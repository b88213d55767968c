"""Seeded, cached 4-digit captcha data sets made with the `captcha` package.

captcha 0.7.1 draws all its randomness from the `secrets` module, so seeding `random` does
nothing. `seeded_captcha()` swaps the module's `secrets` for an object with the same three
functions (randbelow, randbits, choice) backed by a seeded `random.Random`, which makes the
images byte-identical for a seed.

Images are made in fixed-size chunks, each with its own seed derived from
(master seed, split, chunk index), so a data set never depends on the number of worker
processes, and the first n images of a larger set equal the set of size n. A set is cached
as uint8 `.npy` files (gray images [n, h, w], labels [n, 4]) that load as memory maps.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo_models.runtime import cache_root

DIGITS = "0123456789"
LENGTH = 4
WIDTH = 160
HEIGHT = 60
CHUNK = 250  # images per seeded chunk; changing it changes every data set
FORMAT = 2  # bump when the generation recipe changes, so stale caches are not reused

# Each split draws from its own seed stream; "evaluate" is never used by training.
SPLITS = {"train": 1, "validation": 2, "test": 3, "evaluate": 4}
FRESH_BASE = 1000  # fresh training data of epoch e uses stream FRESH_BASE + e

# Named presets: (train, validation, test) sizes.
PRESETS = {
    "course": (9999, 100, 100),  # the course notes: 9,999 training and 100 test images
    "quick": (8000, 500, 0),
    "target": (72000, 1000, 1000),
}

_patch_lock = threading.Lock()


class SeededSecrets:
    """Stands in for the `secrets` module inside captcha.image, drawing from a seeded Random."""

    def __init__(self, rng: random.Random):
        self._rng = rng

    def randbelow(self, n: int) -> int:
        """A uniform integer in [0, n), like secrets.randbelow."""
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        """k uniformly random bits, like secrets.randbits."""
        return self._rng.getrandbits(k)

    def choice(self, seq):
        """A uniformly chosen element, like secrets.choice."""
        return self._rng.choice(seq)


@contextlib.contextmanager
def seeded_captcha(rng: random.Random) -> Iterator[None]:
    """Make captcha.image draw from `rng` inside the block (one block at a time per process)."""
    import captcha.image as image_module

    with _patch_lock:
        saved = image_module.secrets
        image_module.secrets = SeededSecrets(rng)
        try:
            yield
        finally:
            image_module.secrets = saved


def _stream(split: str | int) -> int:
    if isinstance(split, int):
        return split
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    return SPLITS[split]


def _check(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


_generators: dict[tuple[int, int], object] = {}


def _generator(width: int, height: int):
    from captcha.image import ImageCaptcha

    key = (width, height)
    if key not in _generators:  # fonts load once per process
        _generators[key] = ImageCaptcha(width=width, height=height)
    return _generators[key]


def generate_chunk(
    seed: int, stream: int, index: int, n: int, width: int = WIDTH, height: int = HEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """One seeded chunk: gray uint8 images [n, height, width] and digit labels [n, 4]."""
    words = np.random.SeedSequence([seed, stream, index]).generate_state(4)
    rng = random.Random(int.from_bytes(words.tobytes(), "little"))
    generator = _generator(width, height)
    images = np.empty((n, height, width), np.uint8)
    labels = np.empty((n, LENGTH), np.uint8)
    with seeded_captcha(rng):
        for i in range(n):  # label then image, so a shorter chunk is a prefix of a longer one
            labels[i] = [rng.randrange(len(DIGITS)) for _ in range(LENGTH)]
            text = "".join(DIGITS[d] for d in labels[i])
            images[i] = np.asarray(generator.generate_image(text).convert("L"))
    return images, labels


def _chunk_job(args: tuple[int, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    return generate_chunk(*args)


def default_workers() -> int:
    """Worker processes for generation: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context():
    """fork when it is safe (fast start), spawn once TensorFlow's threads exist in this process."""
    if "tensorflow" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def generate(
    n: int,
    seed: int,
    split: str | int = "train",
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    workers: int | None = None,
    desc: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Make n seeded captchas with a process pool; the result does not depend on `workers`."""
    n = _check("n", n, 0)
    seed = _check("seed", seed, 0)
    width, height = _check("width", width, 8), _check("height", height, 8)
    stream = _stream(split)
    jobs = [
        (seed, stream, i, min(CHUNK, n - start), width, height)
        for i, start in enumerate(range(0, n, CHUNK))
    ]
    workers = min(default_workers() if workers is None else max(1, workers), max(1, len(jobs)))
    images = np.empty((n, height, width), np.uint8)
    labels = np.empty((n, LENGTH), np.uint8)
    from demo_models.runtime import progress

    bar_desc = desc or f"captchas ({split})"
    if workers == 1:
        results = map(_chunk_job, jobs)
        pool = contextlib.nullcontext()
    else:
        pool = _context().Pool(workers)
        results = pool.imap(_chunk_job, jobs)
    with pool:
        start = 0
        for chunk_images, chunk_labels in progress(results, bar_desc, total=len(jobs)):
            images[start : start + len(chunk_images)] = chunk_images
            labels[start : start + len(chunk_labels)] = chunk_labels
            start += len(chunk_images)
    return images, labels


@dataclass(frozen=True)
class CaptchaSet:
    """A data set: gray uint8 images [n, h, w] and labels [n, 4] (possibly memory maps)."""

    images: np.ndarray
    labels: np.ndarray
    path: Path | None = None
    cached: bool = False

    def __len__(self) -> int:
        return len(self.labels)

    def texts(self) -> list[str]:
        """The captcha strings, e.g. "0427"."""
        return ["".join(DIGITS[d] for d in row) for row in self.labels]


def cache_path(
    n: int,
    seed: int,
    split: str | int,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """The folder that holds (or will hold) one cached data set."""
    import captcha

    version = getattr(captcha, "__version__", "unknown")
    name = split if isinstance(split, str) else f"stream{split}"
    return (
        cache_root(cache_dir)
        / "captcha"
        / f"v{FORMAT}-captcha{version}-{width}x{height}-chunk{CHUNK}"
        / f"{name}-seed{seed}-n{n}"
    )


def load(
    n: int,
    seed: int,
    split: str | int = "train",
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    workers: int | None = None,
) -> CaptchaSet:
    """A seeded data set from the cache, generating and caching it when missing."""
    if not use_cache:
        images, labels = generate(n, seed, split, width=width, height=height, workers=workers)
        return CaptchaSet(images, labels)
    path = cache_path(n, seed, split, width=width, height=height, cache_dir=cache_dir)
    if (path / "meta.json").is_file():
        try:
            images = np.load(path / "images.npy", mmap_mode="r")
            labels = np.load(path / "labels.npy", mmap_mode="r")
            if images.shape == (n, height, width) and labels.shape == (n, LENGTH):
                return CaptchaSet(images, labels, path, cached=True)
        except (OSError, ValueError):
            pass  # a damaged entry is simply made again
    images, labels = generate(n, seed, split, width=width, height=height, workers=workers)
    _store(path, images, labels, {"n": n, "seed": seed, "split": split, "size": [width, height]})
    return CaptchaSet(images, labels, path, cached=False)


def _store(path: Path, images: np.ndarray, labels: np.ndarray, meta: dict) -> None:
    """Write a cache entry atomically (a temporary folder renamed into place)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
        tmp.mkdir()
        np.save(tmp / "images.npy", images)
        np.save(tmp / "labels.npy", labels)
        (tmp / "meta.json").write_text(json.dumps(meta))
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:  # another process stored the same set first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:  # a read-only cache must not stop training
        import warnings

        warnings.warn(f"could not cache captchas under {path}: {exc}", stacklevel=2)
