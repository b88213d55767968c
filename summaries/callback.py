"""`SummaryCallback`: one Keras callback that logs what training does, at little cost.

`model.fit(..., callbacks=[SummaryCallback(log_dir)])` writes, into one run at `log_dir`:

per batch (step = the optimizer's iteration count after the batch)
  ``batch/<name>`` for the loss and every metric, ``batch/learning_rate``.
per epoch (step = the optimizer's iteration count at the epoch's end: its last batch's step)
  ``epoch/<name>`` for the epoch logs (``val_*`` included), ``epoch/learning_rate``;
  ``<layer>/<weight>/summaries/{mean,stddev,max,min,histogram}`` for every float weight
  (the layout of `summaries.variable_summaries`), ``<layer>/<weight>/gradients`` (histogram)
  and ``<layer>/gradient_norm``; ``<layer>/update_ratio``; ``<layer>/optimizer/<slot>_norm``
  and ``optimizer/<slot>_norm``; ``input/images``; ``confusion`` with ``confusion/examples``
  (plugin ``position_confusion``; ``confusion/<K>_classes`` when heads differ in their
  class counts) and, for several positions, ``confusion/sequence_accuracy`` (named in the
  matrix metadata); and the traced op graph.

Every kind shares one step axis, the global training step (unlike Keras's own callback,
which writes epoch summaries at the epoch index): an epoch's summaries sit at the step of
its last ``batch/*`` scalars, a later `fit` of the same model goes on from the optimizer's
count, and scalars a training script logs at the global step line up with all of them.

Cost is kept off the training loop. Per-batch hooks only append numbers to a buffer (they
are marked `async_safe`, so Keras may run them on a worker thread). At an epoch's end the
training thread only captures what must be read at that moment (weights, optimizer slots,
the sample batch's gradients, validation predictions, as host copies or immutable
tensors); everything else (statistics, histograms, confusion counts, PNGs, protos, file
writes, and the buffered batch scalars in bulk) runs on the callback's one writer thread,
in order, while the next epoch trains. `on_train_end` waits for it, so the run is complete
when `fit` returns, and then closes the event file and ends the thread: nothing outlives
`fit` (a later `fit` reopens the file and appends). A `fit` ended by an exception never
calls `on_train_end`; the thread then closes the file and ends by itself once it has been
idle for `idle_secs`. An error on the writer thread is raised on the training thread at the
next hook. The thread is the one a background `summaries.pb.LogWriter` runs
(`LogWriter.submit`): a failed write (full disk, lost permission, a remote store that
went away) warns once and pauses logging, which resumes when writes succeed again; training
goes on. `log_dir` may be a URI (``gs://bucket/runs/x``), written through tf.io.gfile.

It runs on every Keras backend. On TensorFlow the gradients and validation predictions are
graph calls on the training thread (traced on the writer thread) and the traced graph is
logged; on JAX they are compiled programs run on the writer thread on host copies of the
model's state taken at an epoch's end (the JAX trainer keeps the live state outside the
variables during an epoch: see `summaries.keras.backend`; the writer thread never reads
`self.model`, whose Keras property syncs that state); on PyTorch they are eager passes
(autograd, no_grad) on the training thread. There is no op graph on JAX or PyTorch (one
warning). TensorFlow is imported only on the TensorFlow backend or where the user's setup
needs it (a URI log_dir).

This module holds the Keras hooks, their order and the state between them (what is read
when, on which thread); what each part computes lives in `summaries.keras`, one module per
part (weights, histograms, gradients, optimizer, scalars, images, confusion, samples,
backend).
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import keras
import numpy as np
from tensorboard.compat.proto import summary_pb2

from summaries import checks
from summaries.hparams import check_hparams, session_end_pb, session_start_pb
from summaries.keras import (
    backend,
    confusion,
    gradients,
    histograms,
    images,
    optimizer,
    samples,
    scalars,
    weights,
)
from summaries.keras.confusion import SEQUENCE_ACCURACY
from summaries.keras.tags import clean
from summaries.protos import scalar_value
from summaries.writer import LogWriter

__all__ = ["SEQUENCE_ACCURACY", "SummaryCallback"]

# Jobs queued for the writer thread before the training thread waits for the oldest one
# (a slow disk must not let captured epochs pile up in memory).
_MAX_PENDING = 4

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


def _names(name: str, value: Any) -> list[str] | None:
    return None if value is None else checks.check_names(name, value)


def _called_from(package: str, depth: int = 12) -> bool:
    """Whether a caller within `depth` frames belongs to `package`."""
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").split(".")[0] == package:
            return True
        frame = frame.f_back
    return False


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
        write_graph: write the op graph of the model's call (with its name scopes) once
            (TensorFlow backend; on JAX and PyTorch one warning says there is none).
        data: optional (x, y[, sample_weight]) batch for gradients and images.
        validation_data: optional (x, y) for confusion, else `fit`'s validation data.
        sample_size: examples in the fixed gradient/image batch (default 32).
        confusion_samples: validation examples used for confusion (default 1000).
        max_images: input images per summary (default 3).
        class_names / position_names: names for the confusion summary (default "0".."K-1"
            and the heads' output names; the one position of a single classifier is named
            after the model if you named it, else "all").
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
        hparams: this run's hyper-parameter values ({name: bool, int, float or str}) for
            TensorBoard's HParams tab: written once, as the run's session, with the epoch
            scalars as its metrics (see `summaries.hparams`).
        idle_secs: after a `fit` that ended by an exception (no `on_train_end`), the
            writer thread flushes and closes the event file and ends once it has been idle
            this long (default 5 s); None keeps them until `close()`. A `fit` that returns
            closes them at once.

    `copy.deepcopy` (as Keras Tuner does for every trial) gives a fresh callback with the
    same arguments (the `data` arrays shared) and nothing of this one's state.
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
        hparams: Mapping[str, Any] | None = None,
        idle_secs: float | None = 5.0,
    ):
        super().__init__()
        given = locals()
        # the arguments, for __deepcopy__ (a fresh callback with the same configuration)
        self._config = {k: v for k, v in given.items() if k not in ("self", "__class__")}
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
        self.class_names = _names("class_names", class_names)
        self.position_names = _names("position_names", position_names)
        self._data = samples.check_data("data", data)
        self._validation = samples.check_data("validation_data", validation_data)
        self.hparams = None if hparams is None else check_hparams(hparams)
        self.idle_secs = None if idle_secs is None else checks.check_secs("idle_secs", idle_secs)
        self.log_dir = str(checks.check_logdir(log_dir, "log_dir"))
        # HParams session: group (None: a hash of the values), objectives [(log name,
        # "min" | "max")] whose best epoch value is logged, and what has been written
        self._hparams_group: str | None = None
        self._objectives: list[tuple[str, str]] = []
        self._best: dict[str, float] = {}
        self._session = {"start": False, "end": False}
        # a Keras Tuner trial's callback: (trial folder, copies made); see summaries.tuner
        self._trial: tuple[str, itertools.count] | None = None

        self._writer: LogWriter | None = None  # with the one writer thread
        # The model, for the writer thread and the batch hooks: Keras's `Callback.model`
        # property syncs the JAX trainer's state into the variables (`jax_state_sync`) at
        # every read, which from the writer thread would race with the train steps (a
        # step would get buffers the one before consumed) and per batch costs a sync.
        self._fit_model: Any = None
        self._probe = None  # compiled loss-and-gradients on the sample batch
        # set once the writer thread's tracing job (see _prepare) has finished, or failed
        self._probe_ready: threading.Event | None = None
        self._probe_error: Exception | None = None
        self._predictor = None  # the model's forward pass, traced on the writer thread
        self._images_written = False
        self._probe_failed = False
        # JAX: the jitted gradient probe and forward pass (made and traced on the writer
        # thread), or the error that stopped them
        self._jax_probe: gradients.JaxProbe | None = None
        self._jax_forward: confusion.JaxForward | None = None
        self._jax_errors: dict[str, Exception] = {}
        self._sample: samples.Batch | None = None
        self._sample_args: samples.Batch | None = None  # the sample as tensors
        self._val_cache: tuple[Any, Any] | None = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._buffer: list[scalars.BatchRecord] = []
        self._begun = self._ended = 0
        self._step0 = 0
        # the global step of the epoch's last batch so far (batch hooks, under the lock):
        # the step of the epoch's summaries
        self._epoch_step = 0
        self._lr_kind = "none"
        self._epoch = 0
        self._steps_per_epoch: int | None = None
        self._layers: weights.LayerWeights | None = None  # listed once per fit
        self._lr_value: float | None = None
        self._batch_events = scalars.BatchEvents()
        self._snapshot: dict[int, np.ndarray] | None = None
        self._ratio_after: dict[int, np.ndarray] | None = None
        self._snapshot_batch = -1
        self._per_call = 1

    # -- copies (Keras Tuner deep-copies its callbacks for every trial) -----------------

    def __deepcopy__(self, memo: dict) -> SummaryCallback:
        """A fresh callback with the same arguments and none of this one's state (no
        writer, thread, lock or traced function); a trial's callback gives each copy the
        trial's next execution folder."""
        config = dict(self._config)
        trial = self._trial
        if trial is not None:
            folder, copies = trial
            config["log_dir"] = f"{folder}/execution{next(copies)}"
        elif _called_from("keras_tuner"):
            warnings.warn(
                "SummaryCallback: copied by Keras Tuner without summaries.tuner.SummaryTuner, "
                "so every trial writes into the same run; mix SummaryTuner into the tuner "
                "class for one run per trial and the HParams tab (docs/callback.md)",
                stacklevel=2,
            )
        clone = type(self)(**config)
        clone._hparams_group = self._hparams_group
        clone._objectives = list(self._objectives)
        memo[id(self)] = clone
        return clone

    def _for_trial(
        self,
        folder: str,
        values: Mapping[str, Any],
        group: str,
        objectives: Sequence[tuple[str, str]],
    ) -> SummaryCallback:
        """This callback's configuration for one Keras Tuner trial (summaries.tuner): its
        copies write into ``<folder>/execution<i>``, i = 0, 1, ... in the order they are
        made, with the trial's hyper-parameter `values` as their HParams session (`group`:
        the trial id) and the best epoch value of each (log name, "min" | "max") objective
        as ``objective/<name>``."""
        config = {**self._config, "log_dir": f"{folder}/execution0", "hparams": dict(values)}
        template = type(self)(**config)
        template._hparams_group = group
        template._objectives = list(objectives)
        template._trial = (folder, itertools.count())
        return template

    # -- lifecycle -------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self._writer is None:
            # Our own TFRecord writer and its one thread: no TensorFlow op per write;
            # flushed (not synced) after each batch hand-over and epoch (TensorFlow's writer
            # flushes and syncs every 10 events by default). After a fit that ended by an
            # exception, the thread releases the file once idle for `idle_secs`.
            self._writer = LogWriter(
                self.log_dir,
                background=True,
                max_pending=_MAX_PENDING,
                idle_secs=self.idle_secs,
            )
            # collected before idle_secs (the callback of a failed fit dropped): closed then,
            # which is this writer's contract, not a user's forgotten close()
            self._writer._gc_warning = False
        if self.hparams is not None and not self._session["start"]:
            self._session["start"] = True
            start = session_start_pb(self.hparams, group=self._hparams_group)
            self._submit(self._write_values, list(start.value), 0)
        if self.write_graph and not backend.is_tensorflow():
            self._warn_once(
                "graph",
                f"no op graph on the {backend.name()} backend (Keras builds a TensorFlow "
                "graph only on the tensorflow backend; write_graph=False silences this)",
            )
        self._lr_kind = optimizer.learning_rate_kind(self.model)
        self._steps_per_epoch = (self.params or {}).get("steps")
        self._layers = weights.LayerWeights(self.model)  # layers may have changed between fits
        model = self.model
        if self._fit_model is not None and model is not self._fit_model:
            self._forget_model()  # this callback in a fit of another model
        self._fit_model = model
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
        step0 = self._guard("batch scalars", optimizer.iterations, self.model)
        self._step0 = self._step0 if step0 is None else step0
        with self._lock:  # an epoch without a batch keeps the step it began at
            self._epoch_step = self._step0
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
            self._snapshot = self._guard("update ratios", self._layers.read, True)
        elif self._snapshot_batch == 0 and batch > 0 and self._ratio_after is None:
            if self._snapshot is not None:  # the first call's update, seen from the second
                self._ratio_after = self._guard("update ratios", self._layers.read, True)
        if batch == 0 or len(self._buffer) >= self.flush_batches:
            if self._flush_batches() or batch == 0:
                # A learning-rate variable is read here, not per batch (a read costs about
                # as much as the rest of the hook): after on_epoch_begin, where Keras's
                # schedulers set it, and at every flush.
                variable = self._lr_kind == "variable"
                self._lr_value = optimizer.learning_rate(self._fit_model) if variable else None
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
                record = (step, scalars.numeric(logs), self._lr_value, time.time())
        with self._lock:
            if record is not None:
                self._buffer.append(record)
            self._ended += 1
            # hooks may finish out of order on Keras's worker threads
            self._epoch_step = max(self._epoch_step, step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras has waited for every batch hook by now
        step = self._end_step()
        self._flush_batches(force=True)
        if self._sample is None and (validation := self._validation_data()) is not None:
            self._sample = samples.take((*validation, None), self.sample_size)
        if self._probe_ready is None:
            self._prepare()  # an epoch of one train call: nothing was queued yet
        # Capture here what the next batch would change; summarise on the writer thread.
        logs = logs or {}
        layers = self._layers
        trainable = layers.entries(trainable_only=True)
        epoch_values = []
        if self._wants("epoch_freq", epoch):
            rate = None
            if self._lr_kind != "none" and "learning_rate" not in logs:
                rate = optimizer.learning_rate(self.model)
            epoch_values = scalars.epoch_scalars(logs, rate)
        epoch_values += self._objective_values(logs)
        # (part, what computes its summaries from what is captured here)
        parts: list[tuple[str, Callable[[], list]]] = []
        on_jax = backend.name() == "jax"
        wants_gradients = self._wants("gradient_freq", epoch)
        wants_confusion = self._wants("confusion_freq", epoch)
        # JAX: the gradients and predictions are computed on the writer thread, from host
        # copies of the model's state taken now (the next train step consumes the arrays)
        state = known = None
        if on_jax and (wants_gradients or wants_confusion):
            state = self._guard("model state", self._model_state)
            if state is not None:
                variables = [*self.model.trainable_variables, *self.model.non_trainable_variables]
                known = dict(zip(map(id, variables), [*state[0], *state[1]], strict=True))
        host = None
        if self._wants("histogram_freq", epoch) or self._wants("ratio_freq", epoch):
            host = self._guard("weight histograms", layers.read, False, known)
        if self._wants("histogram_freq", epoch) and host is not None:
            every = layers.entries(trainable_only=False)
            summarise = partial(histograms.weight_summaries, every, host, self.buckets)
            parts.append(("histograms", summarise))
        if wants_gradients and on_jax:
            if self._sample is None:
                self._warn_once("sample", "no sample batch (pass data=(x, y)): gradients skipped")
            elif state is not None:
                summarise = partial(self._jax_gradients, trainable, state, self._sample)
                parts.append(("gradients", summarise))
        elif wants_gradients:
            if (grads := self._guard("gradients", self._gradients)) is not None:
                summarise = partial(histograms.gradient_summaries, trainable, grads, self.buckets)
                parts.append(("gradients", summarise))
        if self._wants("ratio_freq", epoch) and self._snapshot is not None:
            after = self._ratio_after if self._snapshot_batch == 0 else None
            after = host if after is None else after
            if after is not None:
                summarise = partial(weights.update_ratios, trainable, self._snapshot, after)
                parts.append(("update ratios", summarise))
        if self._wants("optimizer_freq", epoch):
            slots = self._guard("optimizer slots", optimizer.read_slots, self.model, layers)
            if slots is not None:
                parts.append(("optimizer slots", partial(optimizer.slot_summaries, slots)))
        if wants_confusion and on_jax:
            data = self._guard("confusion", self._validation_or_warn)
            if data is not None and state is not None:
                parts.append(("confusion", partial(self._jax_confusion, state, data)))
        elif wants_confusion:
            if (outputs := self._guard("confusion", self._validation_outputs)) is not None:
                parts.append(("confusion", partial(self._confusion_values, outputs)))
        sample = self._sample
        if self._wants_images(epoch) and sample is not None and images.image_like(sample[0]):
            parts.append(("images", partial(images.image_values, sample[0], self.max_images)))
            self._images_written = True
        self._submit(self._write_epoch, step, epoch_values, parts)

    def on_train_end(self, logs: dict | None = None) -> None:
        writer = self._writer
        try:
            self._flush_batches(force=True)
            if self.hparams is not None and not self._session["end"]:
                self._session["end"] = True
                self._submit(self._write_values, list(session_end_pb("success").value), 0)
            if writer is not None:
                writer.flush(retry=True)  # after a storage fault: one more try now
                writer.drain()  # the run is complete when fit() returns
        finally:
            if writer is not None and not writer.closed:
                # Nothing outlives fit(): the file is closed and the thread has ended. The
                # writer stays: a later fit() reopens the file and appends to it.
                writer.release()

    def close(self) -> None:
        """Flush and close the event file (a later fit() opens a new one)."""
        if self._writer is not None:
            self._flush_batches(force=True)
            self._writer.close()  # queued jobs still write through self._writer
            self._writer = None

    def _forget_model(self) -> None:
        """Drop what was traced or compiled for the model of an earlier fit (the probes,
        the forward passes); the next fit makes its own."""
        if self._writer is not None:
            self._writer.drain()  # no job of the earlier fit still uses them
        self._probe = self._predictor = self._probe_ready = self._probe_error = None
        self._probe_failed = False
        self._jax_probe = self._jax_forward = None
        self._jax_errors = {}

    # -- the writer thread -------------------------------------------------------------

    def _submit(self, job: Callable[..., None], *args: Any) -> None:
        """Queue `job(*args)` for the writer thread, which runs jobs one at a time, in
        order; a failed earlier job raises here, on the training thread. A storage fault
        only pauses the writer (it keeps what is computed and retries), so work goes on."""
        self._writer.submit(job, *args)

    def _write_values(self, values: list, step: int) -> None:
        """Writer thread: Summary values as one event at `step`."""
        self._writer.add(summary_pb2.Summary(value=values), step)
        self._writer.flush()

    def _objective_values(self, logs: dict) -> list:
        """``objective/<name>``: the best epoch value so far of each tuner objective."""
        values = []
        for name, direction in self._objectives:
            try:
                value = float(logs[name])
            except (KeyError, TypeError, ValueError):
                continue
            best = self._best.get(name)
            if best is None or (value > best if direction == "max" else value < best):
                self._best[name] = best = value
            values.append(scalar_value(f"objective/{clean(name)}", best))
        return values

    def _write_epoch(self, step: int, values: list, parts: list) -> None:
        """Writer thread: one epoch's summaries from what on_epoch_end captured, at the
        global `step` of its end."""
        for part, summarise in parts:
            values += self._guard(part, summarise) or []
        blobs = [summary_pb2.Summary(value=[v]).SerializeToString() for v in values]
        self._writer.add_serialized(blobs, [step] * len(blobs))
        self._writer.flush()

    def _end_step(self) -> int:
        """The global step at the epoch's end (once every batch hook has returned): the
        epoch's last batch step, counted by the batch hooks. Only where that count can
        overshoot (an epoch of unknown length in calls of several steps: Keras reports a
        short last call at its nominal end) is the optimizer's count read, and a buffered
        batch record past it moved back to it."""
        with self._lock:
            step = self._epoch_step
        if self._steps_per_epoch or self._per_call == 1:
            return step
        read = self._guard("batch scalars", optimizer.iterations, self.model)
        if read is None or read >= step:
            return step
        with self._lock:
            self._epoch_step = read
            if self._buffer and self._buffer[-1][0] > read:
                self._buffer[-1] = (read, *self._buffer[-1][1:])
        return read

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

    def _write_batches(self, records: list[scalars.BatchRecord]) -> None:
        """Writer thread: buffered batch scalars, one event per step, in step order."""
        schedule = None
        if self._lr_kind == "schedule":
            schedule = partial(optimizer.schedule_rates, self._fit_model)
        blobs, steps, times = self._batch_events.serialize(records, schedule)
        self._writer.add_serialized(blobs, steps, times)
        self._writer.flush()  # visible to TensorBoard within `flush_batches` batches

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

    # -- data ------------------------------------------------------------------------

    def _find_sample(self) -> samples.Batch | None:
        if self._data is not None:
            return samples.take(self._data, self.sample_size)
        try:
            return samples.from_fit(self.model, "train", self.sample_size)
        except Exception as exc:  # never break training over a diagnostic
            self._warn_once("sample-error", f"could not read a sample batch: {exc}")
        return None

    def _validation_data(self) -> tuple[Any, Any] | None:
        if self._val_cache is not None:
            return self._val_cache
        data = self._validation
        if data is not None:
            data = samples.take(data, self.confusion_samples)
        else:
            try:
                data = samples.from_fit(self.model, "validation", self.confusion_samples)
            except Exception as exc:
                self._warn_once("val-error", f"could not read validation data: {exc}")
                data = None
        if data is None or data[1] is None:
            return None
        self._val_cache = (data[0], data[1])
        return self._val_cache

    def _sample_tensors(self) -> samples.Batch:
        if self._sample_args is None:
            self._sample_args = samples.as_tensors(self._sample)
        return self._sample_args

    # -- tracing: the gradient probe (and graph), the forward pass -----------------------

    def _prepare(self) -> None:
        """Queue on the writer thread what a fit's summaries need traced: the probe (for the
        graph and the gradients) and the forward pass (for the confusion matrices); once
        per callback, as later fits reuse them. Other backends than TensorFlow trace nothing
        ahead (JAX traces its jitted functions in the epoch jobs on the writer thread)."""
        if not backend.is_tensorflow():
            self._probe_ready = ready = threading.Event()
            ready.set()
            return
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
            import tensorflow as tf

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
            gradients.warm_up(traced, self._sample_tensors())
        if predictor:
            # the validation predictions in one graph call per chunk instead of an eager
            # op-by-op pass on the training thread (which costs several times more, most of
            # all under load); the model's graph, as model.predict runs it
            try:
                with strategy.scope():
                    self._predictor = self._trace_predictor()
            except Exception:  # noqa: S110 (the eager pass still works)
                pass

    def _trace_probe(self, on_writer: bool = False) -> Any:
        """Trace the probe if that has not been tried yet; None if it cannot be."""
        if self._probe is None and self._sample is not None and not self._probe_failed:
            try:
                self._probe = gradients.trace_probe(self._fit_model, self._sample)
            except Exception as exc:  # eager gradients still work without it
                self._probe_failed = True
                if on_writer:
                    self._probe_error = exc  # warned by _probe_fn on the training thread
                else:
                    self._warn_once("trace", f"could not trace the model, so no graph: {exc}")
        return self._probe

    def _probe_fn(self) -> Any:
        """The sample batch's loss and gradients, traced once (its graph is the one logged);
        waits for the writer thread's tracing job if one is queued."""
        if self._probe_ready is not None:
            self._probe_ready.wait()
            if self._probe_error is not None:  # warned here, on the training thread
                error, self._probe_error = self._probe_error, None
                self._warn_once("trace", f"could not trace the model, so no graph: {error}")
        return self._trace_probe()

    def _trace_predictor(self) -> Any:
        """Writer thread: the forward pass, traced on the sample's inputs."""
        return confusion.trace_predictor(self._fit_model, self._sample_tensors()[0])

    # -- what is captured at an epoch's end -------------------------------------------

    def _gradients(self) -> dict[int, Any] | None:
        """The sample batch's gradients by variable id (TensorFlow: immutable tensors;
        PyTorch: host arrays), or None."""
        if self._sample is None:
            self._warn_once("sample", "no sample batch (pass data=(x, y)): gradients skipped")
            return None
        if backend.name() == "torch":
            return gradients.torch_gradients(self.model, self._sample)
        if not backend.is_tensorflow():
            raise NotImplementedError(f"no gradient probe on the {backend.name()} backend")
        probe = self._probe_fn()
        return gradients.sample_gradients(self.model, probe, self._sample, self._sample_tensors())

    def _validation_or_warn(self) -> tuple[Any, Any] | None:
        """The validation examples for the confusion matrices; None (with a warning, once)
        without them."""
        data = self._validation_data()
        if data is None:
            self._warn_once("validation", "no validation data: confusion matrices skipped")
        return data

    def _validation_outputs(self) -> confusion.Outputs | None:
        """(x, y, the model's outputs on x, head names) for the confusion matrices."""
        data = self._validation_or_warn()
        if data is None:
            return None
        preds, refused = confusion.predict(self.model, data[0], self._predictor)
        if refused:
            self._predictor = None  # inputs unlike the sample's: the eager pass from now on
        return (*data, preds, confusion.head_names(self.model, len(preds)))

    def _confusion_values(self, outputs: confusion.Outputs) -> list:
        """Writer thread: the confusion summaries from the validation outputs."""
        return confusion.confusion_values(
            self._fit_model,
            outputs,
            class_names=self.class_names,
            position_names=self.position_names,
            cap_per_cell=self.cap_per_cell,
            sequence_accuracy=self.sequence_accuracy_tag,
        )

    # -- JAX: computed on the writer thread from host copies of the model's state ----------

    def _model_state(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Host copies of the model's trainable and non-trainable variables, in the
        model's order (synced at an epoch's end; else from the JAX trainer's state)."""
        model = self.model
        return (
            backend.host_values(model, model.trainable_variables),
            backend.host_values(model, model.non_trainable_variables),
        )

    def _jax_call(self, part: str, make: Callable[[Any], Any], *args: Any) -> Any:
        """Writer thread: the compiled function of `part` (made once) called on `args`; a
        failure (making, tracing, compiling or calling it) is raised again on later calls
        without a second attempt (it has warned once)."""
        attribute = {"gradients": "_jax_probe", "confusion": "_jax_forward"}[part]
        if part in self._jax_errors:
            raise self._jax_errors[part]
        try:
            if getattr(self, attribute) is None:
                setattr(self, attribute, make(self._fit_model))
            return getattr(self, attribute)(*args)
        except Exception as exc:
            self._jax_errors[part] = exc
            raise

    def _jax_gradients(
        self, entries: list, state: tuple[list, list], sample: samples.Batch
    ) -> list:
        """Writer thread: the sample batch's gradient summaries (`jax.value_and_grad`)."""
        grads = self._jax_call("gradients", gradients.JaxProbe, *state, sample)
        return histograms.gradient_summaries(entries, grads, self.buckets)

    def _jax_confusion(self, state: tuple[list, list], data: tuple[Any, Any]) -> list:
        """Writer thread: the confusion summaries, the forward pass compiled."""
        preds = self._jax_call("confusion", confusion.JaxForward, *state, data[0])
        outputs = (*data, preds, confusion.head_names(self._fit_model, len(preds)))
        return self._confusion_values(outputs)
