"""One real TensorBoard program on a free loopback port, started, waited for and stopped.

`flowscope bench serve` and the test suite both run TensorBoard this way. It lives with the
applications (not in `tb_plugin`), so nothing TensorBoard loads carries the launcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import portpicker


def installed_command() -> list[str]:
    """The `tensorboard` program installed beside this Python."""
    script = Path(sys.executable).with_name("tensorboard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tensorboard.main"]


# Runs TensorBoard's own main(). argv[1]: "with" / "without" Flowscope's entry points;
# argv[2]: "tf" (TensorBoard imports TensorFlow, the default when it is installed) or
# "notf" (TensorBoard's TensorFlow-free mode, as when TensorFlow is not installed).
LAUNCHER = """
import sys, types
flowscope, tf = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
if tf == "notf":
    sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
from tensorboard import default, main
if flowscope == "without":
    def get_dynamic_plugins():
        return [ep.load() for ep in default._iter_entry_points("tensorboard_plugins")
                if not ep.value.startswith("tb_plugin.")]
    default.get_dynamic_plugins = get_dynamic_plugins
sys.exit(main.run_main())
"""


def tensorboard_command(flowscope: bool = True, tensorflow: bool = True) -> list[str]:
    """Command that runs the real TensorBoard, with or without Flowscope's plugins."""
    return [
        sys.executable,
        "-c",
        LAUNCHER,
        "with" if flowscope else "without",
        "tf" if tensorflow else "notf",
    ]


class TensorBoardClient:
    """A TensorBoard that answers at `url` (one this module started, or another program's)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def get(self, path: str, timeout: float = 120) -> tuple[int, bytes]:
        """GET a path: (status, body) for any status."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


class TensorBoardProcess(TensorBoardClient):
    """`command --logdir ... --host 127.0.0.1 --port P --load_fast=...` in its own session
    (so stop() reaches the data server it starts), output to `log_path`; the constructor
    returns once /data/plugins_listing answers, after `start_seconds`."""

    def __init__(
        self,
        logdir: Path,
        *,
        command: Sequence[str] | None = None,
        load_fast: bool = True,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        timeout: float = 300,
    ):
        self.logdir = Path(logdir)
        self.load_fast = load_fast
        self.port = portpicker.pick_unused_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.log_path = log_path or self.logdir.parent / f"tensorboard-{self.port}.log"
        args = [
            *(command or installed_command()),
            "--logdir",
            str(self.logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            f"--load_fast={'true' if load_fast else 'false'}",
            *extra_args,
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        begin = time.monotonic()
        self.process = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            self._wait_listing(begin, timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - begin

    def _wait_listing(self, begin: float, timeout: float) -> None:
        while time.monotonic() - begin < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"TensorBoard exited with {self.process.returncode}:\n{self.log()[-4000:]}"
                )
            try:
                if self.get("/data/plugins_listing", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"TensorBoard did not answer within {timeout} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        """Everything TensorBoard has printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop TensorBoard and its data server (SIGTERM, then SIGKILL after 15 s)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self._log.close()
