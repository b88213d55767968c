// What a page remembers across reloads (a language switch reloads too): one JSON object per
// page in localStorage. Storage may be blocked (private mode, a sandboxed frame) or full;
// then the page simply starts fresh and works as before.

/** The object remembered under `key`, or {} when there is none (or it cannot be read). */
export function loadState(key) {
  try {
    const state = JSON.parse(window.localStorage.getItem(key));
    return state && typeof state === "object" ? state : {};
  } catch {
    return {};
  }
}

/** Remember `state` (a JSON-able object) under `key`; silently not remembered when blocked. */
export function saveState(key, state) {
  try {
    window.localStorage.setItem(key, JSON.stringify(state));
  } catch {
    // not remembered (storage blocked or full)
  }
}
