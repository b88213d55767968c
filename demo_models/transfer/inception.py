"""Inception-V3 without its top as the bottleneck extractor, over a folder of class folders.

Keras's `keras.applications.InceptionV3(include_top=False, pooling="avg")` is the lesson's
convolution and pooling layers; its 2048-d average-pooled output is the bottleneck vector.
The weights come from a local file only (`--weights`, else the file Keras keeps in
`$KERAS_HOME/models/` or `~/.keras/models/`): this module never downloads anything.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo_models.runtime import CliError
from demo_models.transfer.cache import BottleneckCache, content_key, file_key

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILE
)
DIM = 2048  # the bottleneck: InceptionV3's last block, average-pooled
IMAGE_SIZE = 299  # Inception-V3's input side
MIN_IMAGE_SIZE = 75  # the smallest input Keras accepts without the top
EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
TEST_FRACTION = 0.2
THUMBNAIL = 48  # side of the example images (Confusion page) and the sprite's thumbnails
BATCH_SIZE = 16  # images per forward pass of the base


def keras_cache_file() -> Path:
    """Where Keras keeps the weights file (`$KERAS_HOME` or `~/.keras`, then `models/`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / WEIGHTS_FILE


def missing_weights_message() -> str:
    """The one message for a missing weights file: where it goes and how to get it."""
    return "no Inception-V3 weights file: " + where_to_get_weights()


def where_to_get_weights() -> str:
    """Where the weights file goes and how to get it (never downloaded here)."""
    return (
        f"pass --weights FILE, or put {WEIGHTS_FILE} in "
        f"{keras_cache_file().parent}/ (where Keras looks). Flowscope never downloads it; on a "
        f"machine with internet access fetch {WEIGHTS_URL} (about 87 MB), or run "
        '`python -c "import keras; keras.applications.InceptionV3(include_top=False)"` '
        "there, which saves it in ~/.keras/models/, and copy the file here"
    )


def find_weights(path: str | os.PathLike | None) -> Path | None:
    """`--weights` (which must exist), else the Keras cache file when present, else None."""
    if path is not None:
        if not Path(path).is_file():
            raise CliError(f"--weights {path}: no such file")
        return Path(path)
    cached = keras_cache_file()
    return cached if cached.is_file() else None


@dataclass(frozen=True)
class ImageFolder:
    """Image files in class sub-folders, with their content keys."""

    files: list[Path]
    labels: np.ndarray  # int64 [n], index into classes
    classes: list[str]
    keys: list[str]  # sha256 of each file's bytes


def scan(data: str | os.PathLike) -> ImageFolder:
    """The images of `DIR/<class>/*` (by extension), classes sorted; CliError when unusable."""
    root = Path(data)
    if not root.is_dir():
        raise CliError(f"--data {data}: no such directory")
    files, labels, classes, keys = [], [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS
        )
        if not images:
            continue
        for path in images:
            try:
                keys.append(content_key(path.read_bytes()))
            except OSError as exc:
                raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
            files.append(path)
            labels.append(len(classes))
        classes.append(folder.name)
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise CliError(
            f"--data {data}: need image files in at least two class sub-folders "
            f"(DIR/<class>/*.jpg), found {found}"
        )
    return ImageFolder(files, np.asarray(labels, np.int64), classes, keys)


def load_image(path: Path, side: int) -> np.ndarray | None:
    """RGB uint8 [side, side, 3], or None when the file is not a readable image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when it can
            return np.asarray(image.convert("RGB").resize((side, side), Image.BILINEAR))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def split(keys: list[str], labels: np.ndarray, fraction: float = TEST_FRACTION) -> np.ndarray:
    """A boolean test mask: per class the images whose content hash sorts first.

    Stable for a fixed set of images (it depends on contents, not names or order); adding
    or changing an image may move at most one other image between training and test.
    Every class with two or more images keeps at least one of each.
    """
    test = np.zeros(len(keys), bool)
    for label in np.unique(labels):
        members = sorted(np.flatnonzero(labels == label), key=lambda i: keys[i])
        if len(members) >= 2:
            count = min(len(members) - 1, max(1, round(fraction * len(members))))
            test[members[:count]] = True
    return test


class Extractor:
    """InceptionV3 without its top, built on first use (a fully cached run never builds it)."""

    def __init__(self, weights: Path, image_size: int) -> None:
        self.weights = weights
        self.image_size = image_size
        self.model = None
        self.seconds = 0.0  # time spent in forward passes
        self.images = 0

    def build(self):
        """The Keras model: InceptionV3(include_top=False, pooling='avg') from the file."""
        import keras

        try:
            return keras.applications.InceptionV3(
                include_top=False,
                weights=str(self.weights),
                input_shape=(self.image_size, self.image_size, 3),
                pooling="avg",
            )
        except (ValueError, OSError, KeyError) as exc:
            raise CliError(
                f"--weights {self.weights}: cannot load it into InceptionV3 without its top "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            ) from None

    def __call__(self, files: list[Path]) -> np.ndarray:
        """[len(files), 2048] bottlenecks; a row of NaN for a file that is not an image."""
        from keras.applications.inception_v3 import preprocess_input

        out = np.full((len(files), DIM), np.nan, np.float32)
        pixels = [load_image(path, self.image_size) for path in files]
        good = [i for i, image in enumerate(pixels) if image is not None]
        if good:
            if self.model is None:  # only when there is an image to run: seconds to build
                self.model = self.build()
            batch = preprocess_input(np.stack([pixels[i] for i in good]).astype(np.float32))
            began = time.perf_counter()
            out[good] = np.asarray(self.model(batch, training=False))
            self.seconds += time.perf_counter() - began
            self.images += len(good)
        return out


def bottlenecks(
    folder: ImageFolder, weights: Path, image_size: int, cache_root: Path
) -> tuple[np.ndarray, BottleneckCache, Extractor]:
    """Every image's bottleneck (NaN rows: not images), from the cache or computed."""
    if image_size < MIN_IMAGE_SIZE:
        raise CliError(f"--image-size must be >= {MIN_IMAGE_SIZE}, got {image_size}")
    base_key = file_key(weights, f"keras InceptionV3 include_top=False avg size={image_size}")
    cache = BottleneckCache(cache_root, base_key, DIM)
    extract = Extractor(weights, image_size)
    vectors = cache.vectors(
        folder.keys,
        lambda indices: extract([folder.files[i] for i in indices]),
        batch_size=BATCH_SIZE,
    )
    return vectors, cache, extract
