// Optimizer Race page (TensorBoard calls render() inside the plugin iframe).
import { el, getJSON, loadStyles, message } from "./static/common/dom.js";

export async function render() {
  loadStyles();
  const page = el("div", { class: "fs-page", id: "race-page" }, el("h1", { text: "Optimizer Race" }));
  const body = el("div", { id: "race-body" });
  page.append(body);
  document.body.append(page);
  try {
    const { races } = await getJSON("races");
    if (!races.length) return message(body, "No optimizer races in this logdir yet.");
    body.replaceChildren(
      ...races.map((race) =>
        el("section", { class: "race" },
          el("h2", { text: `${race.race} (${race.surface ?? "unknown surface"})` }),
          el("ul", {}, race.racers.map((r) => el("li", { class: "racer", text: `${r.optimizer} ${JSON.stringify(r.hyperparameters)}` })))),
      ),
    );
  } catch (err) {
    message(body, `Could not load races: ${err.message}`, "error");
  }
}
