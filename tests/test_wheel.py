"""A wheel built from the checkout, installed into a new virtual environment, serves the pages."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import REPO, TensorBoard
from sample_logs import write_race

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(root),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    wheel = next(root.glob("flowscope-*.whl"))
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # Dependencies come from the test environment (no network); Flowscope only from the wheel.
    new_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(new_site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            new_site,
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return python


def test_wheel_ships_assets_and_serves_pages(wheel_venv, tmp_path):
    probe = subprocess.run(
        [
            wheel_venv,
            "-c",
            "import frontend, tb_plugin, json; print(json.dumps("
            "[frontend.__file__, tb_plugin.__file__]))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    for path in json.loads(probe.stdout):
        assert str(wheel_venv.parent.parent) in path, "imported from the checkout, not the wheel"

    logdir = tmp_path / "logs"
    write_race(logdir)
    board = TensorBoard(
        logdir, load_fast=False, command=[str(wheel_venv), "-m", "tensorboard.main"]
    )
    try:
        board.wait_enabled("optimizer_race")
        for plugin in ("optimizer_race", "position_confusion"):
            status, body = board.get(f"/data/plugin/{plugin}/index.js")
            assert status == 200 and b"render" in body
            status, body = board.get(f"/data/plugin/{plugin}/static/common/dom.js")
            assert status == 200 and b"export function el" in body
        assert board.plugin("optimizer_race", "races")["races"][0]["race"] == "saddle-race"
    finally:
        board.stop()
