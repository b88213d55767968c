"""`flowscope predict catsdogs MODEL DIR --out SORTED`: the lesson's last step.

The lesson runs its trained model over the 12,500 unlabelled Kaggle test photos and writes
them into one folder per class, then looks at the ones it got wrong. Here every image under
DIR is COPIED (the originals are never moved or deleted) into ``SORTED/<class>/``, and
``SORTED/predictions.csv`` lists file, class and confidence (the softmax probability of the
chosen class). A file that cannot be read as an image is listed with class ``unreadable``
and not copied. SORTED must be empty or new, unless --force.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from demo_models.catsdogs import data
from demo_models.catsdogs.train import LABELS_FILE, MODEL_FILE
from demo_models.runtime import CliError, command_parser, progress, saved_model

CSV_FILE = "predictions.csv"
UNREADABLE = "unreadable"


def _parser() -> argparse.ArgumentParser:
    p = command_parser(
        "predict catsdogs",
        "Sort unlabelled images into one folder per predicted class (copies) "
        "and write predictions.csv (file, class, confidence).",
    )
    p.add_argument("model", metavar="MODEL", help="model.keras, or the run directory holding it")
    p.add_argument("images", metavar="DIR", help="folder of images to sort (searched recursively)")
    p.add_argument("--out", required=True, metavar="SORTED", help="folder to copy them into")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out folder")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (%(default)s)")
    return p


def _model_paths(arg: str) -> tuple[Path, Path]:
    path, spec = saved_model(arg, MODEL_FILE, LABELS_FILE)
    if not spec.is_file():
        raise CliError(f"MODEL {arg!r}: no {LABELS_FILE} beside {path.name} (the class names)")
    return path, spec


def _out_dir(arg: str, images: Path, force: bool) -> Path:
    out = Path(arg).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {arg!r} is a file, not a folder")
    if out.resolve() == images.resolve() or images.resolve() in out.resolve().parents:
        raise CliError(f"--out {arg!r} must not be inside DIR {str(images)!r}")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CliError(f"--out {arg!r} is not empty (use --force to write into it anyway)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {arg!r}: cannot create it: {exc.strerror or exc}") from None
    return out


def _target(out: Path, label: str, relative: Path) -> Path:
    # files from sub-folders keep their path in the name, so two "1.jpg" never collide
    name = "__".join(relative.parts)
    return out / label / name


def main(argv: list[str]) -> int:
    """Classify every image under DIR, copy it into --out/<class>/, write the CSV."""
    args = _parser().parse_args(argv)
    if args.batch_size < 1:
        raise CliError("--batch-size must be >= 1")
    model_path, spec_path = _model_paths(args.model)
    images = Path(args.images).expanduser()
    if not images.is_dir():
        raise CliError(f"DIR {args.images!r} is not a folder")
    try:
        spec = json.loads(spec_path.read_text())
        classes, side = list(spec["classes"]), int(spec["image_size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(f"MODEL {args.model!r}: {spec_path.name} is not readable: {exc}") from None
    files = [p for p in data.paths_in(images) if not p.name.startswith(".")]
    if not files:
        raise CliError(f"DIR {args.images!r} holds no image files ({', '.join(data.EXTENSIONS)})")
    out = _out_dir(args.out, images, args.force)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    net = keras.models.load_model(model_path)
    readable = [p for p in files if data.image_header(p)]
    ds = tf.data.Dataset.from_tensor_slices([str(p) for p in readable])
    # the path travels with its image, so a file dropped by ignore_errors is known by name
    ds = ds.map(lambda p: (p, data.decode(p, side)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.ignore_errors().batch(args.batch_size).prefetch(tf.data.AUTOTUNE)
    results: dict[Path, tuple[str, float]] = {}
    batches = -(-len(readable) // args.batch_size)
    for paths, batch in progress(ds, desc="sorting", total=batches):
        logits = np.asarray(net.predict_on_batch(batch), np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        for raw, row in zip(paths.numpy(), probs, strict=True):
            path = Path(os.fsdecode(raw))
            label = classes[int(row.argmax())]
            results[path] = (label, float(row.max()))
            target = _target(out, label, path.relative_to(images))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    counts = {c: 0 for c in classes}
    with open(out / CSV_FILE, "w", newline="", encoding="utf-8") as f:
        rows = csv.writer(f)
        rows.writerow(["file", "class", "confidence"])
        for path in files:
            label, confidence = results.get(path, (UNREADABLE, float("nan")))
            counts[label] = counts.get(label, 0) + 1
            conf = "" if label == UNREADABLE else f"{confidence:.4f}"
            rows.writerow([path.relative_to(images).as_posix(), label, conf])
    summary = ", ".join(f"{n} {label}" for label, n in counts.items())
    print(f"sorted {len(files)} image(s) from {images} into {out}: {summary}; see {out / CSV_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
