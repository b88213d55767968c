"""What every command-line job shares: clear errors, writable log directories, progress."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from summaries.storage import RemotePath

T = TypeVar("T")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def command_parser(command: str, description: str, **kwargs: Any) -> argparse.ArgumentParser:
    """The option parser of `flowscope COMMAND` (e.g. "bench scale"), whose usage line and
    help name the whole command; `kwargs` go to `argparse.ArgumentParser` (e.g. epilog)."""
    return argparse.ArgumentParser(prog=f"flowscope {command}", description=description, **kwargs)


def check_minimums(args: Any, minimums: dict[str, int]) -> None:
    """CliError naming the first option of `args` below its minimum ({dest: minimum})."""
    for name, minimum in minimums.items():
        if getattr(args, name) < minimum:
            raise CliError(f"--{name.replace('_', '-')} must be >= {minimum}")


def saved_model(arg: str, model_file: str, labels_file: str) -> tuple[Path, Path]:
    """MODEL `arg`, a saved model or the run folder holding `model_file`: the model's path
    and where `labels_file` (written beside it) stands; CliError when there is no model."""
    path = Path(arg).expanduser()
    if path.is_dir():
        path = path / model_file
    if not path.is_file():
        raise CliError(f"MODEL {str(path)!r} does not exist (give {model_file} or its run folder)")
    return path, path.parent / labels_file


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where data sets are cached: cache_dir, else $FLOWSCOPE_CACHE, else ~/.cache/flowscope."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("FLOWSCOPE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "flowscope"


def writable_dir(
    path: str | os.PathLike, name: str = "log directory", *, local_only: str | None = None
) -> Path | RemotePath:
    """Create `path` if needed and prove it is writable, or raise CliError.

    A ``scheme://`` URI (``gs://bucket/runs``, ``ram://...``) gives a `RemotePath` written
    through tf.io.gfile; `local_only` (what must stay local, e.g. "the saved model") refuses
    URIs with that reason.
    """
    from summaries.checks import check_logdir
    from summaries.storage import uri_scheme

    text = os.fsdecode(os.fspath(path))
    if local_only and uri_scheme(text):
        raise CliError(
            f"{name} must be a local path here ({local_only} is written locally), got {text!r}"
        )
    try:
        return check_logdir(path, name)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# A run's resumable state lives in `checkpoints/`, never `checkpoint/`: TensorBoard reads a
# run's `checkpoint` as a TensorFlow checkpoint index and warns "Checkpoint ignored" about a
# folder of that name on every reload.
CHECKPOINT_DIR = "checkpoints"
OLD_CHECKPOINT_DIR = "checkpoint"  # what captcha and catsdogs used before 2026-11-25


def checkpoint_dir(run: Path, marker: str = "state.json") -> Path:
    """`run`/checkpoints; an old `run`/checkpoint holding `marker` is moved there first."""
    new, old = run / CHECKPOINT_DIR, run / OLD_CHECKPOINT_DIR
    if old.is_dir() and (old / marker).is_file() and not new.exists():
        old.rename(new)
        print(f"moved the checkpoint folder {old} to {new} (TensorBoard reads `checkpoint`)")
    return new


def progress(iterable: Iterable[T], desc: str, total: int | None = None, **kw) -> Iterator[T]:
    """A progress bar on stderr (quiet when FLOWSCOPE_NO_PROGRESS is set)."""
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("FLOWSCOPE_NO_PROGRESS"))
    yield from tqdm(
        iterable, desc=desc, total=total, file=sys.stderr, disable=disable, leave=False, **kw
    )
