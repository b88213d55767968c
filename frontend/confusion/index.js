// Per-position Confusion page (TensorBoard calls render() inside the plugin iframe).
import { el, getJSON, loadStyles, message } from "./static/common/dom.js";

export async function render() {
  loadStyles();
  const page = el("div", { class: "fs-page", id: "confusion-page" }, el("h1", { text: "Confusion" }));
  const body = el("div", { id: "confusion-body" });
  page.append(body);
  document.body.append(page);
  try {
    const { runs } = await getJSON("runs");
    if (!runs.length) return message(body, "No confusion summaries in this logdir yet.");
    body.replaceChildren(
      el("ul", {}, runs.flatMap((run) => run.tags.map((t) =>
        el("li", { class: "confusion-series", text: `${run.run} / ${t.tag}: ${t.positions.length} positions x ${t.classes.length} classes` })))),
    );
  } catch (err) {
    message(body, `Could not load runs: ${err.message}`, "error");
  }
}
