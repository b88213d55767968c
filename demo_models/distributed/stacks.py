"""What a task is doing right now, asked from outside: a report of its threads on SIGUSR1.

A stalled cluster task is usually blocked inside TensorFlow's C++ runtime, where a Python
signal handler never runs (it waits for the main thread). So `listen()` blocks SIGUSR1 in
the calling thread before TensorFlow starts its threads (they inherit the mask), and a
daemon thread takes the signal with `sigwait` and writes every Python thread's stack, by
thread name, between two marker lines on stderr; `describe()` adds lines of the task's
own (the coordinator's closures in flight per worker). The launcher reads the report from
the task's stderr file and puts its gist in the stall message.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Callable

BEGIN = "FLOWSCOPE-STACKS-BEGIN"
END = "FLOWSCOPE-STACKS-END"
SIGNAL = signal.SIGUSR1
_describers: list[Callable[[], list[str]]] = []


def listen() -> None:
    """Answer SIGUSR1 with a stack report; call before any other thread starts."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {SIGNAL})

    def loop() -> None:
        while True:
            signal.sigwait({SIGNAL})
            sys.stderr.write("\n".join([BEGIN, *report(), END]) + "\n")
            sys.stderr.flush()

    threading.Thread(target=loop, name="stack-report", daemon=True).start()


def describe(lines: Callable[[], list[str]]) -> None:
    """Add the task's own state lines (called at report time, from the report thread)."""
    _describers.append(lines)


def report() -> list[str]:
    """Each live thread's name and stack (innermost call last), then the described state."""
    frames = sys._current_frames()  # noqa: SLF001 (the one way to read other threads' stacks)
    out = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        if frame is None or thread.name == "stack-report":
            continue
        out.append(f"thread {thread.name}:")
        for entry in traceback.extract_stack(frame):
            out.append(f"  {entry.filename}:{entry.lineno} {entry.name}")
    for lines in _describers:
        try:
            out.extend(lines())
        except Exception as exc:  # a report must never fail for want of one detail
            out.append(f"state unavailable: {type(exc).__name__}: {exc}")
    return out


def without_reports(stderr: str) -> str:
    """A task's stderr text with its stack reports cut out."""
    while (begin := stderr.find(BEGIN)) >= 0:
        end = stderr.find(END, begin)
        stderr = stderr[:begin] + ("" if end < 0 else stderr[end + len(END) :])
    return stderr


def trimmed(lines: list[str], frames: int = 6) -> list[str]:
    """The report with each thread's stack cut to its innermost `frames` calls."""
    out: list[str] = []
    stack: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("  "):
            stack.append(line)
            continue
        out.extend(stack[-frames:])
        stack = []
        if line:
            out.append(line)
    return out


def parse(stderr: str) -> list[str] | None:
    """The last complete report in a task's stderr text, or None."""
    end = stderr.rfind(END)
    begin = stderr.rfind(BEGIN, 0, end)
    if end < 0 or begin < 0:
        return None
    return stderr[begin + len(BEGIN) : end].strip("\n").splitlines()


def gist(lines: list[str]) -> str:
    """A few lines: per thread that matters, where it waits (our innermost call, then the
    innermost call of all), plus the state lines."""
    stacks: dict[str, list[str]] = {}
    state, thread = [], None
    for line in lines:
        if line.startswith("thread "):
            thread = line[len("thread ") : -1]
            stacks[thread] = []
        elif line.startswith("  ") and thread is not None:
            stacks[thread].append(line.strip())
        else:
            state.append(line)
            thread = None
    out = []
    for name, frames in stacks.items():
        if not frames or not (name == "MainThread" or name.startswith(WATCHED)):
            continue
        ours = [f for f in frames if "/demo_models/" in f]
        where = _short(frames[-1])
        if ours and ours[-1] != frames[-1]:
            where = f"{_short(ours[-1])} -> {where}"
        out.append(f"{name}: {where}")
    return "\n".join([*out, *state])


# TensorFlow's coordinator names its per-worker threads so; their stacks say which worker
# is running a step (and in which call) and which wait for work
WATCHED = ("WorkerClosureProcessingLoop", "WorkerPreemptionHandler")


def _short(entry: str) -> str:
    """`function (path:line)` with the path cut to its package-relative tail."""
    path, _, function = entry.rpartition(" ")
    for marker in ("site-packages/", "/demo_models/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})"
