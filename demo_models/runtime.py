"""What every command-line job shares: clear errors, writable log directories, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def writable_dir(path: str | os.PathLike, name: str = "log directory") -> Path:
    """Create `path` if needed and prove it is writable, or raise CliError."""
    from summaries.pb import check_logdir

    try:
        return check_logdir(path, name)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def progress(iterable: Iterable[T], desc: str, total: int | None = None, **kw) -> Iterator[T]:
    """A progress bar on stderr (quiet when FLOWSCOPE_NO_PROGRESS is set)."""
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("FLOWSCOPE_NO_PROGRESS"))
    yield from tqdm(
        iterable, desc=desc, total=total, file=sys.stderr, disable=disable, leave=False, **kw
    )
