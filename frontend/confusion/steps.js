// Step control of the Confusion page: the slider, the play button and the step label.
import { el } from "../common/dom.js";
import { fmtInteger, t } from "../common/i18n.js";

const PLAY_MS = 700;

/** The slider over a series' step indices and the play / pause button. */
export class StepControl {
  /** @param {(index:number) => void} onChange called when the user or play moves the step */
  constructor(onChange) {
    this.onChange = onChange;
    // whether step index i can be shown now (a paged series fetches it when asked): play
    // waits on a step that is not, rather than skipping it
    this.ready = () => true;
    this.index = 0;
    this.count = 0;
    this.timer = null;
    this.play = el("button", { type: "button", id: "cm-play", class: "fs-icon-button",
      "aria-label": t("confusion.steps.play"), title: t("confusion.steps.playTitle"),
      onclick: () => this.toggle(), text: "▶" });
    this.slider = el("input", { type: "range", id: "cm-step", min: 0, max: 0, value: 0,
      "aria-label": t("confusion.steps.step"), oninput: () => this.set(Number(this.slider.value)) });
    this.label = el("span", { id: "cm-step-label", class: "cm-step-label" });
    this.node = el("div", { class: "cm-stepbar" }, this.play, this.slider, this.label);
  }

  get playing() {
    return this.timer !== null;
  }

  get atEnd() {
    return this.index === this.count - 1;
  }

  /** A series of `count` steps shown at `index` (clamped); does not call onChange. */
  configure(count, index) {
    this.count = count;
    this.index = Math.max(0, Math.min(count - 1, index));
    this.slider.max = String(Math.max(0, count - 1));
    this.slider.value = String(this.index);
    this.slider.disabled = count < 2;
    this.play.disabled = count < 2;
  }

  /** Move to step `index` (clamped) and tell the page. */
  set(index) {
    if (!this.count) return;
    this.index = Math.max(0, Math.min(this.count - 1, index));
    this.slider.value = String(this.index);
    this.onChange(this.index);
  }

  toggle() {
    if (this.timer) return this.stop();
    if (this.count < 2) return;
    if (this.index >= this.count - 1) this.set(0);
    this.play.textContent = "❚❚";
    this.play.setAttribute("aria-label", t("confusion.steps.pause"));
    this.play.classList.add("fs-active");
    this.timer = setInterval(() => {
      if (this.index >= this.count - 1) return this.stop();
      if (!this.ready(this.index + 1)) return;
      this.set(this.index + 1);
    }, PLAY_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = "▶";
    this.play.setAttribute("aria-label", t("confusion.steps.play"));
    this.play.classList.remove("fs-active");
  }

  /** Label: the step shown, its place among the steps kept, and B's nearest step. */
  describe(data, cmp) {
    const params = { step: fmtInteger(data.steps[this.index]), n: fmtInteger(this.index + 1),
      count: fmtInteger(data.steps.length), total: fmtInteger(data.total_steps) };
    let text = data.downsampled ? t("confusion.steps.labelThinned", params) : t("confusion.steps.label", params);
    if (cmp) text += t("confusion.steps.b", { step: fmtInteger(cmp.data.steps[cmp.index]) });
    this.label.textContent = text;
  }
}
