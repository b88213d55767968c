"""The layers, enforced: summaries <- tb_plugin <- demo_models, and nothing shipped to
TensorBoard or to `import summaries` loads a test tool or a benchmark.

The contract lives in pyproject.toml (`[tool.importlinter]`) and is checked by import-linter's
`lint-imports`; a fresh interpreter then confirms what TensorBoard actually loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
FORBIDDEN_TOP = ("pytest", "_pytest", "playwright", "hypothesis", "demo_models")

# What `import summaries` and TensorBoard's start-up load: the public modules, then both
# plugins built from their `tensorboard_plugins` entry points, as TensorBoard builds them.
SHIPPED = """
import json, sys
from importlib.metadata import entry_points

import summaries, summaries.format, summaries.pb, summaries.race, tb_plugin.loaders
from tensorboard.plugins import base_plugin

context = base_plugin.TBContext(logdir=None, data_provider=None, flags=None)
plugins = [
    ep.load()().load(context).plugin_name
    for ep in entry_points(group="tensorboard_plugins")
    if ep.value.startswith("tb_plugin.")
]
print(json.dumps({"plugins": sorted(plugins), "modules": sorted(sys.modules)}))
"""


def lint_imports(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """Run `lint-imports` from this virtual environment; (exit status, output)."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return done.returncode, done.stdout + done.stderr


def test_the_layer_contract_is_kept():
    status, output = lint_imports(REPO)
    assert status == 0, output
    assert "0 broken" in output
    # both contracts ran (a contract dropped from pyproject.toml would pass silently)
    assert "demo_models > tb_plugin > frontend > summaries KEPT" in output
    assert "import no test tool, benchmark or application KEPT" in output


def test_the_contract_catches_each_kind_of_violation(tmp_path):
    """The repository's own contract, run over a small tree that breaks every rule once."""
    modules = {
        "summaries/__init__.py": "",
        "summaries/up.py": "from tb_plugin import routes\n",
        "summaries/tools.py": "import pytest\nimport hypothesis\n",
        "tb_plugin/__init__.py": "",
        "tb_plugin/routes.py": "import frontend\nimport summaries\n",
        "tb_plugin/browser.py": "def timing():\n    import playwright.sync_api\n",
        "tb_plugin/bench.py": "def main():\n    from demo_models import cli\n",
        "frontend/__init__.py": "",
        "demo_models/__init__.py": "",
        "demo_models/cli.py": "import summaries\nimport tb_plugin\n",
    }
    for name, text in modules.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    status, output = lint_imports(tmp_path, "--config", str(REPO / "pyproject.toml"), env=env)
    assert status == 1, output
    assert "2 broken" in output
    for line in (
        "summaries is not allowed to import tb_plugin",
        "summaries is not allowed to import pytest",
        "summaries is not allowed to import hypothesis",
        "tb_plugin is not allowed to import playwright",
        "tb_plugin is not allowed to import demo_models",
    ):
        assert line in output, output
    # the allowed direction is not reported
    assert "demo_models.cli ->" not in output
    assert "tb_plugin.routes ->" not in output


def test_what_tensorboard_and_import_summaries_load_has_no_test_tool_or_benchmark(tmp_path):
    done = subprocess.run(
        [sys.executable, "-I", "-c", SHIPPED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["plugins"] == ["optimizer_race", "position_confusion"]
    modules = loaded["modules"]
    assert "tb_plugin.race_plugin" in modules and "tb_plugin.confusion_plugin" in modules
    offending = [
        name
        for name in modules
        if name.split(".")[0] in FORBIDDEN_TOP
        or any(part == "bench" or part.startswith("bench_") for part in name.split("."))
    ]
    assert offending == []
