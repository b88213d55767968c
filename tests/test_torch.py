"""PyTorch and plain-numpy users: Flowscope's summaries without TensorFlow (docs/pytorch.md).

The recipe (docs/examples/pytorch_recipe.py) runs against the real PyTorch CPU wheel in a
Python where `import tensorflow` (and keras) fails, so "no TensorFlow needed" is proven,
not assumed. Its run (a SummaryWriter's event file and a LogWriter's, in one folder) is
then read with TensorBoard's Python loader in-process (tests/plugin_harness.py), also while
both writers are still writing (tensorboard#1011), and with the Rust loader in a real
`tensorboard --load_fast=true`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, wait_for
from plugin_harness import InProcessBoard

import summaries
from tb_plugin import loaders

RECIPE = REPO / "docs" / "examples" / "pytorch_recipe.py"
MODEL_RECIPE = REPO / "docs" / "examples" / "pytorch_model_race.py"  # the page's last recipe
PAGE = REPO / "docs" / "pytorch.md"
RACE, CONFUSION = "optimizer_race", "position_confusion"
EPOCHS, BATCHES = 6, 30  # the recipe's classifier: 3000 images in batches of 100

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="PyTorch is not installed: `./setup.sh --test` installs the CPU wheel torch==2.13.0+cpu",
)

# Put first in every child process: from then on `import tensorflow` (or keras) raises
# ImportError and importlib.util.find_spec says it is not installed, as on a machine
# without TensorFlow (a meta_path hook that raises would break torch's own probing).
NO_TENSORFLOW = """
import sys

for name in ("tensorflow", "keras", "tf_keras"):
    sys.modules[name] = None
"""

# Ends a child's script: proves the hook worked and nothing of TensorFlow got loaded.
REPORT = """
try:
    import tensorflow  # noqa: F401
    blocked = False
except ImportError:
    blocked = True
blocked_names = ("tensorflow", "keras")
loaded = sorted(m for m, v in sys.modules.items() if v and m.partition(".")[0] in blocked_names)
print(json.dumps({"blocked": blocked, "loaded": loaded, **result}))
"""


def without_tensorflow(script: str, *args: str, cwd: Path = REPO, **kwargs) -> dict:
    """Run `script` (it sets a dict `result`) in a fresh Python without TensorFlow; returns
    `result` with `blocked` and `loaded` (TensorFlow modules in sys.modules)."""
    done = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW + "import json\n" + script + REPORT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=cwd,
        **kwargs,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer.pop("blocked") is True and answer.pop("loaded") == [], answer
    return answer


RUN_RECIPE = f"""
import runpy
import numpy as np
import torch
from summaries.race import SURFACES

recipe = runpy.run_path({str(RECIPE)!r})
recipe["main"]([sys.argv[1]])
xy = np.random.default_rng(0).uniform(-5, 5, (200, 2))
in_torch = recipe["himmelblau"](torch.tensor(xy[:, 0]), torch.tensor(xy[:, 1])).numpy()
result = {{
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "surface_error": float(np.abs(in_torch - SURFACES["himmelblau"].value(*xy.T)).max()),
}}
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> tuple[Path, dict]:
    """The recipe's logdir, written by a Python without TensorFlow, and what it reported."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed: `./setup.sh --test` installs torch==2.13.0+cpu")
    logdir = tmp_path_factory.mktemp("pytorch") / "logs"
    return logdir, without_tensorflow(RUN_RECIPE, str(logdir))


@needs_torch
def test_the_recipe_runs_on_the_cpu_wheel_without_tensorflow(recipe):
    logdir, report = recipe
    assert report["torch"].split("+")[0] == "2.13.0" and report["cuda"] is None  # a CPU build
    assert report["surface_error"] < 1e-9  # the torch loss is the library's surface
    # PyTorch's event file and Flowscope's, side by side in the classifier's run
    assert len(list((logdir / "classifier").glob("events.out.tfevents.*"))) == 2


def check_recipe_routes(board) -> None:
    """What the pages' routes show of the recipe's logs (an InProcessBoard or a TensorBoard)."""
    steps = [BATCHES * (epoch + 1) for epoch in range(EPOCHS)]
    # Confusion: per-position matrices at every epoch, examples, PyTorch's scalar beside them
    (run,) = board.plugin(CONFUSION, "runs")["runs"]
    (tag,) = run["tags"]
    assert run["run"] == "classifier" and tag["tag"] == "confusion/validation"
    assert tag["positions"] == ["left digit", "right digit"] and tag["classes"][9] == "9"
    assert tag["examples_tag"] == "confusion/validation/examples"
    query = {"run": "classifier", "tag": "confusion/validation"}
    series = board.plugin(CONFUSION, "series", **query)
    assert series["steps"] == steps
    accuracy = series["sequence_accuracy"]  # written by torch's SummaryWriter
    assert accuracy["tag"] == "validation/sequence_accuracy"
    assert all(isinstance(v, float) and 0.5 < v <= 1 for v in accuracy["values"])
    matrix = board.plugin(CONFUSION, "matrix", **query)
    assert np.asarray(matrix["counts"]).shape == (2, 10, 10) and matrix["totals"] == [600, 600]
    pair = matrix["confused_pairs"][0]
    cell = {"position": pair["position"], "true": pair["true"], "predicted": pair["predicted"]}
    examples = board.plugin(CONFUSION, "examples", **query, **cell)
    assert examples["exact"] and examples["images"]
    status, png = board.get(f"/data/plugin/{CONFUSION}/{examples['images'][0]['url']}")
    assert status == 200 and png.startswith(b"\x89PNG")

    # Race: six torch.optim racers, drawn and ranked, with their hyper-parameters as written
    (race,) = board.plugin(RACE, "races")["races"]
    assert race["race"] == "torch-himmelblau" and race["title"] == "Himmelblau"
    racers = {r["id"]: r for r in race["racers"]}
    assert {r["run"] for r in race["racers"]} == {"race"}  # one run for the whole race
    assert racers["race/adamw"]["optimizer"] == "torch.optim.AdamW"
    assert racers["race/adamw"]["hyperparameters"] == {"lr": 0.05, "weight_decay": 0.01}
    assert [r["palette_index"] for r in race["racers"]] == list(range(6))
    assert race["whatif"] is False and "only re-run Keras optimizers" in race["whatif_reason"]
    surface = board.plugin(RACE, "surface", race="torch-himmelblau")
    assert len(surface["minima"]) == 4 and surface["contours"]
    rows = board.plugin(RACE, "leaderboard", race="torch-himmelblau")["rows"]
    assert len(rows) == 6 and all(r["error"] is None and r["steps"] == 300 for r in rows)
    assert sum(r["first_entry_step"] is not None for r in rows) >= 4  # most of them arrive


@needs_torch
def test_the_python_loader_shows_the_recipe_run(recipe):
    board = InProcessBoard(recipe[0])
    check_recipe_routes(board)
    # PyTorch's own scalars, through the data provider every page reads from
    listed = board.provider.list_scalars(board.context(), experiment_id="", plugin_name="scalars")
    assert listed["classifier"]["train/loss"].max_step == EPOCHS * BATCHES


@needs_torch
@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [True], ids=["load_fast"])
def test_the_rust_loader_shows_the_recipe_run(recipe, tensorboard):
    board = tensorboard(recipe[0])
    board.wait_enabled(RACE, CONFUSION)

    def torch_scalars():  # the Rust server reads lazily: wait until it has every point
        points = board.get_json(
            "/data/plugin/scalars/scalars?run=classifier&tag=train%2Floss"
        )  # [[wall_time, step, value], ...]
        return len(points) == EPOCHS * BATCHES and points

    assert wait_for(torch_scalars, timeout=60)[-1][1] == EPOCHS * BATCHES
    wait_for(lambda: len(board.plugin(RACE, "races")["races"][0]["racers"]) == 6)
    check_recipe_routes(board)


LIVE_WRITER = """
import numpy as np
from torch.utils.tensorboard import SummaryWriter
import summaries

tb = SummaryWriter(sys.argv[1])
fs = summaries.LogWriter(tb.get_logdir())
labels = np.array([0, 1, 2, 2])
for step in range(20):
    tb.add_scalar("validation/sequence_accuracy", step / 20, step)
    summaries.write_confusion(
        fs, "confusion", labels=labels, predictions=labels, step=step, classes=["a", "b", "c"],
        sequence_accuracy_tag="validation/sequence_accuracy",
    )
    tb.flush()
    fs.flush()
    print(step, flush=True)
    input()  # the test reloads TensorBoard's loader, then lets the loop go on
tb.close()
fs.close()
result = {}
"""


@needs_torch
def test_both_live_files_reach_the_python_loader(tmp_path):
    """tensorboard#1011: two files growing in one run. Left alone, the Python loader keeps
    only the first step of one of them; with Flowscope's plugin it keeps every step."""
    run = tmp_path / "live"
    run.mkdir()
    flowscope = InProcessBoard(tmp_path)  # --reload_multifile unset: the plugin turns it on
    plain = InProcessBoard(tmp_path, reload_multifile=False)  # as if set to false
    child = subprocess.Popen(
        [sys.executable, "-c", NO_TENSORFLOW + "import json\n" + LIVE_WRITER + REPORT, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
    )
    try:
        for step in range(20):
            assert child.stdout.readline().strip() == str(step)
            flowscope.reload()
            plain.reload()
            child.stdin.write("\n")
            child.stdin.flush()
        assert json.loads(child.stdout.readline()) == {"blocked": True, "loaded": []}
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    query = {"run": "live", "tag": "confusion"}
    shown = flowscope.plugin(CONFUSION, "series", **query)
    assert shown["steps"] == list(range(20))
    assert shown["sequence_accuracy"]["values"] == pytest.approx([s / 20 for s in range(20)])
    dropped = plain.plugin(CONFUSION, "series", **query)
    kept = [
        len(dropped["steps"]),
        sum(v is not None for v in dropped["sequence_accuracy"]["values"]),
    ]
    assert sorted(kept) == [1, 1] or sorted(kept) == [1, 20], kept


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], True), (["--reload_multifile=false"], False), (["--reload_multifile=true"], True)],
)
def test_the_plugin_turns_on_multifile_polling_unless_set(tmp_path, argv, expected):
    from tensorboard import program
    from tensorboard.plugins.core import core_plugin

    board = program.TensorBoard(
        plugins=[core_plugin.CorePluginLoader, loaders.RaceLoader, loaders.ConfusionLoader]
    )
    board.configure(argv=["tensorboard", "--logdir", str(tmp_path), *argv])
    assert board.flags.reload_multifile is expected


# -- numpy users: the same checks and messages as for tensors, without TensorFlow -------

# (labels, predictions) that confusion_counts must refuse, as nested lists
BAD_COUNTS = [
    ([[[0, 1]]], [[[0, 1]]]),  # rank 3 labels
    ([[0, 1], [1, 1]], [[0, 1, 1], [1, 1, 1]]),  # different positions
    ([[0, 1]], [[[0.1, 0.9, 0.0, 0.0, 0.0]] * 2]),  # scores with 5 classes, not 4
    ([0, 1, 2], [0, 1]),  # different N
    (3, 3),  # a scalar
    ([0, 7], [0, 1]),  # out of range
    ([0, 1], [-1, 1]),
]
# (positions, losses) that trajectory_metrics must refuse
BAD_TRAJECTORIES = [
    ([[0.0, 0.0, 0.0]], [1.0]),
    ([[0.0, 0.0], [1.0, 1.0]], [1.0, 2.0, 3.0]),
    ([0.0, 1.0], [1.0, 2.0]),
    ([[0.0, 0.0]], [[1.0]]),
]

NUMPY_ERRORS = """
import numpy as np
import summaries


def error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


cases = json.loads(sys.argv[1])
result = {
    "counts": [error(summaries.confusion_counts, np.array(a), np.array(b), 4)
               for a, b in cases["counts"]],
    "metrics": [error(summaries.trajectory_metrics, np.array(p), np.array(l), minima=None,
                      window=[-1, 1, -1, 1], tolerance=0.1) for p, l in cases["metrics"]],
    "good": summaries.confusion_counts([[0, 1], [2, 2]], np.eye(4)[[[0, 2], [2, 3]]], 4).tolist(),
}
"""


def error(call, *args, **kwargs) -> str | None:
    try:
        call(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def test_numpy_users_get_the_tensor_messages_without_tensorflow():
    cases = {"counts": BAD_COUNTS, "metrics": BAD_TRAJECTORIES}
    numpy = without_tensorflow(NUMPY_ERRORS, json.dumps(cases))
    import tensorflow as tf

    as_tensors = [
        error(summaries.confusion_counts, tf.constant(a), tf.constant(b), 4) for a, b in BAD_COUNTS
    ]
    assert None not in as_tensors
    assert numpy["counts"] == as_tensors
    as_tensors = [
        error(summaries.trajectory_metrics, tf.constant(p), tf.constant(lo), minima=None,
              window=[-1, 1, -1, 1], tolerance=0.1)
        for p, lo in BAD_TRAJECTORIES
    ]  # fmt: skip
    assert None not in as_tensors
    assert numpy["metrics"] == as_tensors
    counts = summaries.confusion_counts(
        tf.constant([[0, 1], [2, 2]]), tf.constant(np.eye(4)[[[0, 2], [2, 3]]]), 4
    )
    assert numpy["good"] == counts.numpy().tolist()
    assert re.search(r"got values in \[0, 7\]", numpy["counts"][5])  # the offending range


# -- the page's code is the recipe's ------------------------------------------------------


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def stripped(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def test_every_code_block_of_the_page_is_in_the_recipe_or_runs():
    recipe = "\n".join(stripped(RECIPE.read_text()) + stripped(MODEL_RECIPE.read_text()))
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) >= 5
    outside = [b for b in blocks if "\n".join(stripped(b)) not in recipe]
    # Blocks that are not the recipe's run as shown, without TensorFlow (the numpy section).
    assert len(outside) == 1, outside
    without_tensorflow(outside[0] + "\nresult = {}\n")


def test_the_block_check_notices_a_change():
    recipe = "\n".join(stripped(RECIPE.read_text()))
    block = python_blocks(PAGE.read_text())[0]
    assert "\n".join(stripped(block)) in recipe
    assert "\n".join(stripped(block.replace("get_logdir()", "log_dir"))) not in recipe


REQUIRES_GRAD = """
import numpy as np
import torch
import summaries
from summaries import checks

weights = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
labels = torch.tensor([0, 1, 1])
scores = torch.tensor([[2.0, 1.0], [0.0, 3.0], [4.0, 0.0]], requires_grad=True) * 1.0
with summaries.LogWriter(sys.argv[1]) as log:
    counts = summaries.write_confusion(
        log, "confusion", labels=labels, predictions=scores, classes=["a", "b"]
    )
path = torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]], requires_grad=True) * 1.0
metrics = summaries.trajectory_metrics(
    path, (path**2).sum(dim=1), minima=[[0.0, 0.0]], window=[-2, 2, -2, 2], tolerance=0.1
)
result = {
    "host": checks.host(weights).tolist(),
    "counts": np.asarray(counts).tolist(),
    "first_entry_step": metrics["first_entry_step"],
    "final_loss": metrics["final_loss"],
}
"""


@needs_torch
def test_torch_tensors_that_require_grad_are_logged_as_their_values(tmp_path):
    # in a child without TensorFlow, as a PyTorch user runs it: importing torch into this
    # TensorFlow-laden test process took 15-48 s (torch's _C._initExtension) in full runs
    report = without_tensorflow(REQUIRES_GRAD, str(tmp_path))
    assert report["host"] == [[1.0, -2.0], [0.5, 3.0]]
    assert report["counts"] == [[[1, 0], [1, 1]]]
    assert report["first_entry_step"] == 2 and report["final_loss"] == 0.0
