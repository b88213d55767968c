"""Per-position confusion, the `position_confusion` summary kind: [P, K, K] counts plus the
misclassified examples (format: `summaries.format`).

Like every summary kind K, it has three writers, sharing their checked arguments
(`arguments.ConfusionArgs`):

* `confusion` (`op`) writes to the default ``tf.summary`` writer (graph-compatible);
* `confusion_pb` (`pb`) builds the Summary with numpy only;
* `write_confusion` (`pb`) writes it to a `summaries.pb.LogWriter` (no TensorFlow).

`confusion_counts` (`counts`) takes numpy or tensors: numpy in, numpy out (TensorFlow not
imported); a tensor in gives TensorFlow ops. `examples_pb` (`examples`) builds the
examples alone, from cells and images. Importing this package never imports TensorFlow.
"""

from __future__ import annotations

from summaries.position_confusion.arguments import ConfusionArgs
from summaries.position_confusion.counts import confusion_counts
from summaries.position_confusion.examples import examples_pb
from summaries.position_confusion.op import confusion
from summaries.position_confusion.pb import build_confusion, confusion_pb, write_confusion

__all__ = [
    "ConfusionArgs",
    "build_confusion",
    "confusion",
    "confusion_counts",
    "confusion_pb",
    "examples_pb",
    "write_confusion",
]
