"""`summaries.pb.LogWriter`: the numpy writers' event-file writer (no TensorFlow).

Like TensorBoard's `*_pb` functions, Flowscope's `*_pb` builders return `Summary` protos
(`summaries.confusion_pb`, `summaries.trajectory_pb`, ...), and `LogWriter` writes them to
an event file, so a PyTorch or plain-numpy loop can log races and confusion. `LogWriter`
lives in `summaries.writer`; this is the address the README and the manual show.
"""

from __future__ import annotations

from summaries.writer import LogWriter

__all__ = ["LogWriter"]
