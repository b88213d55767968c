// The pages' language. Every label, tooltip, message and number format a page shows comes
// from one string table per language (frontend/i18n/<language>.js); the page calls t(key)
// and the number formatters below, never a literal.
//
// Choice: the language the user picked with the switch (remembered in localStorage), else
// the first of the browser's preferred languages that has a table, else English.
// "en-XA" is a pseudo-language for layout checks: English stretched by about 40 % with
// accented letters, so a label that overflows or was never translated is easy to spot.
import en from "../i18n/en.js";
import zh from "../i18n/zh.js";

export const LANGUAGES = {
  en: { name: "English", locale: "en-US", table: en },
  zh: { name: "中文", locale: "zh-CN", table: zh },
};
export const PSEUDO = "en-XA";
const STORAGE_KEY = "flowscope.lang";

function stored() {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage blocked (private mode, sandboxed frame): fall back to the browser
  }
}

/** The language code for a list of browser preferences ("zh-CN", "en-GB", ...). */
export function pickLanguage(preferences) {
  for (const pref of preferences || []) {
    const code = String(pref).toLowerCase();
    if (code === PSEUDO.toLowerCase()) return PSEUDO;
    const base = code.split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

let current = null;

/** The language the page shows ("en", "zh" or the pseudo-language). */
export function language() {
  if (current === null) {
    const choice = stored();
    current = choice && (choice in LANGUAGES || choice === PSEUDO) ? choice : pickLanguage(navigator.languages);
    document.documentElement.lang = current === PSEUDO ? "en" : LANGUAGES[current].locale;
  }
  return current;
}

/** Remember a language and show the page in it (the page's own state survives reloads). */
export function setLanguage(code) {
  if (!(code in LANGUAGES) && code !== PSEUDO) throw new Error(`unknown language ${code}`);
  try {
    window.localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not remembered, but still shown
  }
  current = null;
  window.location.reload();
}

function locale() {
  const code = language();
  return code === PSEUDO ? "en-US" : LANGUAGES[code].locale;
}

const ACCENTED = { a: "á", e: "é", i: "í", o: "ö", u: "ü", A: "Á", E: "É", I: "Í", O: "Ö", U: "Ü", c: "ç", n: "ñ", s: "š", y: "ý" };

/** English stretched by ~40 % and accented; {placeholders} are kept as they are. */
export function pseudo(text) {
  const parts = text.split(/(\{\w+\})/);
  const body = parts.map((part) => (/^\{\w+\}$/.test(part) ? part : part.replace(/[a-zA-Z]/g, (ch) => ACCENTED[ch] || ch))).join("");
  const padding = "~".repeat(Math.ceil(text.length * 0.4));
  return `⟦${body}${padding}⟧`;
}

function lookup(table, key) {
  let node = table;
  for (const part of key.split(".")) {
    if (node === null || typeof node !== "object" || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

const pluralRules = new Map();
function plural(entry, count) {
  const loc = locale();
  if (!pluralRules.has(loc)) pluralRules.set(loc, new Intl.PluralRules(loc));
  return entry[pluralRules.get(loc).select(count)] ?? entry.other;
}

/**
 * The text for `key` ("race.play") in the page's language, with {name} placeholders filled
 * from `params`. An entry may be {one, other}: `params.count` picks the plural form.
 */
export function t(key, params = {}) {
  const code = language();
  const table = code === PSEUDO ? en : LANGUAGES[code].table;
  let entry = lookup(table, key);
  if (entry === undefined) {
    console.warn(`flowscope: no "${key}" in the ${code} strings`);
    entry = lookup(en, key);
    if (entry === undefined) return key;
  }
  if (typeof entry === "object") entry = plural(entry, Number(params.count));
  const text = code === PSEUDO ? pseudo(entry) : entry;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

/** Whether the page's language (or English) has a text for `key`: for keys computed from
 * names in the logs (a library surface's translation), which may be unknown to the page. */
export function hasText(key) {
  const code = language();
  const table = code === PSEUDO ? en : LANGUAGES[code].table;
  return typeof lookup(table, key) === "string" || typeof lookup(en, key) === "string";
}

const formatters = new Map();
function formatter(options) {
  const id = `${locale()}|${JSON.stringify(options)}`;
  if (!formatters.has(id)) formatters.set(id, new Intl.NumberFormat(locale(), options));
  return formatters.get(id);
}

/** A number with at most `digits` significant digits, in the page's locale. */
export function fmtNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return t("common.none");
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e6)) {
    return formatter({ notation: "scientific", maximumSignificantDigits: digits }).format(value);
  }
  return formatter({ maximumSignificantDigits: digits }).format(value);
}

/** A whole number (counts, steps) with the locale's grouping. */
export function fmtInteger(value) {
  return formatter({ maximumFractionDigits: 0 }).format(value);
}

/** A fraction (0.905) as a percentage ("90.5 %" or the locale's form). */
export function fmtPercent(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return t("common.none");
  return formatter({ style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** The visible language switch: a labelled <select>; picking a language remembers it. */
export function languageSwitch(el) {
  const select = el("select", { class: "fs-language", "aria-label": t("common.language"), onchange: () => setLanguage(select.value) },
    Object.entries(LANGUAGES).map(([code, { name }]) => el("option", { value: code, selected: code === language(), text: name })));
  return el("label", { class: "fs-language-label", title: t("common.languageTitle") }, select);
}

/** What went wrong with a request and what to do, in the page's language (a RequestError of
 * common/dom.js; anything else shows its message). */
export function errorText(err) {
  const detail = err?.detail || t("common.none");
  switch (err?.kind) {
    case "network":
      return t("common.error.network");
    case "server":
      return t("common.error.server", { status: err.status ?? "?" });
    case "notFound":
      return t("common.error.notFound", { detail });
    case "refused":
      return t("common.error.refused", { detail });
    default:
      return String(err?.message ?? err);
  }
}
