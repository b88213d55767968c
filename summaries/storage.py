"""Where logs go: a local path with plain file I/O, a URI (``scheme://...``) through
`tf.io.gfile`.

Local paths never import TensorFlow (the numpy-only writers stay light). The first URI
imports it, and a URI whose scheme TensorFlow has not registered (`gs`, `ram`, `file` are
built in; `s3`, `hdfs` come with filesystem plugins), or any URI without TensorFlow, is a
ValueError naming the argument: never a local folder named ``ram:``.

`log_path(value, argument)` gives a `pathlib.Path` or a `RemotePath`, the part of pathlib
the writers and commands use, over gfile. A `RemotePath` is deliberately not os.PathLike:
`open()` or `Path()` of it fails loudly instead of writing into a local folder.
`open_log(path)` gives the `LogFile` a `LogWriter` appends whole records to.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# "ram:/logs" (one slash): a URI with a slash missing, not a local folder named "ram:"
_HALF_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):/(?!/)")


def uri_scheme(path: str) -> str | None:
    """The scheme of a ``scheme://`` URI, or None for a local path."""
    match = _URI.match(path)
    return match.group(1).lower() if match else None


def gfile(argument: str, uri: str) -> Any:
    """`tf.io.gfile`, imported now; a ValueError naming `argument` without TensorFlow."""
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ValueError(
            f"{argument} {uri!r} is a URI, which is written through TensorFlow's tf.io.gfile, "
            f"but TensorFlow cannot be imported ({exc}); install TensorFlow or use a local path"
        ) from None
    return tf.io.gfile


def log_path(value: Any, argument: str = "log_dir") -> Path | RemotePath:
    """`value` as a local `Path` or a `RemotePath` whose scheme TensorFlow knows.

    Raises TypeError (not a path) or ValueError (an unknown scheme, a URI without
    TensorFlow), naming `argument`. Nothing is created.
    """
    if isinstance(value, RemotePath):
        return value
    try:
        text = os.fspath(value)
    except TypeError:
        raise TypeError(f"{argument} must be a path, got {type(value).__name__}") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    scheme = uri_scheme(text)
    if scheme is None:
        half = _HALF_URI.match(text)
        if half:
            raise ValueError(
                f"{argument} {text!r} looks like a URI with a slash missing "
                f"(write {half.group(1)}://...); a local folder named {half.group(1)}: is refused"
            )
        return Path(text).expanduser()
    fs = gfile(argument, text)
    known = fs.get_registered_schemes()
    if scheme not in known:
        try:  # s3://, hdfs://, ...: registered on import, as TensorBoard's loader does it
            import tensorflow_io  # noqa: F401
        except ImportError:
            pass
        known = fs.get_registered_schemes()
    if scheme not in known:
        schemes = ", ".join(f"{s}://" for s in sorted(s for s in known if s))
        raise ValueError(
            f"{argument} {text!r}: no filesystem is registered for {scheme}:// "
            f"(TensorFlow knows {schemes}; s3:// and hdfs:// need a filesystem plugin, "
            "such as tensorflow-io)"
        )
    return RemotePath(text)


def _os_error(exc: Exception, path: str) -> OSError:
    """A TensorFlow filesystem error as the OSError a local write would raise."""
    import tensorflow as tf

    codes = {
        tf.errors.ResourceExhaustedError: errno.ENOSPC,
        tf.errors.PermissionDeniedError: errno.EACCES,
        tf.errors.UnauthenticatedError: errno.EACCES,
        tf.errors.NotFoundError: errno.ENOENT,
        tf.errors.AlreadyExistsError: errno.EEXIST,
    }
    code = next((c for kind, c in codes.items() if isinstance(exc, kind)), errno.EIO)
    message = getattr(exc, "message", None) or str(exc)
    error = OSError(code, message, path)
    error.__cause__ = exc
    return error


class RemotePath:
    """A ``scheme://`` path with the pathlib methods the writers use, through tf.io.gfile.

    TensorFlow filesystem errors come out as OSError, like a local path's.
    """

    def __init__(self, uri: str):
        self._uri = uri if uri.endswith("://") else uri.rstrip("/")

    def __str__(self) -> str:
        return self._uri

    def __repr__(self) -> str:
        return f"RemotePath({self._uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other._uri == self._uri

    def __hash__(self) -> int:
        return hash(self._uri)

    def __truediv__(self, part: Any) -> RemotePath:
        return RemotePath(f"{self._uri}/{str(part).strip('/')}")

    @property
    def name(self) -> str:
        """The last path segment."""
        head, _, tail = self._uri.rpartition("/")
        return "" if head.endswith(":/") and not tail else tail

    @property
    def parent(self) -> RemotePath:
        """The path without its last segment."""
        head = self._uri.rpartition("/")[0]
        return self if head.endswith(":/") else RemotePath(head)

    def _gfile(self) -> Any:
        return gfile("path", self._uri)

    def _call(self, function: str, *args: Any) -> Any:
        fs = self._gfile()
        try:
            return getattr(fs, function)(*args)
        except OSError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("tensorflow"):
                raise _os_error(exc, self._uri) from exc
            raise

    def exists(self) -> bool:
        """Whether something is at this path."""
        return bool(self._call("exists", self._uri))

    def is_dir(self) -> bool:
        """Whether this path is a directory."""
        return bool(self._call("isdir", self._uri))

    def is_file(self) -> bool:
        """Whether this path is a file."""
        return self.exists() and not self.is_dir()

    def is_symlink(self) -> bool:
        """Always False: gfile has no symbolic links."""
        return False

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Create the directory (and its parents with `parents`)."""
        if self.is_dir():
            if exist_ok:
                return
            raise FileExistsError(errno.EEXIST, "File exists", self._uri)
        self._call("makedirs" if parents else "mkdir", self._uri)

    def iterdir(self) -> Iterator[RemotePath]:
        """The directory's entries."""
        for name in sorted(self._call("listdir", self._uri)):
            yield self / name

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        """Entries matching a one-segment pattern (``events.out.tfevents.*``)."""
        for name in sorted(self._call("listdir", self._uri)):
            if fnmatch.fnmatchcase(name.rstrip("/"), pattern):
                yield self / name

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        """Files and directories under this one whose name matches `pattern`."""
        for top, dirs, files in self._call("walk", self._uri):
            base = RemotePath(top)
            for name in [*dirs, *files]:
                if fnmatch.fnmatchcase(name.rstrip("/"), pattern):
                    yield base / name

    def unlink(self) -> None:
        """Delete the file."""
        self._call("remove", self._uri)

    def rmtree(self) -> None:
        """Delete the directory and everything under it."""
        self._call("rmtree", self._uri)

    def open(self, mode: str = "rb") -> Any:
        """A `tf.io.gfile.GFile` on this path."""
        return self._call("GFile", self._uri, mode)

    def read_bytes(self) -> bytes:
        """The file's content."""
        with self.open("rb") as f:
            return f.read()

    def write_bytes(self, data: bytes) -> None:
        """Replace the file's content with `data`."""
        with self.open("wb") as f:
            f.write(data)

    def read_text(self) -> str:
        """The file's content as UTF-8 text."""
        return self.read_bytes().decode()

    def write_text(self, text: str) -> None:
        """Replace the file's content with `text` (UTF-8)."""
        self.write_bytes(text.encode())


def rmtree(path: Path | RemotePath) -> None:
    """Delete a directory tree, local or remote."""
    if isinstance(path, RemotePath):
        path.rmtree()
    else:
        shutil.rmtree(path)


class LogFile:
    """An event file that takes whole records: `append` writes all of `data` or raises
    OSError with the file as it was before the call (else `torn` is set: the writer must
    go on in a new file, so that no reader meets a partial record)."""

    torn = False
    #: pending bytes a writer may hold before it appends them (between flushes)
    buffer_bytes = 256 << 10

    def append(self, data: bytes) -> None:  # pragma: no cover - interface
        """Write all of `data` at the end of the file."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make appended records visible to readers."""

    def close(self) -> None:  # pragma: no cover - interface
        """Close the file (what was appended stays)."""
        raise NotImplementedError


class LocalLogFile(LogFile):
    """A local event file written with os.write: each append reaches the OS at once, and a
    failed one (a full disk mid-record) is cut back to the last whole record."""

    def __init__(self, path: Path, append: bool = False):
        self.path = path
        mode = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self._fd: int | None = os.open(path, mode, 0o666)
        self._size = os.fstat(self._fd).st_size if append else 0

    @property
    def size(self) -> int:
        """Bytes in the file (what was there before an append-mode open, plus appends)."""
        return self._size

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._fd is None

    def append(self, data: bytes) -> None:
        """Write all of `data`; on a failure, truncate back to the size before."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            try:
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
            except OSError:
                self.torn = True
            raise
        self._size += len(data)

    def close(self) -> None:
        """Close the descriptor."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def open_remote(uri: str, mode: str) -> Any:
    """A `tf.io.gfile.GFile` (the seam tests use to stand in a failing remote store)."""
    return gfile("path", uri).GFile(uri, mode)


class RemoteLogFile(LogFile):
    """An event file through tf.io.gfile. A failed append or flush leaves the remote
    object in an unknown state, so it counts as torn: the writer goes on in a new file."""

    # each flush of a gs:// file uploads the whole object: flush rarely
    buffer_bytes = 16 << 20

    def __init__(self, path: RemotePath):
        self.path = path
        self._file = self._guard(open_remote, str(path), "wb")

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._file is None

    def _guard(self, function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except OSError:
            self.torn = True
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("tensorflow"):
                self.torn = True
                raise _os_error(exc, str(self.path)) from exc
            raise

    def append(self, data: bytes) -> None:
        """Hand `data` to the remote file."""
        self._guard(self._file.write, data)

    def flush(self) -> None:
        """Flush the remote file (an upload of the object for gs://)."""
        self._guard(self._file.flush)

    def close(self) -> None:
        """Close the remote file."""
        if self._file is not None:
            file, self._file = self._file, None
            self._guard(file.close)


def open_log(path: Path | RemotePath, append: bool = False) -> LogFile:
    """A new, empty event file at `path`; with `append`, a local file opened to append to
    (remote stores cannot append: a writer goes on in a new file there)."""
    if isinstance(path, RemotePath):
        if append:
            raise ValueError(f"{path} is remote: object stores cannot append to a file")
        return RemoteLogFile(path)
    return LocalLogFile(path, append)
