"""Captcha sets as sharded TFRecord files, and the tf.data pipeline that reads them.

The course's week 10 ("关于 tfrecord 文件"): for data too large for memory, convert the raw
data once into TFRecord files, then read them through an input pipeline that decodes in
parallel and prefetches while the network trains, so that the network never waits for its
data. Here the raw data is a cached captcha set (`data.load`); each record is a
`tf.train.Example` holding one captcha's PNG-encoded gray image and its four digit labels.

The shards of a set live in the data cache beside its `.npy` entry, under `tfrecord/`, with
a `manifest.json` giving each shard's record count, size and SHA-256. Every use checks them
against it: a missing, truncated or corrupt shard is named and made again from the cached
captchas (the others are kept); a cache that cannot be written (a full disk, a file where
a folder should be) is one clear error. A shard damaged while training reads it stops the
pipeline with an error naming the file, never a hang.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from demo_models.captcha import data
from demo_models.runtime import CliError

FORMAT = 1  # bump when the record layout changes, so old shards are not reused
MANIFEST = "manifest.json"
SHUFFLE_BUFFER = 1024  # records shuffled across the interleaved shards
CYCLE = 4  # shards read at once by the parallel interleave


def folder(
    n: int, seed: int, split: str | int, shards: int, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Where the shards of a cached captcha set live (beside its `.npy` entry)."""
    entry = data.cache_path(n, seed, split, cache_dir=cache_dir)
    return entry.parent / "tfrecord" / f"{entry.name}-v{FORMAT}-{shards}shards"


def shard_name(index: int, count: int) -> str:
    """The file name of shard `index` of `count`."""
    return f"captcha-{index:05d}-of-{count:05d}.tfrecord"


def bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """The captchas [start, stop) of each shard: contiguous, sizes differing by at most 1."""
    edges = np.linspace(0, n, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _example(png: bytes, labels: np.ndarray) -> bytes:
    """One serialized `tf.train.Example`: the PNG image and the digit labels."""
    import tensorflow as tf

    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
        "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=labels.tolist())),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_shard(path: Path, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Write one shard atomically (a temporary file renamed into place); its manifest entry."""
    import tensorflow as tf

    pngs = tf.map_fn(
        tf.io.encode_png, tf.constant(images[..., None]), fn_output_signature=tf.string
    ).numpy()
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex}")
    try:
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for png, label in zip(pngs, labels, strict=True):
                writer.write(_example(png, label))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "file": path.name,
        "records": len(labels),
        "bytes": path.stat().st_size,
        "sha256": _sha256(path),
    }


def _manifest(where: Path, n: int, shards: int) -> dict[str, Any] | None:
    """The folder's manifest if it is readable and describes this set, else None."""
    try:
        manifest = json.loads((where / MANIFEST).read_text())
        entries = manifest["shards"]
        if manifest.get("format") == FORMAT and manifest.get("n") == n and len(entries) == shards:
            return manifest
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def problem(path: Path, entry: dict[str, Any]) -> str | None:
    """What is wrong with a shard file compared with its manifest entry (None: nothing)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if size < entry["bytes"]:
        return f"truncated ({size:,} of {entry['bytes']:,} bytes)"
    if size != entry["bytes"]:
        return f"the wrong size ({size:,} bytes, not {entry['bytes']:,})"
    try:
        if _sha256(path) != entry["sha256"]:
            return "corrupt (its SHA-256 differs from the manifest's)"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def damaged(files: Sequence[Path]) -> dict[Path, str]:
    """The shards among `files` that no longer match their folder's manifest, and why."""
    found: dict[Path, str] = {}
    manifests: dict[Path, dict[str, dict[str, Any]]] = {}
    for path in files:
        if path.parent not in manifests:
            try:
                entries = json.loads((path.parent / MANIFEST).read_text())["shards"]
                manifests[path.parent] = {entry["file"]: entry for entry in entries}
            except (OSError, ValueError, KeyError, TypeError):
                manifests[path.parent] = {}
        entry = manifests[path.parent].get(path.name)
        why = problem(path, entry) if entry else "not in its folder's manifest"
        if why:
            found[path] = why
    return found


def _cache_error(where: Path, exc: BaseException) -> CliError:
    """One line for a cache that cannot be written, naming the folder and the reason."""
    reason = getattr(exc, "strerror", None) or getattr(exc, "message", None) or str(exc)
    full = getattr(exc, "errno", None) == errno.ENOSPC or "space left" in str(reason)
    advice = "free some space or choose" if full else "choose"
    return CliError(
        f"cannot write the TFRecord cache {where}: {reason}; {advice} another cache folder "
        "with --cache-dir or FLOWSCOPE_CACHE"
    )


def ensure(
    captchas: data.CaptchaSet, where: Path, shards: int, say: Callable[[str], None] = print
) -> list[Path]:
    """The shard files of `captchas` in `where`, checked against the manifest; the missing,
    truncated and corrupt ones (or all, without a usable manifest) are made again."""
    import tensorflow as tf

    n = len(captchas)
    if not 1 <= shards <= max(1, n):
        raise ValueError(f"shards must be in 1..{n}, got {shards}")
    names = [shard_name(i, shards) for i in range(shards)]
    manifest = _manifest(where, n, shards)
    if manifest is None:
        if (where / MANIFEST).exists():
            say(f"captcha records: {where / MANIFEST} is unreadable; making every shard again")
        todo = dict.fromkeys(range(shards), "")
        entries: list[dict[str, Any] | None] = [None] * shards
    else:
        entries = list(manifest["shards"])
        todo = {}
        for i, entry in enumerate(entries):
            why = problem(where / names[i], entry) if entry["file"] == names[i] else "renamed"
            if why:
                todo[i] = why
                say(f"captcha records: {where / names[i]} is {why}; making it again")
    if todo:
        started = time.perf_counter()
        try:
            where.mkdir(parents=True, exist_ok=True)
            for i in todo:
                start, stop = bounds(n, shards)[i]
                images = np.asarray(captchas.images[start:stop])
                labels = np.asarray(captchas.labels[start:stop], np.int64)
                entries[i] = write_shard(where / names[i], images, labels)
            meta = {"format": FORMAT, "n": n, "size": [data.WIDTH, data.HEIGHT], "shards": entries}
            tmp = where / f".tmp-{MANIFEST}-{uuid.uuid4().hex}"
            try:
                tmp.write_text(json.dumps(meta, indent=1))
                os.replace(tmp, where / MANIFEST)
            finally:
                tmp.unlink(missing_ok=True)
        except (OSError, tf.errors.OpError) as exc:
            raise _cache_error(where, exc) from None
        seconds = time.perf_counter() - started
        say(
            f"captcha records: wrote {len(todo)} of {shards} shards ({n:,} captchas in all) "
            f"to {where} in {seconds:.1f} s"
        )
    return [where / name for name in names]


def parse(record: Any, positions: Sequence[int]) -> tuple[Any, Any]:
    """A serialized Example -> (gray uint8 image [h, w, 1], the labels at `positions`)."""
    import tensorflow as tf

    features = tf.io.parse_single_example(
        record,
        {
            "image": tf.io.FixedLenFeature([], tf.string),
            "labels": tf.io.FixedLenFeature([data.LENGTH], tf.int64),
        },
    )
    image = tf.io.decode_png(features["image"], channels=1)
    image = tf.ensure_shape(image, [data.HEIGHT, data.WIDTH, 1])
    return image, tf.gather(features["labels"], list(positions))


def dataset(
    files: Sequence[Path],
    batch_size: int,
    *,
    positions: Sequence[int] = tuple(range(data.LENGTH)),
    seed: int = 0,
    training: bool = True,
) -> Any:
    """The input pipeline: shard files read by a parallel interleave, shuffled, decoded in
    parallel, batched and prefetched (training: repeated forever, a fixed batch size)."""
    import tensorflow as tf

    names = tf.data.Dataset.from_tensor_slices([str(f) for f in files])
    if training:
        names = names.shuffle(len(files), seed=seed).repeat()
    records = names.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(CYCLE, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,  # the same order for the same seed: both modes see one stream
    )
    if training:
        records = records.shuffle(SHUFFLE_BUFFER, seed=seed)
    decoded = records.map(
        lambda record: parse(record, positions),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return decoded.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def batches(pipeline: Any, files: Sequence[Path]) -> Iterator[tuple[Any, Any]]:
    """Iterate `pipeline`; a shard that fails to read (truncated, corrupt) ends it with a
    CliError naming the shard, never a hang."""
    import tensorflow as tf

    iterator = iter(pipeline)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as exc:
            bad = damaged(files)
            named = "; ".join(f"{path} is {why}" for path, why in bad.items())
            first = exc.message.splitlines()[0] if exc.message else type(exc).__name__
            raise CliError(
                f"a TFRecord shard failed to read ({named or first}); run the command "
                "again to make it anew"
            ) from None
        yield batch


def memory_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0
) -> Iterator[tuple[Any, Any]]:
    """The in-memory path the captcha lesson uses: the whole set in memory, shuffled each
    epoch, sliced into batches (as tensors, like the TFRecord pipeline's)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    images, labels = np.asarray(images)[..., None], np.asarray(labels, np.int64)
    while True:
        order = rng.permutation(len(labels))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            index = np.sort(order[start : start + batch_size])
            yield tf.constant(images[index]), tf.constant(labels[index])


def images_per_second(
    batches_: Iterator[tuple[Any, Any]], seconds: float = 0.5, warmup: int = 3
) -> float:
    """How many images per second `batches_` delivers over at least `seconds`, after `warmup`
    batches (the pipeline's start-up, its buffers filling)."""
    for _ in range(warmup):
        next(batches_)
    started = time.perf_counter()
    images, elapsed = 0, 0.0
    while elapsed < seconds:
        batch_images, _labels = next(batches_)
        images += int(batch_images.shape[0])
        elapsed = time.perf_counter() - started
    return images / elapsed


def compare_throughput(
    files: Sequence[Path],
    captchas: data.CaptchaSet,
    batch_size: int,
    *,
    seconds: float = 0.5,
    rounds: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Images/s of the TFRecord pipeline and of the in-memory path on the same captchas:
    the median of `rounds` alternating measurements of `seconds` each."""
    tfrecord = batches(dataset(files, batch_size, seed=seed), files)
    memory = memory_batches(captchas.images, captchas.labels, batch_size, seed)
    measured: dict[str, list[float]] = {"tfrecord": [], "memory": []}
    for _ in range(rounds):
        measured["tfrecord"].append(images_per_second(tfrecord, seconds))
        measured["memory"].append(images_per_second(memory, seconds))
    return {name: float(np.median(values)) for name, values in measured.items()}
