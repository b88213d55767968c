"""`SummaryCallback`: one Keras callback that logs what training does, at little cost.

`model.fit(..., callbacks=[SummaryCallback(log_dir)])` writes, into one run at `log_dir`:

per batch (step = the optimizer's iteration count after the batch)
  ``batch/<name>`` for the loss and every metric, ``batch/learning_rate``.
per epoch (step = the epoch index, as Keras's own callback)
  ``epoch/<name>`` for the epoch logs (``val_*`` included), ``epoch/learning_rate``;
  ``<layer>/<weight>/summaries/{mean,stddev,max,min,histogram}`` for every float weight
  (the layout of `summaries.variable_summaries`), ``<layer>/<weight>/gradients`` (histogram)
  and ``<layer>/gradient_norm``; ``<layer>/update_ratio``; ``<layer>/optimizer/<slot>_norm``
  and ``optimizer/<slot>_norm``; ``input/images``; ``confusion`` with ``confusion/examples``
  (plugin ``position_confusion``; ``confusion/<K>_classes`` when heads differ in their
  class counts) and, for several positions, ``confusion/sequence_accuracy`` (named in the
  matrix metadata); and the traced op graph.

Cost is kept off the training loop. Per-batch hooks only append numbers to a buffer (they
are marked `async_safe`, so Keras may run them on a worker thread). At an epoch's end the
training thread only captures what must be read at that moment (weights, optimizer slots,
the sample batch's gradients, validation predictions, as host copies or immutable
tensors); everything else (statistics, histograms, confusion counts, PNGs, protos, file
writes, and the buffered batch scalars in bulk) runs on the callback's one writer thread,
in order, while the next epoch trains. `on_train_end` waits for it, so the run is complete
when `fit` returns; an error on the writer thread is raised on the training thread at the
next hook. The thread is the one a background `summaries.pb.LogWriter` runs
(`LogWriter.submit`): a failed write (full disk, lost permission, a remote store that
went away) warns once and pauses logging, which resumes when writes succeed again; training
goes on. `log_dir` may be a URI (``gs://bucket/runs/x``), written through tf.io.gfile.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.histogram import summary_v2 as histogram_v2
from tensorboard.util import tensor_util

from summaries import checks, histogram_buckets, protos
from summaries.protos import ScalarRows
from summaries.protos import histogram_value as _histogram
from summaries.protos import scalar_value as _scalar
from summaries.writer import LogWriter

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")
# Above this size a histogram is computed on the device (summaries' one-hot-free op);
# below it on the host, where TensorBoard's numpy `histogram_pb` is ~10x cheaper per call.
_DEVICE_HISTOGRAM_SIZE = 1 << 16
# Jobs queued for the writer thread before the training thread waits for the oldest one
# (a slow disk must not let captured epochs pile up in memory).
_MAX_PENDING = 4
# The scalar under a confusion tag holding its whole-sequence accuracy (all positions right)
SEQUENCE_ACCURACY = "sequence_accuracy"
# A buffered batch: (step, {log name: value}, learning rate or None, wall time)
_BatchRecord = tuple[int, dict[str, float], float | None, float]

# (argument, default): every part's frequency; 0 switches the part off
_FREQS = {
    "batch_freq": 1,
    "epoch_freq": 1,
    "histogram_freq": 1,
    "gradient_freq": 1,
    "ratio_freq": 1,
    "optimizer_freq": 1,
    "confusion_freq": 1,
}


def _clean(name: str) -> str:
    return _UNSAFE.sub("_", str(name).split(":")[0]).strip("/") or "unnamed"


def _names_arg(name: str, value: Any) -> list[str] | None:
    return None if value is None else checks.check_names(name, value)


def _data_arg(name: str, value: Any) -> tuple[Any, Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        raise ValueError(f"{name} must be a tuple (x, y) or (x, y, sample_weight)")
    x, y, sw = (*value, None) if len(value) == 2 else value
    lengths = {len(t) for t in keras.tree.flatten((x, y, sw)) if hasattr(t, "__len__")}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{name} arrays must be non-empty with the same first dimension")
    return x, y, sw


def _tensor_or_none(value: Any) -> Any:
    return None if value is None else tf.convert_to_tensor(value)


def _take(structure: Any, count: int) -> Any:
    return keras.tree.map_structure(lambda t: None if t is None else t[:count], structure)


def _concat(parts: list[Any]) -> Any:
    return keras.tree.map_structure(lambda *ts: np.concatenate(ts, axis=0), *parts)


def _as_unit_images(array: np.ndarray) -> np.ndarray:
    """Images as floats in [0, 1] (uint8 kept): inputs are often standardised."""
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if low >= 0.0 and high <= 1.0:
        return array
    if high <= 255.0 and low >= 0.0 and high > 1.0:
        return array / 255.0
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def _image_like(x: Any) -> bool:
    return (
        isinstance(x, np.ndarray)
        and x.dtype.kind in "uif"
        and x.ndim == 4
        and x.shape[-1] in (1, 3, 4)
        and min(x.shape[1:3]) >= 2
    )


class SummaryCallback(keras.callbacks.Callback):
    """Log scalars, weight and gradient histograms, optimizer state, images, confusion
    matrices and the op graph of any Keras model to TensorBoard.

    Args:
        log_dir: the run directory (created if needed; must be writable): a local path or
            a URI of a filesystem TensorFlow has registered (``gs://bucket/runs/x``).
        batch_freq: log loss, metrics and learning rate every N batches (default 1; 0 = off).
        epoch_freq: log the epoch logs (``val_*`` too) every N epochs (default 1; 0 = off).
        histogram_freq: weight histograms and `variable_summaries` every N epochs.
        gradient_freq: gradient histograms and norms every N epochs, computed on a fixed
            sample batch (`data`, else the first training batch, else validation data)
            in inference mode: Keras's `fit` does not expose its gradients.
        ratio_freq: per-layer update/weight ratio ``||w_after - w_before|| / ||w_before||``
            over the last batch of the epoch, every N epochs.
        optimizer_freq: norms of the optimizer's slot variables (Adam's momentum and
            velocity, SGD's momentum, ...) every N epochs.
        image_freq: input images (image models only): None (default) logs `max_images`
            of the fixed sample batch once, after the first epoch (later epochs would
            repeat them); N logs them every N epochs; 0 turns them off.
        confusion_freq: confusion matrices on validation data every N epochs, for every
            classification head (heads with the same classes share one P x K x K summary).
        write_graph: write the op graph of the model's call (with its name scopes) once.
        data: optional (x, y[, sample_weight]) batch for gradients and images.
        validation_data: optional (x, y) for confusion, else `fit`'s validation data.
        sample_size: examples in the fixed gradient/image batch (default 32).
        confusion_samples: validation examples used for confusion (default 1000).
        max_images: input images per summary (default 3).
        class_names / position_names: names for the confusion summary (default "0".."K-1"
            and the heads' output names).
        cap_per_cell: misclassified example images kept per confusion cell (default 4).
        sequence_accuracy_tag: the whole-sequence accuracy shown beside a confusion matrix
            with several positions (heads). None (default): the callback logs
            ``<matrix tag>/sequence_accuracy``, the fraction of the confusion examples with
            every position right, and names it; a tag: a scalar you log in the same run at
            the epoch steps (e.g. ``"epoch/val_whole_accuracy"`` from a Keras metric);
            False: none.
        flush_batches: write buffered batch scalars every N logged batches (default 100)
            and at every epoch end.
        buckets: histogram buckets (default 30).
    """

    # The per-batch hook only appends to a buffer under a lock; Keras may run it on a
    # worker thread, which keeps it (and its device-to-host reads) off the training loop.
    async_safe = True

    def __init__(
        self,
        log_dir: Any,
        *,
        batch_freq: int = 1,
        epoch_freq: int = 1,
        histogram_freq: int = 1,
        gradient_freq: int = 1,
        ratio_freq: int = 1,
        optimizer_freq: int = 1,
        image_freq: int | None = None,
        confusion_freq: int = 1,
        write_graph: bool = True,
        data: Any = None,
        validation_data: Any = None,
        sample_size: int = 32,
        confusion_samples: int = 1000,
        max_images: int = 3,
        class_names: Sequence[str] | None = None,
        position_names: Sequence[str] | None = None,
        cap_per_cell: int = 4,
        sequence_accuracy_tag: str | bool | None = None,
        flush_batches: int = 100,
        buckets: int = 30,
    ):
        super().__init__()
        given = locals()
        self.freqs = {name: checks.check_count(name, given[name], 0) for name in _FREQS}
        self.image_freq = (
            None if image_freq is None else checks.check_count("image_freq", image_freq, 0)
        )
        self.write_graph = checks.check_flag("write_graph", write_graph)
        self.sample_size = checks.check_count("sample_size", sample_size, 1)
        self.confusion_samples = checks.check_count("confusion_samples", confusion_samples, 1)
        self.max_images = checks.check_count("max_images", max_images, 1)
        self.cap_per_cell = checks.check_count("cap_per_cell", cap_per_cell, 1)
        if sequence_accuracy_tag is not None and sequence_accuracy_tag is not False:
            checks.check_tag(sequence_accuracy_tag, "sequence_accuracy_tag")
        self.sequence_accuracy_tag = sequence_accuracy_tag
        self.flush_batches = checks.check_count("flush_batches", flush_batches, 1)
        self.buckets = checks.check_count("buckets", buckets, 1)
        self.class_names = _names_arg("class_names", class_names)
        self.position_names = _names_arg("position_names", position_names)
        self._data = _data_arg("data", data)
        self._validation = _data_arg("validation_data", validation_data)
        self.log_dir = str(checks.check_logdir(log_dir, "log_dir"))

        self._writer: LogWriter | None = None  # with the one writer thread
        self._probe = None  # compiled loss-and-gradients on the sample batch
        # set once the writer thread's tracing job (see _prepare) has finished, or failed
        self._probe_ready: threading.Event | None = None
        self._probe_error: Exception | None = None
        self._predictor = None  # the model's forward pass, traced on the writer thread
        self._images_written = False
        self._probe_failed = False
        self._sample: tuple[Any, Any, Any] | None = None
        self._sample_args: tuple[Any, Any, Any] | None = None  # the sample as tensors
        self._val_cache: tuple[Any, Any] | None = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._buffer: list[_BatchRecord] = []
        self._begun = self._ended = 0
        self._step0 = 0
        self._lr_kind = "none"
        self._epoch = 0
        self._steps_per_epoch: int | None = None
        self._weights_cache: dict[bool, list[tuple[str, str, Any]]] = {}
        self._lr_value: float | None = None
        self._scalar_rows: dict[tuple[str, ...], ScalarRows] = {}
        self._snapshot: dict[int, np.ndarray] | None = None
        self._ratio_after: dict[int, np.ndarray] | None = None
        self._snapshot_batch = -1
        self._per_call = 1

    # -- lifecycle -------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self._writer is None:
            # Our own TFRecord writer and its one thread: no TensorFlow op per write;
            # flushed (not synced) after each batch hand-over and epoch (TensorFlow's writer
            # flushes and syncs every 10 events by default).
            self._writer = LogWriter(self.log_dir, background=True, max_pending=_MAX_PENDING)
        self._lr_kind = self._learning_rate_kind()
        self._steps_per_epoch = (self.params or {}).get("steps")
        self._weights_cache = {}  # layers may have changed between fits
        if self._sample is None:
            self._sample = self._find_sample()
        # The probe is traced (and the graph written) on the writer thread once the first
        # train call has run (see on_train_batch_begin): tracing here would add its whole
        # cost to the training thread, and beside Keras's own first trace both would only
        # take turns holding the GIL.

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._flush_batches(force=True)
        self._epoch = epoch
        self._begun = self._ended = 0
        iterations = self.model.optimizer.iterations if self._has_optimizer() else 0
        self._step0 = int(keras.ops.convert_to_numpy(iterations))
        steps = (self.params or {}).get("steps")
        # batches per train call (Keras runs batch hooks once per call)
        self._per_call = per_call = max(1, int(getattr(self.model, "steps_per_execution", 1) or 1))
        # snapshot before the epoch's last train call (first, when the length is unknown)
        self._snapshot_batch = ((steps - 1) // per_call) * per_call if steps else 0
        self._snapshot = self._ratio_after = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if batch > 0 and self._probe_ready is None and self._sample is not None:
            self._prepare()  # Keras's train function is traced and has run once by now
        if self._wants("ratio_freq", self._epoch) and batch == self._snapshot_batch:
            self._snapshot = self._read_weights(trainable_only=True)
        elif self._snapshot_batch == 0 and batch > 0 and self._ratio_after is None:
            if self._snapshot is not None:  # the first call's update, seen from the second
                self._ratio_after = self._read_weights(trainable_only=True)
        if batch == 0 or len(self._buffer) >= self.flush_batches:
            if self._flush_batches() or batch == 0:
                # A learning-rate variable is read here, not per batch (a read costs about
                # as much as the rest of the hook): after on_epoch_begin, where Keras's
                # schedulers set it, and at every flush.
                self._lr_value = self._current_lr() if self._lr_kind == "variable" else None
        self._begun += 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        freq = self.freqs["batch_freq"]
        steps = self._steps_per_epoch
        # Keras reports a short last call (steps_per_execution > 1) at its nominal end
        step = self._step0 + (min(batch, steps - 1) if steps else batch) + 1
        record = None
        if freq and logs:
            # log when the call's steps [first, step] hold a multiple of batch_freq
            if (step // freq) != ((self._step0 + batch + 1 - self._per_call) // freq):
                values = {}
                for key, value in logs.items():
                    try:
                        values[key] = float(value)
                    except (TypeError, ValueError):
                        continue
                record = (step, values, self._lr_value, time.time())
        with self._lock:
            if record is not None:
                self._buffer.append(record)
            self._ended += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._flush_batches(force=True)  # Keras has waited for every batch hook by now
        if self._sample is None and (validation := self._validation_data()) is not None:
            self._sample = _take((*validation, None), self.sample_size)
        if self._probe_ready is None:
            self._prepare()  # an epoch of one train call: nothing was queued yet
        # Capture here what the next batch would change; summarise on the writer thread.
        self._layer_weights(trainable_only=True)  # cached here, read there
        scalars = self._epoch_scalars(logs or {}) if self._wants("epoch_freq", epoch) else []
        parts: list[tuple[str, Callable[[Any], list], Any]] = []
        weights = None
        if self._wants("histogram_freq", epoch) or self._wants("ratio_freq", epoch):
            weights = self._read_weights(trainable_only=False)
        if self._wants("histogram_freq", epoch):
            parts.append(("histograms", self._weight_summaries, weights))
        if self._wants("gradient_freq", epoch):
            if (grads := self._guard("gradients", self._gradients)) is not None:
                parts.append(("gradients", self._gradient_summaries, grads))
        if self._wants("ratio_freq", epoch) and self._snapshot is not None:
            after = self._ratio_after if self._snapshot_batch == 0 else None
            pair = (self._snapshot, weights if after is None else after)
            parts.append(("update ratios", self._update_ratios, pair))
        if self._wants("optimizer_freq", epoch):
            if (slots := self._guard("optimizer slots", self._read_slots)) is not None:
                parts.append(("optimizer slots", self._slot_summaries, slots))
        if self._wants("confusion_freq", epoch):
            if (outputs := self._guard("confusion", self._validation_outputs)) is not None:
                parts.append(("confusion", self._confusion_values, outputs))
        sample = self._sample
        if self._wants_images(epoch) and sample is not None and _image_like(sample[0]):
            parts.append(("images", self._image_values, sample[0]))
            self._images_written = True
        self._submit(self._write_epoch, epoch, scalars, parts)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._flush_batches(force=True)
        if self._writer is not None:
            # kept open for a further fit(); close() ends the event file
            self._writer.flush(retry=True)  # after a storage fault: one more try now
            self._writer.drain()  # the run is complete when fit() returns

    def close(self) -> None:
        """Flush and close the event file (a later fit() opens a new one)."""
        if self._writer is not None:
            self._flush_batches(force=True)
            self._writer.close()  # queued jobs still write through self._writer
            self._writer = None

    # -- the writer thread -------------------------------------------------------------

    def _submit(self, job: Callable[..., None], *args: Any) -> None:
        """Queue `job(*args)` for the writer thread, which runs jobs one at a time, in
        order; a failed earlier job raises here, on the training thread. A storage fault
        only pauses the writer (it keeps what is computed and retries), so work goes on."""
        self._writer.submit(job, *args)

    def _write_epoch(self, epoch: int, values: list, parts: list) -> None:
        """Writer thread: one epoch's summaries from what on_epoch_end captured."""
        for part, function, captured in parts:
            values += self._guard(part, function, captured) or []
        blobs = [summary_pb2.Summary(value=[v]).SerializeToString() for v in values]
        self._writer.add_serialized(blobs, [epoch] * len(blobs))
        self._writer.flush()

    # -- helpers: scheduling -----------------------------------------------------------

    def _wants(self, part: str, epoch: int) -> bool:
        freq = self.freqs[part]
        return bool(freq) and epoch % freq == 0

    def _wants_images(self, epoch: int) -> bool:
        if self.image_freq is None:
            return not self._images_written
        return bool(self.image_freq) and epoch % self.image_freq == 0

    def _guard(self, part: str, function: Any, *args: Any) -> Any:
        """Run one optional part; a failure warns (once) and gives None instead of
        stopping training."""
        try:
            return function(*args)
        except Exception as exc:
            self._warn_once(f"failed-{part}", f"{part} skipped: {type(exc).__name__}: {exc}")
            return None

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"SummaryCallback: {message}", stacklevel=3)

    def _has_optimizer(self) -> bool:
        return getattr(self.model, "optimizer", None) is not None

    # -- per-batch scalars -------------------------------------------------------------

    def _learning_rate_kind(self) -> str:
        if not self._has_optimizer():
            return "none"
        raw = getattr(self.model.optimizer, "_learning_rate", None)
        if isinstance(raw, keras.optimizers.schedules.LearningRateSchedule):
            return "schedule"
        try:
            float(np.asarray(self.model.optimizer.learning_rate))
        except (TypeError, ValueError, AttributeError):
            return "none"
        return "variable"

    def _current_lr(self) -> float | None:
        try:
            return float(np.asarray(self.model.optimizer.learning_rate))
        except (TypeError, ValueError, AttributeError):
            return None

    def _schedule_lrs(self, steps: np.ndarray) -> np.ndarray:
        """The learning rate each batch used: schedule(iterations before the update)."""
        schedule = self.model.optimizer._learning_rate
        before = steps - 1
        try:
            lrs = np.asarray(schedule(tf.constant(before, tf.int64)), np.float64).reshape(-1)
            if lrs.shape == before.shape:
                return lrs
        except Exception:  # a schedule that is not elementwise: one call per step
            pass
        return np.array([float(np.asarray(schedule(int(s)))) for s in before], np.float64)

    def _flush_batches(self, force: bool = False) -> bool:
        """Queue buffered batch scalars for writing, once every batch hook has returned."""
        with self._lock:
            if not self._buffer or self._writer is None:
                return False
            if self._ended != self._begun and not force:
                return False
            records, self._buffer = self._buffer, []
        self._submit(self._write_batches, records)
        return True

    def _write_batches(self, records: list[_BatchRecord]) -> None:
        """Writer thread: buffered batch scalars, one event per step, in step order."""
        records.sort(key=lambda r: r[0])
        steps = np.array([r[0] for r in records], np.int64)
        lrs: Sequence[float | None] = [r[2] for r in records]
        if self._lr_kind == "schedule":
            lrs = self._schedule_lrs(steps).tolist()
        rows = []
        for (_, values, _, _), lr in zip(records, lrs, strict=True):
            if lr is None:
                rows.append((tuple(values), list(values.values())))
            else:
                rows.append(((*values, "learning_rate"), [*values.values(), lr]))
        blobs: list[bytes] = []
        for names, run in itertools.groupby(rows, key=lambda row: row[0]):
            if names not in self._scalar_rows:
                self._scalar_rows[names] = ScalarRows([f"batch/{_clean(n)}" for n in names])
            blobs += self._scalar_rows[names].blobs(np.array([v for _, v in run], np.float32))
        self._writer.add_serialized(blobs, steps.tolist(), [r[3] for r in records])
        self._writer.flush()  # visible to TensorBoard within `flush_batches` batches

    # -- per-epoch summaries -----------------------------------------------------------

    def _epoch_scalars(self, logs: dict) -> list:
        values = []
        for key, value in logs.items():
            try:
                values.append(_scalar(f"epoch/{_clean(key)}", float(value)))
            except (TypeError, ValueError):
                continue
        if self._lr_kind != "none" and "learning_rate" not in logs:
            lr = self._current_lr()
            if lr is not None:
                values.append(_scalar("epoch/learning_rate", lr))
        return values

    def _layer_weights(self, trainable_only: bool) -> list[tuple[str, str, Any]]:
        """(layer scope, weight name, variable) for every float weight, by top-level layer;
        weights the model holds itself go under the model's name."""
        if trainable_only in self._weights_cache:
            return self._weights_cache[trainable_only]
        out, seen = [], set()
        owners = [(layer.name, layer) for layer in self.model.layers]
        owners.append((self.model.name, self.model))
        for owner, layer in owners:
            weights = layer.trainable_weights if trainable_only else layer.weights
            for var in weights:
                if id(var) in seen or not keras.backend.is_float_dtype(var.dtype):
                    continue
                seen.add(id(var))
                path = str(getattr(var, "path", var.name))
                marker = f"{owner}/"
                index = path.find("/" + marker)
                if path.startswith(marker):
                    rel = path[len(marker) :]
                elif index >= 0:
                    rel = path[index + len(marker) + 1 :]
                else:
                    rel = var.name
                out.append((_clean(owner), _clean(rel), var))
        self._weights_cache[trainable_only] = out
        return out

    def _read_weights(self, trainable_only: bool) -> dict[int, np.ndarray]:
        return {
            id(v): np.asarray(keras.ops.convert_to_numpy(v))
            for _, _, v in self._layer_weights(trainable_only)
        }

    def _stats(
        self, array: np.ndarray, tensor: Any = None
    ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """(histogram buckets [k, 3], (mean, stddev, max, min)) of a host array.

        Non-finite values are left out of the histogram (as `summaries.histogram_buckets`)
        and show in the moments. A large array's histogram runs in TensorFlow, on `tensor`
        (the same values, already on the device) when given.
        """
        flat = np.asarray(array, np.float64).reshape(-1)
        mean = float(flat.mean())
        moments = (mean, float(np.sqrt(np.mean((flat - mean) ** 2))), flat.max(), flat.min())
        if flat.size > _DEVICE_HISTOGRAM_SIZE:
            source = array if tensor is None else tensor
            buckets = np.asarray(histogram_buckets(source, self.buckets))
        else:
            finite = flat if np.isfinite(mean) else flat[np.isfinite(flat)]
            proto = histogram_v2.histogram_pb("h", finite, buckets=self.buckets)
            buckets = tensor_util.make_ndarray(proto.value[0].tensor)
        return buckets, tuple(float(m) for m in moments)

    def _weight_summaries(self, weights: dict[int, np.ndarray]) -> list:
        values = []
        for scope, name, var in self._layer_weights(trainable_only=False):
            array = weights[id(var)]
            if array.size == 0:
                continue
            hist, (mean, std, high, low) = self._stats(array)
            prefix = f"{scope}/{name}/summaries"
            values += [
                _scalar(f"{prefix}/mean", mean),
                _scalar(f"{prefix}/stddev", std),
                _scalar(f"{prefix}/max", high),
                _scalar(f"{prefix}/min", low),
                _histogram(f"{prefix}/histogram", hist),
            ]
        return values

    def _loss_and_gradients(self, x: Any, y: Any, sw: Any) -> tuple[Any, list]:
        model = self.model
        with tf.GradientTape() as tape:
            y_pred = model(x, training=False)
            try:
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=False)
            except TypeError:  # an override without the `training` argument
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
        if loss is None:
            return tf.constant(float("nan")), [None] * len(model.trainable_variables)
        return loss, tape.gradient(loss, model.trainable_variables)

    def _probe_fn(self) -> Any:
        """The sample batch's loss and gradients, traced once (its graph is the one logged);
        waits for the writer thread's tracing job if one is queued."""
        if self._probe_ready is not None:
            self._probe_ready.wait()
            if self._probe_error is not None:  # warned here, on the training thread
                error, self._probe_error = self._probe_error, None
                self._warn_once("trace", f"could not trace the model, so no graph: {error}")
        return self._trace_probe()

    def _trace_probe(self, on_writer: bool = False) -> Any:
        """Trace the probe if that has not been tried yet; None if it cannot be."""
        if self._probe is None and self._sample is not None and not self._probe_failed:
            x, y, sw = self._sample

            def spec(t: Any) -> Any:
                if t is None:
                    return None
                return tf.TensorSpec([None, *np.shape(t)[1:]], tf.as_dtype(np.asarray(t).dtype))

            specs = keras.tree.map_structure(spec, (x, y, sw))
            try:
                function = tf.function(self._loss_and_gradients, autograph=False)
                self._probe = function.get_concrete_function(*specs)
            except Exception as exc:  # eager gradients still work without it
                self._probe_failed = True
                if on_writer:
                    self._probe_error = exc  # warned by _probe_fn on the training thread
                else:
                    self._warn_once("trace", f"could not trace the model, so no graph: {exc}")
        return self._probe

    def _gradients(self) -> dict[int, Any] | None:
        """The sample batch's gradients by variable id (immutable tensors), or None."""
        if self._sample is None:
            self._warn_once("sample", "no sample batch (pass data=(x, y)): gradients skipped")
            return None
        probe = self._probe_fn()
        if probe is not None:
            loss, grads = probe(*self._sample_tensors())
        else:
            loss, grads = self._loss_and_gradients(*self._sample)
        variables = self.model.trainable_variables
        return {id(v): g for v, g in zip(variables, grads, strict=True) if g is not None}

    def _sample_tensors(self) -> tuple[Any, Any, Any]:
        if self._sample_args is None:
            self._sample_args = keras.tree.map_structure(_tensor_or_none, self._sample)
        return self._sample_args

    def _warm_up(self, probe: Any, args: tuple[Any, Any, Any]) -> None:
        """Writer thread: the probe's first call, whose one-off preparation (graph
        optimisation, ~20-30 ms) would otherwise fall on the training thread at the first
        epoch's end. The result is dropped: training moves the weights meanwhile."""
        try:
            probe(*args)
        except Exception:  # noqa: S110 (the real call, on the training thread, reports it)
            pass

    def _gradient_summaries(self, grads: dict[int, Any]) -> list:
        values, norms = [], {}
        for scope, name, var in self._layer_weights(trainable_only=True):
            grad = grads.get(id(var))
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            hist, moments = self._stats(grad.numpy(), grad)
            values.append(_histogram(f"{scope}/{name}/gradients", hist))
            count = int(np.prod(grad.shape))
            # sum of squares = n * (stddev^2 + mean^2), from the moments already computed
            norms[scope] = norms.get(scope, 0.0) + count * (moments[1] ** 2 + moments[0] ** 2)
        values += [_scalar(f"{s}/gradient_norm", math.sqrt(n)) for s, n in norms.items()]
        return values

    def _update_ratios(self, weights: tuple[dict, dict]) -> list:
        """||w_after - w_before|| / ||w_before|| per layer, from two host snapshots."""
        before, after = weights
        delta, size = {}, {}
        for scope, _, var in self._layer_weights(trainable_only=True):
            key = id(var)
            if key not in before or key not in after:
                continue
            w0 = before[key].astype(np.float64)
            delta[scope] = delta.get(scope, 0.0) + float(np.sum((after[key] - w0) ** 2))
            size[scope] = size.get(scope, 0.0) + float(np.sum(w0**2))
        return [
            _scalar(f"{scope}/update_ratio", math.sqrt(delta[scope] / size[scope]))
            for scope in delta
            if size[scope] > 0
        ]

    def _read_slots(self) -> list[tuple[str, str, np.ndarray]]:
        """(layer scope, slot kind, host copy) for every float optimizer slot of a layer."""
        if not self._has_optimizer():
            return []
        owners = {}
        for scope, _, var in self._layer_weights(trainable_only=True):
            path = str(getattr(var, "path", var.name)).replace("/", "_") + "_"
            owners[path] = scope
        keys = sorted(owners, key=len, reverse=True)
        slots = []
        for slot in self.model.optimizer.variables:
            name = str(slot.name)
            owner = next((k for k in keys if name.startswith(k)), None)
            if owner is None or not keras.backend.is_float_dtype(slot.dtype):
                continue
            copy = np.asarray(keras.ops.convert_to_numpy(slot))  # a snapshot
            slots.append((owners[owner], _clean(name[len(owner) :]), copy))
        return slots

    def _slot_summaries(self, slots: list[tuple[str, str, np.ndarray]]) -> list:
        per_layer: dict[tuple[str, str], float] = {}
        for scope, kind, array in slots:
            sq = float(np.sum(np.square(array, dtype=np.float64)))
            per_layer[(scope, kind)] = per_layer.get((scope, kind), 0.0) + sq
        totals: dict[str, float] = {}
        values = []
        for (scope, kind), sq in sorted(per_layer.items()):
            values.append(_scalar(f"{scope}/optimizer/{kind}_norm", math.sqrt(sq)))
            totals[kind] = totals.get(kind, 0.0) + sq
        values += [_scalar(f"optimizer/{k}_norm", math.sqrt(v)) for k, v in totals.items()]
        return values

    def _image_values(self, x: np.ndarray) -> list:
        """Writer thread: the first `max_images` inputs as ``input/images``."""
        return list(protos.image_pb("input/images", _as_unit_images(x[: self.max_images])).value)

    # -- data ------------------------------------------------------------------------

    def _fit_adapter(self, name: str) -> Any:
        """The data adapter of the running `fit` (training) or its cached validation."""
        if name == "validation":
            iterator = getattr(self.model, "_eval_epoch_iterator", None)
        else:
            iterator, frame = None, sys._getframe(1)
            for _ in range(12):  # fit() -> CallbackList.on_train_begin -> here
                if frame is None:
                    break
                candidate = frame.f_locals.get("epoch_iterator")
                if candidate is not None and hasattr(candidate, "data_adapter"):
                    iterator = candidate
                    break
                frame = frame.f_back
        adapter = getattr(iterator, "data_adapter", None)
        # only adapters that can be read again without consuming the user's data
        if type(adapter).__name__ in ("ArrayDataAdapter", "TFDatasetAdapter"):
            return adapter
        return None

    @staticmethod
    def _read_adapter(adapter: Any, count: int) -> tuple[Any, Any, Any] | None:
        parts, total = [], 0
        for batch in adapter.get_numpy_iterator():
            x, y, sw = keras.utils.unpack_x_y_sample_weight(batch)
            parts.append((x, y, sw))
            total += len(keras.tree.flatten(x)[0])
            if total >= count:
                break
        if not parts:
            return None
        if len(parts) == 1:
            return _take(parts[0], count)
        xs = _concat([p[0] for p in parts])
        ys = None if parts[0][1] is None else _concat([p[1] for p in parts])
        sws = None if parts[0][2] is None else _concat([p[2] for p in parts])
        return _take((xs, ys, sws), count)

    def _find_sample(self) -> tuple[Any, Any, Any] | None:
        if self._data is not None:
            return _take(self._data, self.sample_size)
        try:
            adapter = self._fit_adapter("train")
            if adapter is not None:
                return self._read_adapter(adapter, self.sample_size)
        except Exception as exc:  # never break training over a diagnostic
            self._warn_once("sample-error", f"could not read a sample batch: {exc}")
        return None

    def _validation_data(self) -> tuple[Any, Any] | None:
        if self._val_cache is not None:
            return self._val_cache
        data = self._validation
        if data is not None:
            data = _take(data, self.confusion_samples)
        else:
            try:
                adapter = self._fit_adapter("validation")
                if adapter is not None:
                    data = self._read_adapter(adapter, self.confusion_samples)
            except Exception as exc:
                self._warn_once("val-error", f"could not read validation data: {exc}")
                data = None
        if data is None or data[1] is None:
            return None
        self._val_cache = (data[0], data[1])
        return self._val_cache

    # -- graph and predictions ----------------------------------------------------------

    def _prepare(self) -> None:
        """Queue on the writer thread what a fit's summaries need traced: the probe (for the
        graph and the gradients) and the forward pass (for the confusion matrices); once
        per callback, as later fits reuse them."""
        if self._sample is None:
            if self.write_graph:
                self._warn_once("graph", "no sample input to trace (pass data=(x, y)): no graph")
            return
        # runs once (it sets _probe_ready): nothing is traced or written before it
        self._probe_ready = ready = threading.Event()
        graph = self.write_graph
        probe = graph or self.freqs["gradient_freq"] > 0
        predictor = self.freqs["confusion_freq"] > 0
        if probe or predictor:
            # traced under fit's distribution strategy, as on the training thread
            strategy = tf.distribute.get_strategy()
            self._submit(self._prepare_job, probe, graph, predictor, ready, strategy)
        else:
            ready.set()

    def _prepare_job(
        self, probe: bool, graph: bool, predictor: bool, ready: threading.Event, strategy: Any
    ) -> None:
        """Writer thread: trace the probe, write its graph (as `tf.summary.graph` does, with
        shapes) and make its first call, whose one-off preparation (graph optimisation)
        would otherwise fall on the training thread at the first epoch's end; then the
        forward pass."""
        try:
            with strategy.scope():
                traced = self._trace_probe(on_writer=True) if probe else None
        finally:
            ready.set()  # the training thread may use the probe from here on
        if traced is not None:
            if graph:
                graph_def = traced.graph.as_graph_def(add_shapes=True)
                self._writer.add_graph(graph_def.SerializeToString())
            self._warm_up(traced, self._sample_tensors())
        if predictor:
            # the validation predictions in one graph call per chunk instead of an eager
            # op-by-op pass on the training thread (which costs several times more, most of
            # all under load); the model's graph, as model.predict runs it
            try:
                with strategy.scope():
                    self._predictor = self._trace_predictor()
            except Exception:  # noqa: S110 (the eager pass still works)
                pass

    def _trace_predictor(self) -> Any:
        """Writer thread: the forward pass (inference mode), traced for the sample's input
        structure with any batch size, and called once."""
        x = self._sample_tensors()[0]
        specs = keras.tree.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), x)
        forward = tf.function(lambda inputs: self.model(inputs, training=False), autograph=False)
        predictor = forward.get_concrete_function(specs)
        predictor(x)
        return predictor

    def _predict(self, x: Any) -> list[np.ndarray]:
        count = len(keras.tree.flatten(x)[0])
        outputs = []
        for start in range(0, count, 1024):
            chunk = keras.tree.map_structure(lambda t, s=start: t[s : s + 1024], x)
            out = None
            if self._predictor is not None:
                try:
                    out = self._predictor(keras.tree.map_structure(tf.convert_to_tensor, chunk))
                except (TypeError, ValueError, tf.errors.InvalidArgumentError):
                    self._predictor = None  # inputs unlike the sample's: the eager pass
            if out is None:
                out = self.model(chunk, training=False)
            outputs.append(keras.tree.map_structure(keras.ops.convert_to_numpy, out))
        return self._flat_outputs(_concat(outputs))

    def _flat_outputs(self, structure: Any) -> list[Any]:
        names = list(getattr(self.model, "output_names", None) or [])
        if isinstance(structure, dict) and names and set(names) <= set(structure):
            return [structure[n] for n in names]
        return keras.tree.flatten(structure)

    # -- confusion -------------------------------------------------------------------

    def _head_names(self, count: int) -> list[str]:
        """The outputs' names (their layers' names for a Sequential model)."""
        names = list(getattr(self.model, "output_names", None) or [])
        if len(names) != count:
            try:  # symbolic outputs know the layer that made them
                names = [t._keras_history.operation.name for t in self.model.outputs]
            except (AttributeError, TypeError, ValueError):
                names = []
        return names if len(names) == count else [f"output_{i}" for i in range(count)]

    @staticmethod
    def _class_ids(label: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Labels and predicted ids [N, P] for a classification head, else None."""
        label = np.asarray(label)
        pred = np.asarray(pred)
        if pred.ndim < 2 or label.dtype.kind not in "iufb" or pred.dtype.kind != "f":
            return None
        k = pred.shape[-1]
        if k >= 2:
            if label.shape == pred.shape[:-1] or label.shape == (*pred.shape[:-1], 1):
                ids = label.reshape(pred.shape[:-1])
                if not (np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() < k):
                    return None
                ids = ids.astype(np.int64)
            elif label.shape == pred.shape:
                if not (np.isin(label, (0, 1)).all() and np.all(label.sum(-1) == 1)):
                    return None
                ids = label.argmax(-1)
            else:
                return None
            predicted = pred.argmax(-1)
        else:  # one sigmoid unit: a binary head
            if label.size != pred.size or not np.isin(label, (0, 1)).all():
                return None
            if pred.min() < 0 or pred.max() > 1:
                return None
            ids = label.reshape(pred.shape[:-1]).astype(np.int64)
            predicted = (pred[..., 0] >= 0.5).astype(np.int64)
        ids = ids.reshape(len(ids), -1)
        predicted = predicted.reshape(len(predicted), -1)
        return ids, predicted

    def _validation_outputs(self) -> tuple[Any, Any, list[np.ndarray], list[str]] | None:
        """(x, y, the model's outputs on x, head names) for the confusion matrices."""
        data = self._validation_data()
        if data is None:
            self._warn_once("validation", "no validation data: confusion matrices skipped")
            return None
        preds = self._predict(data[0])
        return (*data, preds, self._head_names(len(preds)))

    def _confusion_values(self, outputs: tuple[Any, Any, list[np.ndarray], list[str]]) -> list:
        """Writer thread: one P x K x K summary (and its examples) per class count K."""
        x, y, preds, names = outputs
        labels = self._flat_outputs(y) if len(preds) > 1 else keras.tree.flatten(y)
        if len(labels) != len(preds):
            return []
        groups: dict[int, dict[str, list]] = {}
        for name, label, pred in zip(names, labels, preds, strict=True):
            ids = self._class_ids(label, pred)
            if ids is None:
                continue
            k = max(2, pred.shape[-1])
            group = groups.setdefault(k, {"labels": [], "preds": [], "positions": []})
            group["labels"].append(ids[0])
            group["preds"].append(ids[1])
            p = ids[0].shape[1]
            group["positions"] += [name] if p == 1 else [f"{name}[{j}]" for j in range(p)]
        images = None
        if groups and (_image_like(x) or (isinstance(x, np.ndarray) and x.ndim == 3)):
            images = _as_unit_images(x)
        values = []
        for k, group in groups.items():
            tag = "confusion" if len(groups) == 1 else f"confusion/{k}_classes"
            classes = (
                self.class_names
                if self.class_names and len(self.class_names) == k
                else [str(i) for i in range(k)]
            )
            positions = group["positions"]
            if self.position_names and len(self.position_names) == len(positions):
                positions = self.position_names
            lab = np.concatenate(group["labels"], axis=1)
            pred = np.concatenate(group["preds"], axis=1)
            sequence_tag = self._sequence_accuracy_tag(tag, lab.shape[1])
            if sequence_tag == f"{tag}/{SEQUENCE_ACCURACY}":  # the callback's own scalar
                whole = float(np.mean(np.all(lab == pred, axis=1))) if len(lab) else math.nan
                values.append(_scalar(sequence_tag, whole))
            summary = protos.confusion_pb(
                tag,
                classes=classes,
                positions=positions,
                labels=lab,
                predictions=pred,
                images=images,
                cap_per_cell=self.cap_per_cell,
                sequence_accuracy_tag=sequence_tag,
            )
            values += list(summary.value)
        return values

    def _sequence_accuracy_tag(self, tag: str, positions: int) -> str | None:
        """The scalar tag the matrix names as its whole-sequence accuracy, if any."""
        if isinstance(self.sequence_accuracy_tag, str):
            return self.sequence_accuracy_tag
        if self.sequence_accuracy_tag is None and positions > 1:
            return f"{tag}/{SEQUENCE_ACCURACY}"
        return None
