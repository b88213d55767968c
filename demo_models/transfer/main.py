"""`flowscope demo transfer`: train the lesson's head on cached bottleneck vectors.

With `--data DIR` (class sub-folders of images) and Inception-V3's weights (`--weights FILE`
or Keras's cache file), every image goes once through Inception-V3 without its top to its
2048-d bottleneck vector, cached on disk; the head is trained on random batches of them.
Without `--data`, the offline stand-in: a small CNN trained here on digits 0-4 is the base,
transferred to digits 5-9 with a few labelled images, against training from scratch.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from demo_models import lesson
from demo_models.runtime import CliError, cache_root
from demo_models.transfer import head as head_module
from demo_models.transfer import inception, standin

STEPS = 4000  # the head's gradient-descent steps (the lesson's max_steps)
QUICK_STEPS = 300
LEARNING_RATE = 0.01


def _parser() -> argparse.ArgumentParser:
    p = lesson.parser(
        "transfer",
        "Transfer learning: the lesson's head (layer1, layer2, logits) trained with gradient "
        "descent on cached bottleneck vectors of Inception-V3 (--data DIR with its weights), "
        "or offline of a small CNN trained here on digits 0-4 and transferred to digits 5-9.",
        steps=STEPS,
        quick_steps=QUICK_STEPS,
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="images in class sub-folders (DIR/<class>/*.jpg); needs Inception-V3's weights "
        "(default: the offline digits stand-in)",
    )
    p.add_argument(
        "--weights",
        metavar="FILE",
        help=f"Keras weights of InceptionV3 without its top (default: "
        f"$KERAS_HOME/models/{inception.WEIGHTS_FILE} when present; never downloaded)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=inception.IMAGE_SIZE,
        help="Inception-V3's input side in pixels, >= 75 (default: %(default)s)",
    )
    p.add_argument(
        "--lr", type=float, default=LEARNING_RATE, help="gradient-descent rate (%(default)s)"
    )
    p.add_argument(
        "--labels-per-class",
        type=int,
        default=standin.LABELS_PER_CLASS,
        help="stand-in: labelled images per target class (default: %(default)s)",
    )
    p.add_argument(
        "--cache-dir",
        help="bottleneck cache (default $FLOWSCOPE_CACHE, else ~/.cache/flowscope); safe to delete",
    )
    return p


def _check(args: argparse.Namespace) -> None:
    if args.image_size < inception.MIN_IMAGE_SIZE:
        raise CliError(f"--image-size must be >= {inception.MIN_IMAGE_SIZE}, got {args.image_size}")
    if not args.lr > 0:
        raise CliError(f"--lr must be > 0, got {args.lr}")
    if args.labels_per_class < 1:
        raise CliError(f"--labels-per-class must be >= 1, got {args.labels_per_class}")
    if args.weights is not None and args.data is None:
        raise CliError("--weights needs --data DIR (the images to classify)")


def main(argv: list[str]) -> int:
    """Run the Inception-V3 lesson on --data, or the offline stand-in without it."""
    args = _parser().parse_args(argv)
    _check(args)
    weights = inception.find_weights(args.weights)
    if args.data is not None and weights is None:
        raise CliError(inception.missing_weights_message())
    # a bad folder fails before the run directory is touched
    folder = inception.scan(args.data) if args.data is not None else None
    lesson.prepare(args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    status = _inception(args, weights, folder) if folder is not None else _standin(args, weights)
    lesson.print_guide("transfer", args)
    return status


def _inception(args: argparse.Namespace, weights, folder: inception.ImageFolder) -> int:
    began = time.perf_counter()
    vectors, cache, extract = inception.bottlenecks(
        folder, weights, args.image_size, cache_root(args.cache_dir)
    )
    seconds = time.perf_counter() - began
    usable = np.flatnonzero(np.isfinite(vectors).all(axis=1))
    is_test = np.zeros(len(vectors), bool)
    is_test[usable] = inception.split([folder.keys[i] for i in usable], folder.labels[usable])
    train = usable[~is_test[usable]]
    test = usable[is_test[usable]]
    if not len(test):
        raise CliError(f"--data {args.data}: need two or more readable images in a class")
    shown = usable[head_module.projector_sample(len(usable), args.seed)]
    need = np.union1d(test, shown)
    thumbs = {int(i): inception.load_image(folder.files[i], inception.THUMBNAIL) for i in need}
    data = head_module.Bottlenecks(
        vectors[train],
        folder.labels[train],
        vectors[test],
        folder.labels[test],
        folder.classes,
        np.stack([thumbs[int(i)] for i in test]),
    )
    rate = (
        f" ({extract.images / extract.seconds:.1f} images/s through the base)"
        if extract.images
        else ""
    )
    about = (
        f"bottlenecks of {len(folder.files)} files: {cache.stats} in {seconds:.1f} s{rate}"
        f"; cache {cache.folder}"
    )
    skipped = len(folder.files) - len(usable)
    steps = lesson.step_count(args)
    head = head_module.build(inception.DIM, len(folder.classes), args.lr, args.seed)
    with lesson.Run("transfer", args.logdir, head=head[0]) as run:
        run.note(
            "about/data",
            f"Inception-V3 (Keras, without its top, {args.image_size}x{args.image_size} input) "
            f"from {weights}; {len(usable)} images of {len(folder.classes)} classes in "
            f"{args.data}: {len(train)} training, {len(test)} test"
            + (f"; {skipped} files skipped (not readable images)" if skipped else ""),
        )
        run.note("about/bottlenecks", about)
        accuracy = head_module.train(run, data, head, steps, args.seed)
        head_module.write_projector(
            run.logdir,
            vectors[shown],
            [folder.classes[folder.labels[i]] for i in shown],
            ["test" if is_test[i] else "train" for i in shown],
            np.stack([thumbs[int(i)] for i in shown]),
        )
    lesson.say(
        f"transfer: test accuracy {accuracy:.4f}; Projector tab: {len(shown)} bottleneck "
        f"vectors in {run.logdir}"
    )
    return 0


def _standin(args: argparse.Namespace, weights) -> int:
    root = cache_root(args.cache_dir)
    hint = (
        f"Inception-V3 runs with --data DIR (its weights: {weights})"
        if weights
        else "The Inception-V3 lesson needs --data DIR and its weights file: "
        + inception.where_to_get_weights()
    )
    data = standin.tasks(args.seed)
    steps = lesson.step_count(args)
    # a run shorter than the quick one (--steps below it) also trains the base and the two
    # from-scratch networks for less, in proportion: the same comparison, less of it
    share = min(1.0, steps / QUICK_STEPS)
    epochs = standin.QUICK_BASE_EPOCHS if args.quick else standin.BASE_EPOCHS
    epochs = max(1, round(epochs * share))
    scratch_steps = max(1, math.ceil(standin.SCRATCH_STEPS * share))
    base, base_file, source_accuracy = standin.trained_base(data, root, epochs, args.seed)
    images = np.concatenate([data.pool_x, data.test_x])
    began = time.perf_counter()
    vectors, cache = standin.bottlenecks(base, base_file, images, root)
    seconds = time.perf_counter() - began
    pool_vectors, test_vectors = vectors[: len(data.pool_x)], vectors[len(data.pool_x) :]
    few = data.few(args.labels_per_class, args.seed)
    bottlenecks = head_module.Bottlenecks(
        pool_vectors[few],
        data.pool_y[few],
        test_vectors,
        data.test_y,
        standin.CLASSES,
        (data.test_x * 255).astype(np.uint8),
    )
    head = head_module.build(standin.DIM, len(standin.CLASSES), args.lr, args.seed)
    with lesson.Run("transfer", args.logdir, head=head[0]) as run:
        run.note(
            "about/data",
            "offline stand-in, NOT Inception-V3: the base is a small CNN trained here on "
            f"scikit-learn's digits 0-4 ({len(data.source_y)} images, held-out accuracy "
            f"{source_accuracy:.3f}, seen at small shifts); the head learns digits 5-9 from "
            f"its {standin.DIM}-d bottleneck (pool2, flattened) "
            f"with {len(few)} labelled images. {hint}",
        )
        run.note(
            "about/bottlenecks",
            f"bottlenecks of {len(images)} digits: {cache.stats} in {seconds:.2f} s; "
            f"cache {cache.folder}",
        )
        transfer = head_module.train(run, bottlenecks, head, steps, args.seed)
        rows = [
            (
                "without transfer (whole network from scratch)",
                len(data.pool_y),
                standin.scratch(data, None, args.seed, scratch_steps),
            ),
            (
                "without transfer (whole network from scratch)",
                len(few),
                standin.scratch(data, few, args.seed, scratch_steps),
            ),
            ("with transfer (base from digits 0-4, head only)", len(few), transfer),
        ]
        run.note("about/comparison", standin.table(rows))
        groups = np.full(len(images), "unlabelled", dtype=object)
        groups[few] = "labelled"
        groups[len(data.pool_x) :] = "test"
        shown = head_module.projector_sample(len(images), args.seed)
        labels = np.concatenate([data.pool_y, data.test_y])
        head_module.write_projector(
            run.logdir,
            vectors[shown],
            [standin.CLASSES[i] for i in labels[shown]],
            list(groups[shown]),
            (images[shown] * 255).astype(np.uint8),
        )
    return 0
