"""The README and the manual in docs/ say only what the code does.

Claims that can drift are checked here: the commands shown parse with the real
`flowscope` parsers, quoted defaults match the code, links and file paths exist, module
paths import, and the README stays a short front door showing the command CI runs.
(Routes named in the docs are checked in test_http_api_docs.py, beside the route docs.)
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 200

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.M)
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*|\.\.\.)$")  # NAME, MODEL, COMMAND, S, ...
PACKAGES = ("summaries", "tb_plugin", "demo_models")
MODULE_PATH = re.compile(r"^((?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+)")
REPO_PATH = re.compile(r"^(?:summaries|tb_plugin|demo_models|frontend|tests|docs|\.ci)/[\w./*-]*$")


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def prose(page_text: str) -> str:
    """The page without its fenced code blocks."""
    return FENCE.sub("", page_text)


def code_spans(page_text: str) -> list[str]:
    return CODE_SPAN.findall(prose(page_text))


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


# ---------------------------------------------------------------------------------------
# the README is a front door


def test_readme_is_at_most_200_lines():
    lines = text(README).count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_readme_shows_the_test_command_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "pytest" in line
    ]
    assert len(commands) == 1, f".ci/run should run one pytest command, found {commands}"
    shown = [line.strip() for block in FENCE.findall(text(README)) for line in block.splitlines()]
    assert commands[0] in shown, f"README.md must show CI's test command {commands[0]!r}"


def test_readme_links_every_manual_page():
    linked = {m.split("#")[0] for m in LINK.findall(text(README))}
    missing = [rel(p) for p in DOCS if rel(p) not in linked]
    assert not missing, f"README.md does not link {missing}"


# ---------------------------------------------------------------------------------------
# links, file paths and module paths


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    plain = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(prose(text(page)))}


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(text(page))):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_points_to_an_existing_file_and_heading(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_repository_path_in_backticks_exists(page):
    missing = [
        span
        for span in code_spans(text(page))
        if REPO_PATH.match(span) and not list(ROOT.glob(span.rstrip("/")))
    ]
    assert missing == []


def resolve(dotted: str) -> Any:
    """Import the longest importable module prefix of `dotted`, then get the attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and ".".join(parts[:cut]).startswith(exc.name):
                continue  # that prefix is not a module: try a shorter one
            raise
        for name in parts[cut:]:
            value = getattr(value, name)
        return value
    raise ModuleNotFoundError(dotted)


def module_paths(page: Path) -> set[str]:
    found = set()
    for span in code_spans(text(page)):
        match = MODULE_PATH.match(span)
        if match:
            found.add(match.group(1))
    return found


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_module_path_in_backticks_imports(page):
    failed = []
    for dotted in sorted(module_paths(page)):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as exc:
            failed.append(f"{dotted}: {type(exc).__name__}: {exc}")
    assert failed == []


# ---------------------------------------------------------------------------------------
# every `flowscope ...` command shown parses with the real parsers


class Parsed(BaseException):
    """Raised instead of running a command once its options have parsed."""


def shown_commands(page_text: str) -> list[str]:
    """`flowscope ...` commands in code blocks and code spans (comments and `&&` split)."""
    candidates = []
    for block in FENCE.findall(page_text):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            candidates.extend(part.strip() for part in line.split("&&"))
    candidates.extend(code_spans(page_text))
    commands = []
    for candidate in candidates:
        words = candidate.split()
        if len(words) > 1 and words[0].split("/")[-1] == "flowscope":  # not the bare name
            commands.append(" ".join(["flowscope", *words[1:]]))
    return commands


def cli_argv(command: str) -> list[str]:
    """argv for the CLI; a command with a placeholder (NAME, MODEL) asks for help up to it."""
    argv = shlex.split(command)[1:]
    for i, word in enumerate(argv):
        if PLACEHOLDER.match(word):
            return [*argv[:i], "--help"]
    return argv


def parse_with_real_cli(argv: list[str], monkeypatch) -> int:
    """0 if `flowscope argv` parses (the command is not run), else the parser's exit status."""
    from demo_models import cli

    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        try:
            cli.main(argv)
        except Parsed:
            return 0
        except SystemExit as exc:  # --help exits 0, a usage error 2
            return exc.code if isinstance(exc.code, int) else 1
    raise AssertionError(f"flowscope {' '.join(argv)} ran without parsing its options")


ALL_COMMANDS = sorted({c for page in PAGES for c in shown_commands(text(page))})


def test_the_docs_show_commands():
    assert len(ALL_COMMANDS) >= 15, ALL_COMMANDS  # the extractor still finds them


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_shown_parses(command, monkeypatch, capsys):
    status = parse_with_real_cli(cli_argv(command), monkeypatch)
    assert status == 0, f"`{command}` does not parse: {capsys.readouterr().err.strip()}"


def test_a_wrong_command_fails_the_check(monkeypatch, capsys):
    assert parse_with_real_cli(["race", "--no-such-option"], monkeypatch) == 2
    assert parse_with_real_cli(["demo", "no-such-demo"], monkeypatch) == 2
    assert parse_with_real_cli(["race", "--xla", "sometimes"], monkeypatch) == 2


# ---------------------------------------------------------------------------------------
# defaults quoted in the docs match the code


def js_constant(folder: str, name: str) -> float:
    """The value of `const NAME = number` in frontend/<folder>/*.js (defined once)."""
    pattern = re.compile(rf"\bconst\s+{name}\s*=\s*([\d_.]+)\s*;")
    values = [
        float(m.group(1).replace("_", ""))
        for path in sorted((ROOT / "frontend" / folder).glob("*.js"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert len(values) == 1, f"{name} is defined {len(values)} times in frontend/{folder}"
    return values[0]


def confused_pairs_asked() -> float:
    """The `top` the Confusion page asks /matrix for (its "Most confused" list)."""
    pattern = re.compile(r"getJSON\(\s*\"matrix\"[^)]*\btop:\s*(\w+)")
    values = [
        float(m.group(1)) if m.group(1).isdigit() else js_constant("confusion", m.group(1))
        for path in sorted((ROOT / "frontend" / "confusion").glob("*.js"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert len(set(values)) == 1, f"the page asks /matrix for top = {values}"
    return values[0]


def attr(dotted: str) -> Callable[[], Any]:
    return lambda: resolve(dotted)


def optimizer_lr(name: str) -> Callable[[], float]:
    return lambda: resolve("summaries.race.OPTIMIZERS")[name].defaults["learning_rate"]


# (page, a regex whose groups hold the quoted values, the code's values in the same order)
CLAIMS: list[tuple[str, str, Callable[[], Any]]] = [
    (
        "docs/confusion.md",
        r"checks for new steps and new runs every (\d+) s",
        lambda: js_constant("confusion", "POLL_MS") / 1000,
    ),
    (
        "docs/confusion.md",
        r"printed in the cells up to (\d+) x \d+ classes",
        lambda: js_constant("confusion", "MAX_PRINTED_K"),
    ),
    ("docs/confusion.md", r"the \*\*top (\d+) confused pairs\*\*", confused_pairs_asked),
    (
        "docs/confusion.md",
        r"the largest cells, up to (\d+) px,[^.]*never smaller than (\d+) px",
        lambda: (js_constant("confusion", "FIT_MAX"), js_constant("confusion", "FIT_MIN")),
    ),
    (
        "docs/confusion.md",
        r"server\s+keeps TensorBoard's listings for (\d+) s",
        attr("tb_plugin.data.LISTING_TTL_S"),
    ),
    (
        "docs/architecture.md",
        r"provider listings are kept for (\d+) s",
        attr("tb_plugin.data.LISTING_TTL_S"),
    ),
    (
        "docs/race.md",
        r"looks for new races and new steps every (\d+) s",
        lambda: js_constant("race", "POLL_MS") / 1000,
    ),
    (
        "docs/race.md",
        r"At 1x a whole race plays in\s+(\d+) s",
        lambda: js_constant("race", "RACE_SECONDS"),
    ),
    (
        "docs/race.md",
        r"downsamples every path to at most (\d+) rows",
        lambda: js_constant("race", "POINTS"),
    ),
    ("docs/race.md", r"# everything, (\d+) steps", attr("demo_models.race.cli.DEFAULT_STEPS")),
    ("docs/race.md", r"surfaces for (\d+) steps", attr("demo_models.race.cli.DEFAULT_STEPS")),
    (
        "docs/race.md",
        r"every one of the (\d+) optimizers races\s+on each of the (\d+) surfaces",
        lambda: tuple(len(resolve(f"summaries.race.{n}")) for n in ("OPTIMIZERS", "SURFACES")),
    ),
    (
        "docs/race.md",
        r"\(`--trials`, default\s+(\d+)\)",
        attr("summaries.race.tuning.DEFAULT_TRIALS"),
    ),
    (
        "docs/race.md",
        r"log-uniform\s+\[([\d.e-]+), ([\d.]+)\]",
        attr("summaries.race.tuning.LEARNING_RATE"),
    ),
    (
        "docs/race.md",
        r"one momentum per trial from \[([\d.]+), ([\d.]+)\]",
        attr("summaries.race.tuning.MOMENTUM"),
    ),
    ("docs/race.md", r"uses it from (\d+) steps", attr("summaries.race.engine.XLA_MIN_STEPS")),
    (
        "docs/race.md",
        r"Adam ([\d.]+), Adagrad ([\d.]+), SGD ([\d.]+);",
        lambda: (optimizer_lr("adam")(), optimizer_lr("adagrad")(), optimizer_lr("sgd")()),
    ),
    (
        "docs/race.md",
        r"on a (\d+) × \d+\s+grid, (\d+) × \d+ for `nn_plane`",
        lambda: (resolve("demo_models.race.cli.GRID"), resolve("demo_models.race.cli.GRID_MODEL")),
    ),
    (
        "docs/race.md",
        r"SGD uses the notes'\s+([\d.]+) on the linear regression",
        lambda: resolve("summaries.race.SURFACES")["linear_regression"].defaults["sgd"][
            "learning_rate"
        ],
    ),
    (
        "docs/callback.md",
        r"in chunks of ([\d,]+) rows",
        attr("summaries.race.summary.DEFAULT_CHUNK"),
    ),
    (
        "docs/lessons.md",
        r"gradient descent \(learning rate ([\d.]+), ([\d,]+) steps\)",
        lambda: (resolve("demo_models.linear.LEARNING_RATE"), resolve("demo_models.linear.STEPS")),
    ),
    (
        "docs/lessons.md",
        r"y = x² \+ noise \(learning rate ([\d.]+), ([\d,]+) steps\)",
        lambda: (
            resolve("demo_models.nonlinear.LEARNING_RATE"),
            resolve("demo_models.nonlinear.STEPS"),
        ),
    ),
    (
        "docs/lessons.md",
        r"Adam and sparse softmax cross entropy, for ([\d,]+) steps, printing training\s+"
        r"accuracy every (\d+) steps and test accuracy every ([\d,]+)",
        lambda: tuple(
            resolve(f"demo_models.catsdogs.train.{name}")
            for name in ("TRAINING_STEPS", "LOG_EVERY", "TEST_EVERY")
        ),
    ),
    (
        "docs/lessons.md",
        r"`--quick` is (\d+) steps of\s+(\d+) images at (\d+) x \d+ \(test every (\d+), "
        r"log every (\d+)\)",
        lambda: tuple(
            resolve("demo_models.catsdogs.train.QUICK")[key]
            for key in ("steps", "batch_size", "image_size", "test_every", "log_every")
        ),
    ),
    (
        "docs/lessons.md",
        r"gradient descent \(learning rate ([\d.]+), ([\d,]+) steps; (\d+) with `--quick`\)",
        lambda: tuple(
            resolve(f"demo_models.transfer.main.{name}")
            for name in ("LEARNING_RATE", "STEPS", "QUICK_STEPS")
        ),
    ),
    (
        "docs/lessons.md",
        r"`layer1` \((\d+)\s+units\) and `layer2` \((\d+)\)",
        attr("demo_models.transfer.head.LAYERS"),
    ),
    (
        "docs/lessons.md",
        r"multitask --quick +# (\d+) steps per run\n.*multitask +# the lesson: ([\d,]+) steps",
        lambda: tuple(
            resolve(f"demo_models.captcha.multitask.{name}") for name in ("QUICK_STEPS", "STEPS")
        ),
    ),
]


def claim_values(page: str, pattern: str) -> tuple[float, ...]:
    match = re.search(pattern, text(ROOT / page))
    assert match, f"{page} no longer says /{pattern}/: update the claim in tests/test_docs.py"
    return tuple(float(g.replace(",", "")) for g in match.groups())


def code_values(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in (value if isinstance(value, tuple | list) else (value,)))


@pytest.mark.parametrize(("page", "pattern", "code"), CLAIMS, ids=[c[1][:40] for c in CLAIMS])
def test_quoted_default_matches_the_code(page, pattern, code):
    assert claim_values(page, pattern) == code_values(code()), f"{page}: /{pattern}/"


def table_rows(page_text: str, header: str) -> list[list[str]]:
    """Cells of the markdown table whose header row starts with `header`."""
    lines = page_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def literal(cell: str) -> Any:
    return ast.literal_eval(cell.strip("`"))


def test_callback_arguments_table_matches_the_signature():
    from summaries import SummaryCallback

    parameters = inspect.signature(SummaryCallback.__init__).parameters
    rows = table_rows(text(ROOT / "docs/callback.md"), "| argument | default |")
    documented = {row[0].strip("`"): row[1] for row in rows}
    code = {name: p for name, p in parameters.items() if name != "self"}
    assert set(documented) == set(code), "docs/callback.md's argument table != the signature"
    for name, default in documented.items():
        if code[name].default is inspect.Parameter.empty:
            assert default == "(required)", name
        else:
            assert literal(default) == code[name].default, name


SIGNATURE = re.compile(r"^`(\w+)\((.*)\)`$")


def test_helper_signatures_in_the_docs_match_the_code():
    import summaries

    rows = table_rows(text(ROOT / "docs/callback.md"), "| function | writes |")
    checked = 0
    for row in rows:
        match = SIGNATURE.match(row[0])
        assert match, f"not a signature: {row[0]}"
        function = getattr(summaries, match.group(1))
        parameters = inspect.signature(function).parameters
        open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        listed = {item.strip().partition("=")[0] for item in match.group(2).split(",")}
        if "..." not in listed:  # a complete signature lists every parameter
            assert set(parameters) <= listed, f"{match.group(1)}: {set(parameters) - listed}"
        for item in match.group(2).split(","):
            item = item.strip()
            if item in ("*", "...", ""):
                continue
            name, _, default = item.partition("=")
            assert name in parameters or open_ended, f"{match.group(1)} has no parameter {name}"
            if name not in parameters:
                continue
            if default:
                assert literal(default) == parameters[name].default, f"{match.group(1)}({name})"
                checked += 1
    assert checked >= 10


def test_dependency_table_matches_setup_py():
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    install = setup[setup.index("install_requires") : setup.index("extras_require")]
    required = dict(re.findall(r'"([\w-]+)>=([\d.]+)"', install))
    rows = table_rows(text(ROOT / "docs/architecture.md"), "| package | lower bound |")
    documented = {row[0]: row[1] for row in rows}
    assert documented == required


# ---------------------------------------------------------------------------------------
# the checks above catch a wrong claim


def test_the_checks_fail_on_wrong_claims(tmp_path, monkeypatch):
    wrong = tmp_path / "wrong.md"
    wrong.write_text(
        "[gone](no-such-file.md) [anchor](wrong.md#no-such-heading)\n"
        "`summaries.no_such_module` `demo_models/no_such_file.py`\n"
        "The page checks for new steps and new runs every 10 s.\n",
        encoding="utf-8",
    )
    assert len(broken_links(wrong)) == 2
    with pytest.raises((ImportError, AttributeError)):
        resolve(next(iter(module_paths(wrong))))
    assert not list(ROOT.glob("demo_models/no_such_file.py"))
    poll = re.search(CLAIMS[0][1], text(wrong))
    assert float(poll.group(1)) != code_values(CLAIMS[0][2]())[0]


def test_layer_contracts_in_the_docs_match_pyproject():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    page = text(ROOT / "docs/architecture.md")
    match = re.search(r"`layers`\s+\(((?:`\w+`(?: > )?)+)", page)
    assert match, "docs/architecture.md no longer names the layers contract's order"
    assert re.findall(r"`(\w+)`", match.group(1)) == contracts["layers"]["layers"]
    for contract_id in contracts:
        assert f"`{contract_id}`" in page, f"docs/architecture.md does not name {contract_id}"
