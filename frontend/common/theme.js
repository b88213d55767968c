// Light or dark, as TensorBoard shows it: the plugin page lives in a same-origin iframe, so
// it follows the `dark-mode` class of TensorBoard's <body>; opened on its own, it follows the
// system's prefers-color-scheme. The choice is <html data-theme="light|dark">; the colours
// are CSS variables in common/style.css.

/** The theme TensorBoard (or, standalone, the system) shows now: "light" or "dark". */
export function currentTheme() {
  const body = parentBody();
  if (body) return body.classList.contains("dark-mode") ? "dark" : "light";
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function parentBody() {
  try {
    return window.parent !== window ? window.parent.document.body : null;
  } catch {
    return null; // another origin (a proxy that splits them): use the system's choice
  }
}

/** Keep <html data-theme> in step with TensorBoard's theme; `onChange(theme)` after each change
 * (canvas and SVG colours that are not CSS can be redrawn there). */
export function followTheme(onChange = () => {}) {
  const root = document.documentElement;
  const apply = () => {
    const theme = currentTheme();
    if (root.dataset.theme === theme) return;
    root.dataset.theme = theme;
    root.style.colorScheme = theme; // native controls and scroll bars follow
    onChange(theme);
  };
  apply();
  const body = parentBody();
  if (body) new MutationObserver(apply).observe(body, { attributes: true, attributeFilter: ["class"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
}
