"""Image folders for the cats-vs-dogs lesson: list the files, skip non-images, stream batches.

The lesson turns the Kaggle dogs-vs-cats photos into batch files first. Here the photos stay
on disk and stream through `tf.data` (list, decode, resize, augment, batch, prefetch), so
the data set never has to fit in memory. Two layouts are read:

* Kaggle: ``DIR/train/cat.123.jpg``, ``DIR/train/dog.456.jpg`` (or the files directly in
  DIR): the class is the file name's prefix before the first dot;
* class sub-folders: ``DIR/cat/*.jpg``, ``DIR/dog/*.jpg`` (or under ``DIR/train/``).

A file whose first bytes are not a JPEG, PNG, GIF or BMP header (an empty file, a text file,
a broken download) is skipped and counted when the folder is listed; a file that passes the
header check but still fails to decode is dropped by the pipeline (`ignore_errors`), so
training never crashes on a bad photo. The test images are a fixed, name-hashed fraction of
the labelled files (the Kaggle test folder has no labels).

Offline, without --data, `standin` writes a two-class set of REAL photographs instead:
random gray crops of the two photos scikit-learn ships (a temple and a flower), written
as JPEG files in the sub-folder layout, so the same pipeline reads them. It is NOT cats vs
dogs, and every run that uses it says so.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from demo_models.runtime import CliError, cache_root

EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
# first bytes of the formats tf.io.decode_image reads
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
STANDIN_CLASSES = ("temple", "flower")  # scikit-learn's china.jpg and flower.jpg
STANDIN_SOURCE = (
    "NOT cats vs dogs: no --data given, so the lesson runs offline on random gray crops of "
    "the two photographs scikit-learn ships (china.jpg, a temple: class 'temple'; flower.jpg: "
    "class 'flower'); test crops come from a strip of each photo that training never sees"
)


def image_header(path: Path) -> bool:
    """Whether the file starts like an image TensorFlow decodes (reads 8 bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return any(head.startswith(m) for m in MAGIC)


@dataclass
class Listing:
    """The labelled image files of a folder, split into training and test files."""

    classes: list[str]
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]
    layout: str  # "kaggle" or "folders"
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files skipped
    source: str = ""

    @property
    def skipped_total(self) -> int:
        """Files left out because they are not images."""
        return sum(self.skipped.values())

    def describe(self) -> str:
        """One line for people: where the images come from and what was skipped."""
        counts = ", ".join(
            f"{sum(1 for _, y in self.train + self.test if y == k)} {name}"
            for k, name in enumerate(self.classes)
        )
        skipped = "; ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        return (
            f"{self.source}: {len(self.train)} training / {len(self.test)} test images "
            f"({counts}; {self.layout} layout); skipped {self.skipped_total} file(s)"
            + (f" ({skipped})" if skipped else "")
        )


def _is_test(relative: str, fraction: float) -> bool:
    # a stable split: the same file is always on the same side, whatever else the folder holds
    return (zlib.crc32(relative.encode("utf-8", "surrogateescape")) % 10_000) < fraction * 10_000


def scan(root: str | os.PathLike, test_fraction: float = 0.1, name: str = "--data") -> Listing:
    """List the labelled images under `root` (Kaggle or class sub-folder layout)."""
    if not 0.0 < test_fraction < 1.0:
        raise CliError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CliError(f"{name} {str(root)!r} is not a folder")
    base = root / "train" if (root / "train").is_dir() else root
    subdirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[tuple[Path, str]] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    if subdirs:
        layout = "folders"
        for sub in subdirs:
            for path in sorted(sub.rglob("*")):
                if path.is_file():
                    files.append((path, sub.name))
    else:
        layout = "kaggle"
        for path in sorted(base.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            prefix, dot, _ = path.name.partition(".")
            if not dot or not prefix:
                skip("without a class prefix (class.N.jpg)")
                continue
            files.append((path, prefix.lower()))
    kept: list[tuple[Path, str]] = []
    for path, label in files:
        if path.stat().st_size == 0:
            skip("empty")
        elif not image_header(path):
            skip("not an image (no JPEG/PNG/GIF/BMP header)")
        else:
            kept.append((path, label))
    classes = sorted({label for _, label in kept})
    if len(classes) < 2:
        raise CliError(
            f"{name} {str(root)!r}: found {len(kept)} image(s) in {len(classes)} class(es); "
            "need two classes, as train/cat.1.jpg + train/dog.1.jpg or cat/*.jpg + dog/*.jpg"
        )
    index = {c: k for k, c in enumerate(classes)}
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for path, label in kept:
        relative = path.relative_to(root).as_posix()
        (test if _is_test(relative, test_fraction) else train).append((str(path), index[label]))
    if not train or not test:
        raise CliError(
            f"{name} {str(root)!r}: {len(kept)} image(s) are too few to hold out a test set"
        )
    return Listing(classes, train, test, layout, skipped, source=f"images from {root}")


# -- the offline stand-in -----------------------------------------------------------------


def standin(
    per_class: int = 400, side: int = 96, seed: int = 0, root: Path | None = None
) -> Listing:
    """Write (once) and list the offline two-class set: crops of scikit-learn's two photos.

    Training crops come from the left 75 % of each photo, test crops from the right 25 %,
    so a test crop never overlaps a training crop. Each crop has a random size (1/8 to 1/3
    of the photo's height): small crops of leaves or shadow can look alike in both photos,
    so the task is not trivial and the Confusion page has mistakes to show.
    """
    from PIL import Image
    from sklearn.datasets import load_sample_images

    root = root or cache_root() / f"catsdogs-standin-v3-{per_class}-{side}-{seed}"
    done = root / ".complete"
    if not done.is_file():
        photos = load_sample_images().images  # [china, flower], uint8 427 x 640 x 3
        rng = np.random.default_rng(seed)
        n_test = max(2, per_class // 4)
        for split, count in (("train", per_class), ("test", n_test)):
            for label, photo in zip(STANDIN_CLASSES, photos, strict=True):
                folder = root / split / label
                folder.mkdir(parents=True, exist_ok=True)
                h, w = photo.shape[:2]
                lo, hi = (0, int(w * 0.75)) if split == "train" else (int(w * 0.75), w)
                for i in range(count):
                    size = int(rng.integers(h // 8, min(h // 3, hi - lo) + 1))
                    y = int(rng.integers(0, h - size + 1))
                    x = int(rng.integers(lo, hi - size + 1))
                    # gray: colour alone (pink petals, blue sky) would give it away
                    crop = Image.fromarray(photo[y : y + size, x : x + size]).convert("L")
                    crop.resize((side, side), Image.BILINEAR).convert("RGB").save(
                        folder / f"{label}.{i}.jpg", quality=90
                    )
        done.write_text("ok\n")
    listing = Listing(list(STANDIN_CLASSES), [], [], "folders", source=STANDIN_SOURCE)
    for split, out in (("train", listing.train), ("test", listing.test)):
        for k, label in enumerate(STANDIN_CLASSES):
            out.extend((str(p), k) for p in sorted((root / split / label).glob("*.jpg")))
    return listing


# -- tf.data ------------------------------------------------------------------------------


def decode(path: Any, side: int) -> Any:
    """Read and decode one image file into float32 [side, side, 3] in [0, 1]."""
    import tensorflow as tf

    raw = tf.io.read_file(path)
    image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)
    return tf.image.resize(image, [side, side], antialias=True)


def augment(image: Any, side: int) -> Any:
    """The lesson's suggested image augmentation: flips, crops and brightness."""
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image)
    big = int(side * 1.15)
    image = tf.image.resize(image, [big, big])
    image = tf.image.random_crop(image, [side, side, 3])
    image = tf.image.random_brightness(image, 0.15)
    return tf.clip_by_value(image, 0.0, 1.0)


def dataset(
    files: list[tuple[str, int]],
    side: int,
    batch_size: int,
    *,
    train: bool,
    seed: int = 0,
) -> Any:
    """Batches (images [B, side, side, 3], labels [B]) streamed from disk.

    Training: shuffled, augmented, repeated forever. Test: one pass in file order.
    Files that fail to decode are dropped (`ignore_errors`), never raised.
    """
    import tensorflow as tf

    if not files:
        raise ValueError("files must not be empty")
    if side < 16:
        raise ValueError(f"side must be >= 16 (four 2 x 2 poolings), got {side}")
    paths = tf.constant([p for p, _ in files])
    labels = tf.constant([y for _, y in files], tf.int64)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if train:
        ds = ds.shuffle(min(len(files), 10_000), seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    auto = tf.data.AUTOTUNE

    def load(path, label):
        image = decode(path, side)
        return (augment(image, side) if train else image), label

    ds = ds.map(load, num_parallel_calls=auto, deterministic=not train).ignore_errors()
    return ds.batch(batch_size).prefetch(auto)


def load_array(files: list[tuple[str, int]], side: int, limit: int) -> tuple[np.ndarray, ...]:
    """Up to `limit` test images in memory (for the confusion page's example photos)."""
    images, labels = [], []
    for x, y in dataset(files[:limit], side, 64, train=False):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def paths_in(folder: Path) -> Iterator[Path]:
    """Files under `folder` with an image extension, in a stable order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in EXTENSIONS:
            yield path
