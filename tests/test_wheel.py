"""A wheel built from the checkout, installed into a new virtual environment, serves the pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, TensorBoard
from sample_logs import write_race

pytestmark = pytest.mark.slow


PACKAGES = ("summaries", "tb_plugin", "frontend", "demo_models")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout's packaging files and packages.

    A copy, so that files left in the checkout's build/ folder by an earlier build (setuptools
    puts everything under build/lib into the wheel) cannot hide a module that moved away.
    """
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for path in REPO.iterdir():
        if path.is_file():
            shutil.copy2(path, source / path.name)
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(root),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    return next(root.glob("flowscope-*.whl"))


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel-venv")
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


def test_wheel_ships_benchmarks_with_the_applications_only(wheel):
    """Benchmarks and the TensorBoard launcher ship in demo_models.bench, not in the library."""
    names = zipfile.ZipFile(wheel).namelist()
    modules = [name for name in names if name.endswith(".py")]
    assert "demo_models/bench/serve.py" in modules
    assert "demo_models/bench/tensorboard.py" in modules
    shipped = [name for name in modules if name.split("/")[0] in ("summaries", "tb_plugin")]
    assert "summaries/format.py" in shipped and "tb_plugin/loaders.py" in shipped
    assert [name for name in shipped if "bench" in name or "tensorboard_process" in name] == []
