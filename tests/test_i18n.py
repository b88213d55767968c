"""The pages' string tables (frontend/i18n/<language>.js) and the i18n module.

Every key the frontend asks for must be in every table, every table must have the same keys
with the same placeholders, and no table may keep a string nothing asks for. The module's
language choice, placeholders, plurals and number formats are checked in real Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_confusion_normalise_js import frontend_url  # noqa: F401  (fixture)

import frontend

ROOT = Path(frontend.ASSET_DIR)
LANGUAGES = ("en", "zh")
# t("race.play"...) and prefixes of computed keys: t(`race.status.${outcome}`...)
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
KEY_PREFIX = re.compile(r"""\bt\(\s*`([A-Za-z0-9_.]+\.)\$\{""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def table(language: str) -> dict:
    """A table file is `export default <JSON>;` so that tools and this test can read it."""
    text = (ROOT / "i18n" / f"{language}.js").read_text(encoding="utf-8").strip()
    assert text.startswith("export default ") and text.endswith(";"), f"{language}.js layout"
    return json.loads(text[len("export default ") : -1])


def flatten(node: dict, prefix: str = "") -> dict[str, object]:
    """{"race": {"play": "Play"}} -> {"race.play": "Play"}; plural entries stay whole."""
    out: dict[str, object] = {}
    for key, value in node.items():
        if isinstance(value, dict) and not set(value) & {"one", "other"}:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def used_keys() -> tuple[set[str], set[str]]:
    """Keys the frontend's modules ask for: literal ones and prefixes of computed ones."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in ROOT.rglob("*.js"):
        if path.parent.name == "i18n":
            continue
        source = path.read_text(encoding="utf-8")
        literal |= set(LITERAL_KEY.findall(source))
        prefixes |= set(KEY_PREFIX.findall(source))
    return literal, prefixes


def placeholders(entry: object) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for name in PLACEHOLDER.findall(str(text))}


def test_every_table_has_the_same_keys_and_placeholders():
    tables = {language: flatten(table(language)) for language in LANGUAGES}
    english = tables["en"]
    for language, strings in tables.items():
        assert set(strings) - set(english) == set(), f"{language} has keys English lacks"
        assert set(english) - set(strings) == set(), f"{language} lacks keys"
        for key, entry in strings.items():
            assert isinstance(entry, str | dict), key
            assert placeholders(entry) == placeholders(english[key]), f"{language} {key}"
            assert str(entry).strip(), f"{language} {key} is empty"


def test_every_key_the_pages_use_is_in_every_table_and_none_is_unused():
    literal, prefixes = used_keys()
    for language in LANGUAGES:
        strings = flatten(table(language))
        missing = {key for key in literal if key not in strings}
        assert missing == set(), f"missing from {language}.js: {sorted(missing)}"
        for prefix in prefixes:
            assert any(key.startswith(prefix) for key in strings), f"{language}: {prefix}*"
    unused = {
        key
        for key in flatten(table("en"))
        if key not in literal and not any(key.startswith(p) for p in prefixes)
    }
    assert unused == set(), f"strings nothing asks for: {sorted(unused)}"


def test_every_library_surface_and_optimizer_has_its_texts_in_every_table():
    """The race page shows the library's surface and optimizer texts from the tables, by the
    names in the logs (where the server says the logged text is the library's own): every
    table has each of them, and English says exactly what the library writes."""
    from summaries.race.optimizers import OPTIMIZERS
    from summaries.race.surfaces import SURFACES

    for language in LANGUAGES:
        library = table(language)["race"]["library"]
        assert set(library["surface"]) == set(SURFACES), language
        assert set(library["optimizer"]) == set(OPTIMIZERS), language
    english = table("en")["race"]["library"]
    for name, surface in SURFACES.items():
        assert english["surface"][name] == {
            "title": surface.title,
            "description": surface.description,
        }
    for name, spec in OPTIMIZERS.items():
        assert english["optimizer"][name] == {"title": spec.title}


def test_the_key_scan_finds_literal_and_computed_keys():
    # The scan the two tests above rely on, on a made-up source.
    source = 't("race.play") + t( \'common.none\', {}) + t(`race.status.${x}`) + at("no.key")'
    assert set(LITERAL_KEY.findall(source)) == {"race.play", "common.none"}
    assert set(KEY_PREFIX.findall(source)) == {"race.status."}


I18N_JS = """
async () => {
  const i18n = await import("/common/i18n.js");
  return {
    zh: i18n.pickLanguage(["zh-CN", "en"]),
    zhTw: i18n.pickLanguage(["de-DE", "zh-TW"]),
    de: i18n.pickLanguage(["de-DE", "fr"]),
    enGb: i18n.pickLanguage(["en-GB", "zh-CN"]),
    pseudo: i18n.pseudo("Step {step} of {count}"),
    language: i18n.language(),
    label: i18n.t("common.language"),
    unknown: i18n.t("common.no_such_key"),
    percent: i18n.fmtPercent(0.905),
    small: i18n.fmtNumber(2.8e-16, 2),
    number: i18n.fmtNumber(1234.5678, 6),
    infinite: i18n.fmtNumber(-Infinity),
    missing: i18n.fmtNumber(null),
    lang: document.documentElement.lang,
  };
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_language_follows_the_browser_and_fills_placeholders(make_page, frontend_url, locale):  # noqa: F811
    page = make_page(locale=locale)
    page.goto(frontend_url + "/", wait_until="domcontentloaded")
    got = page.evaluate(I18N_JS)
    assert (got["zh"], got["zhTw"], got["de"], got["enGb"]) == ("zh", "zh", "en", "en")
    assert "{step}" in got["pseudo"] and "{count}" in got["pseudo"]
    assert len(got["pseudo"]) >= 1.4 * len("Step {step} of {count}")
    assert got["small"] == "2.8E-16" and got["infinite"] == "−∞" and got["missing"] == "—"
    assert got["unknown"] == "common.no_such_key"
    if locale == "zh-CN":
        assert (got["language"], got["lang"]) == ("zh", "zh-CN")
        assert got["label"] == "语言"
    else:
        assert (got["language"], got["lang"]) == ("en", "en-US")
        assert got["label"] == "Language"
        assert got["number"] == "1,234.57" and got["percent"] == "90.5%"
    # the only console output allowed is the warning about the made-up key
    assert page.errors == []


@pytest.mark.browser
def test_the_chosen_language_is_remembered(make_page, frontend_url):  # noqa: F811
    page = make_page(locale="en-US")
    page.goto(frontend_url + "/", wait_until="domcontentloaded")
    with page.expect_navigation():  # picking a language reloads the page in it
        page.evaluate("() => { import('/common/i18n.js').then((i) => i.setLanguage('zh')); }")
    assert page.evaluate("async () => (await import('/common/i18n.js')).language()") == "zh"
    with pytest.raises(Exception, match="unknown language"):
        page.evaluate("async () => (await import('/common/i18n.js')).setLanguage('xx')")
