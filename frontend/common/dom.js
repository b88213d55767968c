// Shared helpers for the Flowscope pages. Every string from the logs goes through
// textContent (never innerHTML), so run, tag and class names always show as text.

/** Create an element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set an element's text; true when it changed (the same words again touch nothing, so a
 * redraw repaints only what it changes). */
export function setText(node, text) {
  if (node.textContent === text) return false;
  node.textContent = text;
  return true;
}

/** Create an SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

/** A failed request: `kind` is "network" (no answer), "server" (5xx or not JSON), "notFound"
 * (404) or "refused" (another 4xx); `detail` is the server's own message (English), if any.
 * common/i18n.js errorText() says it in the page's language, with what to do. */
export class RequestError extends Error {
  constructor(route, kind, status = null, detail = "") {
    super(`${route}: ${detail || (status ? `HTTP ${status}` : kind)}`);
    Object.assign(this, { route, kind, status, detail });
  }
}

/** GET a plugin route (relative URL, so --path_prefix and proxies work) as JSON; `init` goes
 * to fetch (e.g. an AbortController's `signal`). Failures throw a RequestError. */
export async function getJSON(route, params = {}, init = {}) {
  const query = new URLSearchParams(params).toString();
  let response;
  try {
    response = await fetch(query ? `${route}?${query}` : route, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new RequestError(route, "network");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new RequestError(route, "server", response.status);
  }
  if (!response.ok) {
    const detail = body && typeof body.error === "string" ? body.error : "";
    const kind = response.status >= 500 ? "server" : response.status === 404 ? "notFound" : "refused";
    throw new RequestError(route, kind, response.status, detail);
  }
  return body;
}

/** Load the shared stylesheet plus the page's own, once. */
export function loadStyles(...names) {
  for (const name of ["common/style.css", ...names]) {
    const href = `static/${name}`;
    if (!document.querySelector(`link[href="${href}"]`)) {
      document.head.append(el("link", { rel: "stylesheet", href }));
    }
  }
}

/** Show a message in a container (errors and empty states). */
export function message(container, text, kind = "info") {
  container.replaceChildren(el("div", { class: `fs-message fs-${kind}`, text }));
}

/** The width of `element`'s content box (its client width less its padding), in px. */
export function contentWidth(element) {
  const style = getComputedStyle(element);
  return element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

/**
 * Call `callback` after `element`'s box changes size, at most once per animation frame and
 * outside the ResizeObserver's own callback (a callback that changes the box again, e.g. a
 * chart's height following its width, so starts no "ResizeObserver loop"). Returns a
 * function that stops it.
 */
export function onResize(element, callback) {
  let frame = 0;
  const observer = new ResizeObserver(() => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      callback();
    });
  });
  observer.observe(element);
  return () => {
    observer.disconnect();
    cancelAnimationFrame(frame);
    frame = 0;
  };
}

/**
 * Give the page the keyboard focus whenever it is shown: when TensorBoard's tab is clicked
 * the focus stays on the tab in TensorBoard's own document, so the page's keys (Space to
 * play, ...) would do nothing until a click inside. The page's iframe is shown when its tab
 * is activated: `root` then starts to intersect the viewport. A control inside the page that
 * already has the focus keeps it.
 */
export function focusWhenShown(root) {
  root.tabIndex = -1; // focusable from script, not a tab stop
  const focus = () => {
    const active = document.activeElement;
    if (document.hasFocus() && active && active !== document.body && active !== root) return;
    window.focus();
    root.focus({ preventScroll: true });
  };
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) focus();
  }).observe(root);
}
