"""`flowscope tour`: every demo's logs, read back from the event files and shown by TensorBoard.

The tour runs here with FLOWSCOPE_TOUR_TINY=1 (each demo a dozen steps, the race on two
surfaces, a few hundred captchas) so it fits the suite's time budget; the code path is the
quick tour's. The whole check is one test so that pytest-xdist never runs the tour twice,
and it ends as a user's tour does: the tour serves what it wrote with TensorBoard (its
default loader, in the tour's own process) until Ctrl-C. Both loaders are covered route by
route in test_plugins_live.py; this test is about the tour's content.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import portpicker
import pytest
from conftest import Board, artifact, open_plugin_tab, wait_for
from PIL import Image
from sample_logs import write_confusion
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util
from test_demos import LESSON_SCOPES, graph_scopes

from demo_models import notes
from demo_models.tour import NAMES, TINY_STEPS
from summaries import format as fmt

LESSONS = ["linear", "nonlinear", "softmax", "mlp", "regularized", "lenet5"]
CLASSIFIERS = ["softmax", "mlp", "regularized", "lenet5"]


def tour_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWSCOPE_TOUR_TINY": "1",
        "FLOWSCOPE_NO_PROGRESS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_HOME": str(tmp_path / "keras"),  # no cached MNIST: the offline stand-in
        "FLOWSCOPE_CACHE": str(tmp_path / "cache"),
    }


def flowscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "demo_models", *args]


def load(run: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(
        str(run), size_guidance={"tensors": 0, "images": 0, "histograms": 0}
    )
    acc.Reload()
    return acc


def tags_by_plugin(acc) -> dict[str, set[str]]:
    tags: dict[str, set[str]] = {}
    for tag in acc.Tags()["tensors"]:
        tags.setdefault(acc.SummaryMetadata(tag).plugin_data.plugin_name, set()).add(tag)
    return tags


def check_lesson_run(logdir: Path, name: str) -> None:
    """Graph with the lesson's scopes, scalars, histograms, real PNG images, confusion."""
    acc = load(logdir / name)
    missing = LESSON_SCOPES[name] - graph_scopes(acc.Graph())
    assert not missing, f"{name}: graph lacks the lesson's scopes {missing}"
    tags = tags_by_plugin(acc)
    for plugin in ("scalars", "histograms", "images"):
        assert tags.get(plugin), f"{name}: no {plugin} summaries"
    for tag in tags["histograms"]:
        buckets = acc.Tensors(tag)[-1].tensor_proto.tensor_shape
        assert buckets.dim[-1].size == 3, f"{name}: {tag} is not TensorBoard's histogram format"
    for tag in tags["images"]:
        proto = acc.Tensors(tag)[-1].tensor_proto
        width, height = int(proto.string_val[0]), int(proto.string_val[1])
        picture = Image.open(io.BytesIO(proto.string_val[2]))
        assert picture.size == (width, height) and width >= 5, f"{name}: bad image {tag}"
    if name in CLASSIFIERS:
        assert "confusion/test" in tags[fmt.CONFUSION_PLUGIN], f"{name}: no confusion"
        content = fmt.parse_content(acc.SummaryMetadata("confusion/test").plugin_data.content)
        assert content["classes"] == [str(i) for i in range(10)] and len(content["positions"]) == 1
        counts = tensor_util.make_ndarray(acc.Tensors("confusion/test")[-1].tensor_proto)
        assert counts.shape == (1, 10, 10) and counts.sum() == 300  # the stand-in's test set


def check_note(run: Path, name: str) -> None:
    """The run's `lesson/note` is the lesson's note, in both languages, and every tag it
    tells the student to open is in this run (a graph scope on the Graphs tab)."""
    acc = load(run)
    (event,) = acc.Tensors(notes.TAG)
    text = event.tensor_proto.string_val[0].decode()
    note = notes.note(name)
    assert text == note.markdown() and note.en in text and note.zh in text, name
    tags = set(acc.Tags()["tensors"])
    for tab, wanted in note.tags().items():
        have = graph_scopes(acc.Graph()) if tab == "Graphs" else tags
        for tag in wanted:
            found = any(t.startswith(tag) for t in have) if tag.endswith("/") else tag in have
            assert found, f"{name}: its note points to {tab} {tag}, which {run.name} lacks"


def graph_labels(page) -> set[str]:
    """Names of the boxes drawn in TensorBoard's graph (each label's own text, no tooltip)."""
    labels = page.locator("g.node text.nodelabel")
    return set(labels.evaluate_all("els => els.map((e) => e.firstChild.textContent)"))


class ServingTour:
    """`flowscope ARGS` (a tour that serves) in its own session, as from a terminal: its
    stdout read line by line by a thread (a full pipe would block the tour), its stderr in a
    file, Ctrl-C by stop()."""

    def __init__(self, args: list[str], env: dict[str, str], stderr: Path):
        self.lines: list[str] = []
        self.serving_line: str | None = None
        self.serving = threading.Event()  # set by the serving line, or by the tour's end
        self._stderr_path = stderr
        with open(stderr, "w") as err:
            self.process = subprocess.Popen(
                flowscope(*args),
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
                # as from a terminal: a runner started in the background (`cmd &` in a
                # script) hands its children SIGINT ignored, and Python then installs no
                # KeyboardInterrupt at all
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if "TensorBoard is serving" in line:
                self.serving_line = line
                self.serving.set()
        self.serving.set()

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    @property
    def stderr(self) -> str:
        return self._stderr_path.read_text(errors="replace")

    def wait_serving(self, timeout: float) -> str:
        """The serving line, once the tour prints it; fails if it ends or runs past
        `timeout` first (a safety net far above the tour's time)."""
        if not self.serving.wait(timeout):
            pytest.fail(f"the tour was still running after {timeout} s:\n{self.stdout[-3000:]}")
        line = self.serving_line
        assert line, f"ended without serving:\n{self.stdout[-2000:]}{self.stderr[-3000:]}"
        return line

    def stop(self) -> int:
        """Ctrl-C: the tour stops TensorBoard and exits; its exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(120)  # a safety net far above the ~1 s it takes
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """End the tour and what it started at once, if it still runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


@pytest.fixture
def serving_tour(tmp_path) -> Iterator[Callable[..., ServingTour]]:
    """start(*args) -> a ServingTour; any still running at teardown is killed."""
    tours: list[ServingTour] = []

    def start(*args: str) -> ServingTour:
        stderr = tmp_path / f"tour-{len(tours)}.err"  # one file per tour started
        tours.append(ServingTour(["tour", *args], tour_env(tmp_path), stderr))
        return tours[-1]

    yield start
    for tour in tours:
        tour.kill()


@pytest.mark.slow
@pytest.mark.browser
def test_tour_writes_every_demo_and_serves_them(tmp_path, serving_tour, page):
    """The tiny tour as users run it: every stop, then its own TensorBoard (in the tour's
    process, with the TensorFlow the demos started) until Ctrl-C."""
    logdir = tmp_path / "runs"
    write_confusion(logdir, run="linear")  # left by an earlier tour: must be replaced
    write_confusion(logdir, run="mine")  # not the tour's: must be left alone
    port = portpicker.pick_unused_port()
    started = time.monotonic()
    tour = serving_tour("--logdir", str(logdir), "--port", str(port))
    serving = tour.wait_serving(timeout=420)
    print(f"tour took {time.monotonic() - started:.0f} s")
    # a failed stop is reported by name, the first one first
    failed = re.findall(r"^(\w+): error: .*$", tour.stderr, re.M)
    assert not failed, f"{failed[0]} failed first:\n{tour.stdout[-2000:]}{tour.stderr[-3000:]}"
    assert f"http://localhost:{port}/" in serving
    stdout = tour.stdout
    for number, name in enumerate(NAMES, 1):  # progress: one numbered line per stop
        assert f"[{number}/{len(NAMES)}] {name} -> {logdir / name}" in stdout
    assert "Tour finished in" in stdout and notes.TAG in stdout  # English default

    # -- every run carries its lesson note, and the tags it points to exist there --------
    for name in NAMES:
        if name != "race":
            check_note(logdir / name, name)
    for surface in ("saddle", "linear_regression"):  # the tiny tour's races
        check_note(logdir / "race" / f"race-{surface}", f"race:{surface}")

    # -- the event files --------------------------------------------------------------
    for name in LESSONS:
        check_lesson_run(logdir, name)
    assert list((logdir / "softmax").glob("checkpoints/ckpt-*.index"))
    linear = load(logdir / "linear")
    assert "confusion/validation" not in linear.Tags()["tensors"]  # the stale run is gone
    assert len(list((logdir / "linear").glob("events.out.tfevents.*"))) == 1
    assert list((logdir / "mine").glob("events.out.tfevents.*"))  # the foreign run stays
    steps = [e.step for e in linear.Tensors("train/k")]
    assert steps == list(range(len(steps))) and len(steps) >= 10  # one value per step
    race_runs = sorted(
        p.parent.relative_to(logdir).as_posix()
        for p in (logdir / "race").rglob("events.out.tfevents.*")
    )
    # one run per race (each holding every racer), not one per racer
    assert race_runs == ["race/race-linear_regression", "race/race-saddle"]
    # the own-model stop: the files a user brings, and the race on them (one run)
    own = logdir / "own_model"
    assert (own / "inputs" / "model.keras").is_file() and (own / "inputs" / "data.npz").is_file()
    assert f"flowscope race --model {own / 'inputs' / 'model.keras'}" in stdout
    assert len(list(own.glob("hparams/*/events.out.tfevents.*"))) == 4  # HParams: one per racer
    captcha = tags_by_plugin(load(logdir / "captcha"))
    assert captcha.get("scalars") and captcha.get(fmt.CONFUSION_PLUGIN)
    catsdogs = load(logdir / "catsdogs")  # offline: the stand-in, and it says so
    assert [e.step for e in catsdogs.Tensors("test/accuracy")] == [TINY_STEPS]
    about = catsdogs.Tensors("about/data")[0].tensor_proto.string_val[0].decode()
    assert "NOT cats vs dogs" in about and "confusion" in catsdogs.Tags()["tensors"]
    distributed = load(logdir / "distributed")  # the ps/worker cluster's one run
    assert [e.step for e in distributed.Tensors("train/loss")] == list(range(TINY_STEPS))
    assert any(node.device.startswith("/job:ps/") for node in distributed.Graph().node)
    transfer = load(logdir / "transfer")  # offline: the digits stand-in, and it says so
    assert [e.step for e in transfer.Tensors("test/accuracy")][-1] == TINY_STEPS - 1
    about = transfer.Tensors("about/data")[0].tensor_proto.string_val[0].decode()
    assert "NOT Inception-V3" in about and "confusion/test" in transfer.Tags()["tensors"]
    table = transfer.Tensors("about/comparison")[0].tensor_proto.string_val[0].decode()
    assert "| with transfer" in table and table.count("| without transfer") == 2
    assert (logdir / "transfer" / "projector_config.pbtxt").is_file()

    # -- the tour's TensorBoard serves it -----------------------------------------------
    board = Board(f"http://localhost:{port}")
    board.wait_enabled(
        "graphs",
        "scalars",
        "histograms",
        "images",
        "optimizer_race",
        "position_confusion",
        "projector",  # the transfer stop's bottleneck vectors
        timeout=120,
    )
    races = {r["race"]: r for r in board.plugin("optimizer_race", "races")["races"]}
    racers = {r["optimizer"] for r in races["race-linear_regression"]["racers"]}
    assert {"SGD (lesson)", "sgd", "adam"} <= racers  # the lesson's GD races Keras' optimizers
    own_racers = {r["optimizer"] for r in races["own_model"]["racers"]}  # the MLP network's
    assert own_racers == {"sgd", "momentum", "rmsprop", "adam"}
    # the run list every stock tab shows: one run per race
    listed = sorted(r for r in board.get_json("/data/runs") if r.startswith("race/"))
    assert listed == ["race/race-linear_regression", "race/race-saddle"]
    graphs = board.get_json("/data/plugin/graphs/info")
    assert all(graphs[name]["run_graph"] for name in LESSONS)

    # Graphs: the softmax lesson's scopes, with `layer` expanded as in the lesson's figure
    page.goto(board.url + "/#graphs", wait_until="domcontentloaded")
    page.wait_for_selector("g.node", timeout=60_000)
    page.locator("paper-dropdown-menu").first.click()  # the Run selector
    page.locator("paper-item", has_text="softmax").first.click()
    wait_for(lambda: {"input", "layer", "loss", "train", "accuracy"} <= graph_labels(page))
    page.locator("g.node", has=page.locator("text", has_text="layer")).first.dblclick()
    wait_for(lambda: {"weights", "biases", "xw_plus_b", "softmax"} <= graph_labels(page))
    page.get_by_text("Fit to screen").click()
    page.wait_for_timeout(1500)  # the zoom animation
    page.screenshot(path=artifact("tour-graphs-softmax.png"))

    # Scalars: one tag scheme, so one test/accuracy chart holds every lesson's model
    page.goto(board.url + "/?tagFilter=test%2Faccuracy#timeseries", wait_until="domcontentloaded")
    page.get_by_text("test/accuracy", exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=artifact("tour-scalars-test-accuracy.png"))
    # Text: every run's lesson note, rendered, in both languages
    page.goto(board.url + "/#text", wait_until="domcontentloaded")
    page.get_by_text("What it teaches").first.wait_for(timeout=60_000)
    # (the Text tab pages its cards, 12 to a page: the tiny tour writes 13 notes)
    wait_for(lambda: page.get_by_text("本课要点").count() >= 10, timeout=60)
    # Histograms, Images: cards with charts and images, not an empty page
    page.goto(board.url + "/#histograms", wait_until="domcontentloaded")
    page.locator("vz-histogram-timeseries").first.wait_for(timeout=60_000)
    page.goto(board.url + "/#images", wait_until="domcontentloaded")
    page.get_by_text("input/images", exact=True).first.wait_for(timeout=60_000)
    wait_for(
        lambda: page.evaluate(
            "() => { let n = 0; const walk = (root) => root.querySelectorAll('*').forEach("
            "(el) => { if (el.tagName === 'IMG' && el.naturalWidth > 0) n++;"
            " if (el.shadowRoot) walk(el.shadowRoot); }); walk(document); return n; }"
        ),
        timeout=60,
    )

    # both Flowscope tabs
    race_frame = open_plugin_tab(page, board, "optimizer_race", "Optimizer Race")
    option = race_frame.locator("option", has_text="race-linear_regression").first
    option.wait_for(state="attached", timeout=60_000)
    option.locator("xpath=..").select_option(value=option.get_attribute("value"))
    race_frame.get_by_text("SGD (lesson)").first.wait_for(timeout=60_000)
    confusion_frame = open_plugin_tab(page, board, "position_confusion", "Confusion")
    wait_for(lambda: confusion_frame.locator("svg rect").count() >= 100, timeout=60)
    runs = confusion_frame.locator("option").all_text_contents()
    assert any(text.startswith("softmax") for text in runs)
    assert any(text.startswith("captcha") for text in runs)
    assert not [e for e in page.errors if "favicon" not in e], page.errors

    assert tour.stop() == 0  # Ctrl-C: TensorBoard stops, and the tour with it
    assert tour.stdout.rstrip().endswith("TensorBoard stopped.")


def test_tour_speaks_chinese_with_lang_zh(tmp_path, monkeypatch, capsys):
    """`--lang zh`: the tour's progress and closing guide in Chinese (in-process: one stop)."""
    from demo_models import tour

    for key, value in tour_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    logdir = tmp_path / "runs"
    assert (
        tour.main(["--no-serve", "--only", "linear", "--logdir", str(logdir), "--lang", "zh"]) == 0
    )
    out = capsys.readouterr().out
    zh = tour.MESSAGES["zh"]
    assert f"[1/1] linear -> {logdir / 'linear'}: {notes.note('linear').title_zh}" in out
    assert zh["finished"].split("{")[0] in out
    assert re.search(r"^  linear +[\d.]+ 秒  成功 +Scalars train/k", out, re.M)  # the table
    assert zh["notes"].format(tag=notes.TAG) in out
    assert zh["serve_later"].format(logdir=logdir) in out
    english = [m.split("{")[0] for m in tour.MESSAGES["en"].values() if len(m.split("{")[0]) > 6]
    assert not [m for m in english if m in out], "English left in the Chinese tour"
    assert set(tour.MESSAGES["en"]) == set(zh)
    # the demo's own guide, in either language: the table replaces it
    assert not [lang for lang, head in notes.HEADS.items() if head["where_tb"] in out]


def test_a_failed_stop_is_one_line_and_the_exit_status_served_or_not(tmp_path, monkeypatch, capsys):
    """The other stops still run; the failed one is a line of its own on stderr; the exit
    status is 1 with --no-serve, and after Ctrl-C when the tour serves (in-process: the
    stops' work stands in)."""
    from demo_models import tour

    for key, value in tour_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FLOWSCOPE_DEBUG", raising=False)
    ran: list[str] = []

    def run_stop(stop, run, tiny):
        ran.append(stop.name)
        if stop.name == "nonlinear":
            raise ValueError("the lesson broke")

    served: list[int] = []
    monkeypatch.setattr(tour, "_run_stop", run_stop)
    monkeypatch.setattr(tour, "serve", lambda *args: served.append(args[-1]) or args[-1])
    argv = ["--only", "linear", "nonlinear", "softmax", "--logdir", str(tmp_path / "runs")]
    assert tour.main(["--no-serve", *argv]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "nonlinear: error: ValueError: the lesson broke" in err
    assert err[-1] == "flowscope tour: 1 demo(s) failed: nonlinear"
    assert ran == ["linear", "nonlinear", "softmax"]
    assert tour.main(argv) == 1 and served == [1]  # what the tour exits with after Ctrl-C
    ran.clear()
    assert tour.main(["--only", "linear", "--logdir", str(tmp_path / "runs")]) == 0
    assert served == [1, 0]


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--only", "nope"], {}, "invalid choice: 'nope'"),
        (["--lang", "fr"], {}, "--lang must be one of en, zh, got 'fr'"),
        (["--no-serve"], {"FLOWSCOPE_TOUR_TINY": "yes"}, "FLOWSCOPE_TOUR_TINY must be 0 or 1"),
        (["--logdir", "{blocker}/runs"], {}, "not writable"),
    ],
)
def test_tour_errors_are_one_line(tmp_path, args, env, message):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    argv = [arg.format(blocker=blocker) for arg in args]
    result = subprocess.run(
        flowscope("tour", *argv),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
