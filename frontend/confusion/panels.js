// The side panels of the Confusion page: accuracy (table and chart over training), the most
// confused pairs, the per-class metrics table and a clicked cell's example images. In compare
// mode each panel shows run B beside run A and the change, coloured by what it means.
import { el, message } from "../common/dom.js";
import { errorText, fmtInteger, t } from "../common/i18n.js";
import { accuracyChart, pooledColour, positionColour, runColour } from "./chart.js";
import { accuracyOf } from "./data.js";
import { change, name, num3, pct, points, signed, verdict } from "./text.js";

const SEQUENCE_COLOUR = "var(--fs-fg)";
const PAIRS_PAGE = 10; // most confused pairs shown at once (the panel pages through the rest)
const CLASS_PAGE = 100; // class table rows shown at once (ImageNet's 1,000 come 100 a page)

/** Cell (tc, pc)'s share of its row (of the true class): normalise(.., "true")'s value for
 * one cell, without normalising a million cells for it. */
function rowShare(counts, k, tc, pc) {
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Number(counts[tc * k + j]);
  return sum > 0 ? Number(counts[tc * k + pc]) / sum : NaN;
}

/** "‹ 1–10 of 50 ›": buttons that page through `count` rows `size` at a time. */
function pager(id, page, size, count, go) {
  if (count <= size) return null;
  const pages = Math.ceil(count / size);
  const from = page * size + 1;
  const to = Math.min(count, (page + 1) * size);
  const button = (which, text, label, to2, disabled) => el("button", { type: "button",
    class: "fs-icon-button", id: `${id}-${which}`, text, title: label, "aria-label": label, disabled,
    onclick: () => go(to2) });
  return el("div", { class: "cm-pager", id },
    button("prev", "‹", t("confusion.pager.prev"), page - 1, page <= 0),
    el("span", { class: "cm-pager-range", id: `${id}-range`,
      text: t("confusion.pager.range", { from: fmtInteger(from), to: fmtInteger(to), count: fmtInteger(count) }) }),
    button("next", "›", t("confusion.pager.next"), page + 1, page >= pages - 1));
}

/** A change of a fraction where more is better (accuracy, precision, ...), in points. */
function gainCell(a, b, digits = 1, scale = 100) {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return t("common.none");
  const d = b - a;
  return change(signed(d, digits, scale), verdict(d, digits, scale));
}

/** Accuracy per position, pooled and whole-sequence at the shown step, and over training;
 * for a single classifier (one position) just its accuracy, as pooling would repeat it. */
export class AccuracyPanel {
  /** @param {(index:number) => void} onPick a step was clicked on the chart */
  constructor(onPick) {
    this.onPick = onPick;
    this.node = el("section", { id: "cm-accuracy", class: "cm-panel" });
    this.chart = null;
  }

  /** Redraw for frame `f` (see maps.js frameAt()). */
  draw(f) {
    const { data, cmp, index: i } = f;
    const seq = data.sequence_accuracy;
    const single = data.positions.length === 1;
    const head = [single ? "" : t("confusion.accuracy.position"), t("confusion.accuracy.accuracy"),
      ...(cmp ? [t("confusion.accuracy.b"), t("confusion.accuracy.change")] : [])];
    const partner = (key) => (cmp ? cmp.pair.partner(key) : undefined);
    const bAcc = (bp) => (bp === undefined ? NaN : accuracyOf(cmp.data, cmp.index, bp));
    // One colour per series everywhere: in compare mode the chart draws run A's pooled (or
    // single) accuracy and A's whole-sequence accuracy in A's colour, so their rows here
    // take that colour too; a position's row keeps its own colour (as on its own chart).
    const runA = runColour("A");
    const rows = data.positions.map((what, p) =>
      accRow(String(p), what, cmp && single ? runA : positionColour(p), accuracyOf(data, i, single ? null : p),
        cmp ? bAcc(partner(String(p))) : null, cmp));
    if (!single) {
      rows.push(accRow("pooled", t("confusion.pooled"), cmp ? runA : pooledColour(data.positions.length),
        data.pooled_accuracy[i], cmp ? bAcc(null) : null, cmp, cmp ? null : "dash"));
    }
    const bSeq = cmp && cmp.data.sequence_accuracy;
    let seqNote = null; // one position: the whole sequence is that position, nothing to explain
    if (seq) {
      rows.push(accRow("sequence", t("confusion.accuracy.sequence"), cmp && bSeq ? runA : SEQUENCE_COLOUR, seq.values[i],
        bSeq ? bSeq.values[cmp.index] : NaN, cmp, "dash"));
      seqNote = t("confusion.accuracy.sequenceTag", { tag: seq.tag });
    } else if (!single) {
      seqNote = t("confusion.accuracy.noSequence");
    }
    const table = el("table", { class: "fs-table cm-acc-table", id: "cm-acc-table" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
    let lines;
    if (cmp) {
      // A against B: all positions pooled (a single classifier: its accuracy), and the whole
      // sequence when both runs log it; each run on its own steps
      lines = [
        { name: t("confusion.chart.run", { which: "A", run: cmp.runA }), colour: runA,
          values: data.pooled_accuracy },
        { name: t("confusion.chart.run", { which: "B", run: cmp.series.run }), colour: runColour("B"),
          dash: "5 3", values: cmp.data.pooled_accuracy, steps: cmp.data.steps },
      ];
      if (seq && bSeq) {
        lines.push({ name: t("confusion.chart.sequence", { which: "A" }), colour: runA,
          dash: "1 2", values: seq.values },
        { name: t("confusion.chart.sequence", { which: "B" }), colour: runColour("B"), dash: "1 2",
          values: bSeq.values, steps: cmp.data.steps });
      }
    } else {
      lines = data.positions.map((what, p) => ({ name: what, colour: positionColour(p),
        values: data.accuracy.map((r) => r[p]) }));
      if (!single) {
        lines.push({ name: t("confusion.chart.pooled"), colour: pooledColour(data.positions.length), dash: "4 3",
          values: data.pooled_accuracy });
      }
      if (seq) {
        lines.push({ name: t("confusion.accuracy.sequence"), colour: SEQUENCE_COLOUR, dash: "1 2",
          values: seq.values });
      }
    }
    this.chart = data.steps.length > 1 || (cmp && cmp.data.steps.length > 1)
      ? accuracyChart({ steps: data.steps, lines, current: i, onPick: this.onPick })
      : null;
    this.node.replaceChildren(
      el("h2", { text: t("confusion.accuracy.title", { step: fmtInteger(data.steps[i]) }) }), table,
      seqNote ? el("p", { class: "cm-note", id: "cm-sequence-note", text: seqNote }) : "",
      this.chart ? this.chart.node : "",
      this.chart && cmp ? el("p", { class: "cm-note", id: "cm-chart-note",
        text: single ? t("confusion.chart.compareSingle") : t("confusion.chart.compareNote") }) : "");
    if (this.chart) this.chart.placeMarker(i);
  }
}

function accRow(key, what, colour, a, b, cmp, dash) {
  const cells = [
    el("td", {}, el("span", { class: dash ? "cm-swatch cm-swatch-dash" : "cm-swatch",
      style: `--swatch:${colour}` }), name(what)),
    el("td", { class: "cm-acc-value", text: pct(a) }),
  ];
  if (cmp) cells.push(el("td", { text: pct(b) }), el("td", { class: "cm-change" }, gainCell(a, b)));
  return el("tr", { class: "cm-acc-row", "data-position": key }, cells);
}

/** The most confused (position, true, predicted) cells of a /matrix answer; in compare mode
 * those of A and of B, with each run's share of the true class and the change. */
export class PairsPanel {
  /** @param {(position:number|null, t:number, p:number) => void} onPick a pair was chosen */
  constructor(onPick) {
    this.onPick = onPick;
    this.node = el("section", { id: "cm-pairs", class: "cm-panel" });
    this.page = 0;
    this.last = null; // show()'s arguments, to turn a page
  }

  /** `m`: A's /matrix answer; with `f` (frame) comparing and `mB` B's answer, the change. */
  draw(m, f = null, mB = null) {
    if (f && f.cmp && mB) return this.drawChange(m, f, mB);
    const single = m.positions.length === 1; // no position column: there is only one
    // Class names are shown in full, wrapped (only names of several lines are cut).
    const rows = m.confused_pairs.map((q) => this.row(q, single ? null : m.positions[q.position],
      m.classes, [el("td", { text: fmtInteger(q.count) }), el("td", { text: pct(q.rate) })]));
    const head = [...(single ? [] : [t("confusion.pairs.position")]), t("confusion.pairs.pair"),
      t("confusion.pairs.count"), t("confusion.pairs.rate")];
    this.show(t("confusion.pairs.title", { step: fmtInteger(m.step) }), head, rows, single);
  }

  drawChange(m, f, mB) {
    const { data, k } = f;
    const single = data.positions.length === 1;
    // pooled pairs when only the pooled counts compare (the runs' positions differ)
    const pooledOnly = !single && f.cmp.pair.kind === "pooled";
    const maps = f.maps.filter((x) => !x.missing && (pooledOnly ? x.p === null : x.p !== null || single));
    const seen = new Map();
    const add = (x, tc, pc) => {
      const id = `${x.key}/${tc}/${pc}`;
      if (seen.has(id)) return;
      const i = tc * k + pc;
      const rateA = rowShare(x.counts, k, tc, pc);
      const rateB = rowShare(x.bCounts, k, tc, pc);
      seen.set(id, { x, t: tc, p: pc, rateA, rateB,
        top: Math.max(Number.isFinite(rateA) ? rateA : 0, Number.isFinite(rateB) ? rateB : 0) });
    };
    const one = single || pooledOnly; // one map compares: A's pooled (or only) counts
    const listA = pooledOnly ? m.pooled_confused_pairs : m.confused_pairs;
    const listB = one && mB.positions.length > 1 ? mB.pooled_confused_pairs : mB.confused_pairs;
    for (const q of listA) {
      const x = one ? maps[0] : maps.find((y) => y.p === q.position);
      if (x) add(x, q.true, q.predicted);
    }
    for (const q of listB) {
      // B's position q belongs to the A map whose partner it is
      const x = one ? maps[0] : maps.find((y) => y.bp === q.position);
      if (x) add(x, q.true, q.predicted);
    }
    const pairs = [...seen.values()].sort((a, b) => b.top - a.top);
    const rows = pairs.map((q) => this.row({ position: q.x.p, true: q.t, predicted: q.p },
      single || pooledOnly ? null : data.positions[q.x.p], data.classes,
      [el("td", { text: pct(q.rateA) }), el("td", { text: pct(q.rateB) }),
        // a confusion that shrinks is B doing better
        el("td", { class: "cm-change" }, Number.isFinite(q.rateA) && Number.isFinite(q.rateB)
          ? change(points(q.rateB - q.rateA), verdict(q.rateA - q.rateB)) : t("common.none"))]));
    const head = [...(single || pooledOnly ? [] : [t("confusion.pairs.position")]),
      t("confusion.pairs.pair"), t("confusion.pairs.rateA"), t("confusion.pairs.rateB"),
      t("confusion.pairs.change")];
    this.show(t("confusion.pairs.titleCompare", { step: fmtInteger(m.step) }), head, rows,
      single || pooledOnly, pooledOnly ? t("confusion.pairs.pooledOnly") : null);
  }

  row(q, where, classes, values) {
    const pick = () => this.onPick(q.position, q.true, q.predicted);
    return el("tr", {
      class: "cm-pair", tabindex: 0, title: t("confusion.pairs.show"),
      "data-position": q.position, "data-true": q.true, "data-predicted": q.predicted,
      onclick: pick,
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } },
    },
    where === null ? null : el("td", {},
      el("span", { class: "cm-swatch", style: `--swatch:${positionColour(q.position)}` }),
      name(where, "cm-name-short")),
    el("td", { class: "cm-pair-classes" }, name(classes[q.true], "cm-name-class"),
      el("span", { class: "cm-arrow", text: " → " }), name(classes[q.predicted], "cm-name-class")),
    values);
  }

  show(title, head, rows, single, note = null) {
    const pairHead = t("confusion.pairs.pair");
    // a new step keeps the page turned to, as far as the new list reaches
    this.last = [title, head, rows, single, note];
    const pages = Math.max(1, Math.ceil(rows.length / PAIRS_PAGE));
    this.page = Math.max(0, Math.min(pages - 1, this.page));
    const shown = rows.slice(this.page * PAIRS_PAGE, (this.page + 1) * PAIRS_PAGE);
    const turn = pager("cm-pairs-pager", this.page, PAIRS_PAGE, rows.length, (page) => {
      this.page = page;
      this.show(...this.last);
    });
    this.node.replaceChildren(
      el("h2", { text: title }),
      note ? el("p", { class: "cm-note", text: note }) : "",
      shown.length
        ? el("table", { class: single ? "fs-table cm-pairs-table cm-single" : "fs-table cm-pairs-table",
          id: "cm-pairs-table" },
          el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h,
            class: h === pairHead ? "cm-pair-classes" : null })))),
          el("tbody", {}, shown))
        : el("p", { class: "cm-note", text: t("confusion.pairs.none") }),
      turn || "");
  }

  error(text) {
    message(this.node, text, "error");
  }
}

/** Precision, recall, F1 and support per class, for one position or all pooled (a single
 * classifier has no position to choose); in compare mode each metric with B's change. */
export class ClassTable {
  /** @param {() => void} onChange the position was changed (the page remembers it) */
  constructor(onChange = () => {}) {
    this.onChange = onChange;
    this.node = el("section", { id: "cm-metrics", class: "cm-panel" });
    this.position = "pooled"; // "pooled" or a position index as a string
    this.metrics = null;
    this.bMetrics = null; // (position) => B's class metrics for it, or null
    this.page = 0;
    this.found = null; // a class searched for: its row is marked and shown
  }

  /** Show and mark class c's row (null: no mark). */
  mark(c) {
    this.found = c;
    if (c !== null) this.page = Math.floor(c / CLASS_PAGE);
    if (this.metrics) this.draw(this.metrics, this.bMetrics);
    const row = c === null ? null : this.node.querySelector(`.cm-class-row[data-class="${c}"]`);
    if (row) {
      const box = row.closest(".cm-scroll");
      box.scrollTop = row.offsetTop - box.clientHeight / 2;
    }
  }

  clear() {
    this.node.replaceChildren();
  }

  /** `m`: A's /matrix answer; `bMetrics(position)`: B's metrics of that choice, or null. */
  draw(m, bMetrics = null) {
    this.metrics = m;
    this.bMetrics = bMetrics;
    const single = m.positions.length === 1;
    if (single) this.position = "0";
    const options = [["pooled", t("confusion.pooled")],
      ...m.positions.map((what, p) => [String(p), what])];
    if (!single && !options.some(([v]) => v === this.position)) this.position = "pooled";
    const select = el("select", { id: "cm-metrics-position", "aria-label": t("confusion.metrics.position"),
      onchange: () => { this.position = select.value; this.draw(this.metrics, this.bMetrics); this.onChange(); } },
    options.map(([value, text]) => el("option", { value, text, title: text,
      selected: value === this.position })));
    select.title = options.find(([v]) => v === this.position)[1];
    const cm = this.position === "pooled"
      ? m.class_metrics.pooled
      : m.class_metrics.positions[Number(this.position)];
    const cb = bMetrics ? bMetrics(this.position) : null;
    const comparing = Boolean(bMetrics);
    // a metric of A, and under it B's change (higher is better for all three)
    const metric = (a, b) => el("td", {}, num3(a),
      cb ? el("span", { class: "cm-delta-line" }, gainCell(a, b, 3, 1)) : null);
    const k = m.classes.length;
    this.page = Math.max(0, Math.min(Math.ceil(k / CLASS_PAGE) - 1, this.page));
    const first = k > CLASS_PAGE ? this.page * CLASS_PAGE : 0;
    const end = k > CLASS_PAGE ? Math.min(k, first + CLASS_PAGE) : k;
    const turn = pager("cm-class-pager", this.page, CLASS_PAGE, k, (page) => {
      this.page = page;
      this.draw(this.metrics, this.bMetrics);
    });
    const rows = m.classes.slice(first, end).map((cls, n) => first + n).map((c) => el("tr", {
      class: c === this.found ? "cm-class-row cm-found" : "cm-class-row", "data-class": c },
      el("td", { class: "cm-class-name" }, name(m.classes[c], "cm-name-class")),
      metric(cm.precision[c], cb && cb.precision[c]),
      metric(cm.recall[c], cb && cb.recall[c]),
      metric(cm.f1[c], cb && cb.f1[c]),
      el("td", { text: fmtInteger(cm.support[c]) })));
    const macro = el("tr", { class: "cm-macro" },
      el("td", { text: t("confusion.metrics.macro") }),
      metric(cm.macro.precision, cb && cb.macro.precision),
      metric(cm.macro.recall, cb && cb.macro.recall),
      metric(cm.macro.f1, cb && cb.macro.f1),
      el("td", { text: fmtInteger(cm.support.reduce((a, b) => a + b, 0)) }));
    let note = null;
    if (comparing) note = cb ? t("confusion.metrics.compareNote") : t("confusion.metrics.notInB");
    this.node.replaceChildren(
      el("div", { class: "cm-panel-head" }, el("h2", { text: t("confusion.metrics.title") }),
        single ? "" : select),
      note ? el("p", { class: "cm-note", id: "cm-metrics-note", text: note }) : "",
      el("div", { class: "cm-scroll" },
        el("table", { class: "fs-table cm-class-table", id: "cm-class-table" },
          el("thead", {}, el("tr", {}, ["class", "precision", "recall", "f1", "support"].map(
            (h) => el("th", { text: t(`confusion.metrics.head.${h}`) })))),
          el("tbody", {}, rows, macro))),
      turn || "");
  }
}

/** The misclassified images stored for a clicked cell (or a note saying why there are none). */
export class ExamplesPanel {
  /** @param {() => void} onClose the close button was pressed */
  constructor(onClose) {
    this.onClose = onClose;
    this.node = el("section", { id: "cm-examples", class: "cm-panel", hidden: true });
    // one image at its own size (and enlarged, crisp, when small) with its labels
    this.viewerImage = el("img", { id: "cm-viewer-image", alt: "" });
    this.viewerBig = el("img", { id: "cm-viewer-big", class: "cm-pixelated", alt: "" });
    this.viewerCaption = el("div", { id: "cm-viewer-caption", class: "cm-viewer-caption" });
    this.viewerSize = el("div", { id: "cm-viewer-size", class: "cm-note" });
    this.viewer = el("dialog", { id: "cm-viewer", class: "cm-viewer", "aria-labelledby": "cm-viewer-caption" },
      el("div", { class: "cm-panel-head" }, this.viewerCaption,
        el("button", { type: "button", class: "fs-icon-button", id: "cm-viewer-close", text: "✕",
          "aria-label": t("confusion.examples.closeImage"), title: t("confusion.examples.closeImage"),
          onclick: () => this.viewer.close() })),
      el("div", { class: "cm-viewer-images" },
        el("figure", {}, this.viewerImage, el("figcaption", { text: t("confusion.examples.ownSize") })),
        el("figure", { id: "cm-viewer-big-box" }, this.viewerBig, el("figcaption", { id: "cm-viewer-big-note" }))),
      this.viewerSize);
    // a click on the backdrop (outside the dialog's box) closes it
    this.viewer.addEventListener("click", (e) => { if (e.target === this.viewer) this.viewer.close(); });
    document.body.append(this.viewer);
  }

  get viewerOpen() {
    return this.viewer.open;
  }

  hide() {
    this.node.hidden = true;
    if (this.viewer.open) this.viewer.close();
  }

  /** Open image `url` at its own size, with its true and predicted class (and position). */
  open(url, caption) {
    this.viewerCaption.textContent = caption;
    this.viewerSize.textContent = "";
    this.viewer.showModal();
    const show = () => {
      const w = this.viewerImage.naturalWidth;
      const h = this.viewerImage.naturalHeight;
      this.viewerImage.style.width = `${w}px`;
      this.viewerImage.style.height = `${h}px`;
      // small images also show enlarged by a whole factor, as crisp pixels
      const factor = Math.min(8, Math.floor(Math.min(480 / Math.max(1, w), 480 / Math.max(1, h))));
      this.viewer.querySelector("#cm-viewer-big-box").hidden = factor < 2;
      this.viewerBig.src = url;
      this.viewerBig.style.width = `${w * factor}px`;
      this.viewerBig.style.height = `${h * factor}px`;
      this.viewer.querySelector("#cm-viewer-big-note").textContent = t("confusion.examples.enlarged", { factor });
      this.viewerSize.textContent = t("confusion.examples.size", { width: w, height: h });
    };
    this.viewerImage.onload = show;
    this.viewerImage.src = url;
    if (this.viewerImage.complete && this.viewerImage.naturalWidth) show();
  }

  /**
   * Show the panel for `selection` of `data`; `load()` fetches /examples. An answer that
   * arrives after a newer call is dropped.
   */
  async show(data, selection, load) {
    const sel = selection;
    const where = sel.position === null ? t("confusion.pooled") : data.positions[sel.position];
    const cell = t("confusion.cell", { true: data.classes[sel.true], predicted: data.classes[sel.predicted] });
    const title = data.positions.length === 1 ? cell : `${where}: ${cell}`;
    const close = el("button", { type: "button", class: "fs-icon-button", id: "cm-examples-close",
      "aria-label": t("confusion.examples.close"), title: t("confusion.examples.close"), text: "✕",
      onclick: () => this.onClose() });
    const head = el("div", { class: "cm-panel-head" },
      el("h2", { id: "cm-examples-title", text: title, title }), close);
    this.node.hidden = false;
    if (sel.true === sel.predicted) {
      this.node.replaceChildren(head, el("p", { class: "cm-note", id: "cm-examples-note",
        text: t("confusion.examples.correct") }));
      return;
    }
    const token = (this.token = (this.token || 0) + 1);
    let ex;
    try {
      ex = await load();
    } catch (err) {
      if (token === this.token) {
        // the title and its close button stay: the panel can always be closed
        this.node.replaceChildren(head, el("div", { class: "fs-message fs-error", id: "cm-examples-error",
          text: t("confusion.error.images", { error: errorText(err) }) }));
      }
      return;
    }
    if (token !== this.token) return;
    let note;
    if (!ex.examples_tag) note = t("confusion.examples.noTag");
    else if (ex.step === null) note = t("confusion.examples.noneYet");
    else {
      const at = ex.exact ? t("confusion.examples.step", { step: fmtInteger(ex.step) })
        : t("confusion.examples.nearest", { step: fmtInteger(ex.step),
          requested: fmtInteger(ex.requested_step) });
      const count = ex.count === null ? ""
        : t("confusion.examples.misclassified", { count: ex.count, n: fmtInteger(ex.count) });
      const stored = t("confusion.examples.stored", { count: ex.stored, n: fmtInteger(ex.stored) });
      const n = fmtInteger(ex.cap_per_cell);
      const cap = !ex.cap_per_cell ? ""
        : data.positions.length === 1 ? t("confusion.examples.capCell", { n })
          : t("confusion.examples.capPosition", { n });
      note = `${at} · ${count}${stored}${cap}`;
    }
    const alt = t("confusion.examples.alt", { true: data.classes[sel.true],
      predicted: data.classes[sel.predicted] });
    const caption = (img) => (sel.position === null && data.positions.length > 1
      ? `${data.positions[img.position]}: ${alt}` : alt);
    const grid = el("div", { class: "cm-example-grid", id: "cm-example-grid" },
      ex.images.map((img) => el("figure", { class: "cm-example", "data-index": img.index },
        el("button", { type: "button", class: "cm-example-open", title: t("confusion.examples.open"),
          "aria-label": `${t("confusion.examples.open")}: ${caption(img)}`,
          onclick: () => this.open(img.url, caption(img)) },
        el("img", { src: img.url, loading: "lazy", alt,
          // small images (28 x 28 digits) are drawn as crisp pixels, not smoothed into blur
          onload: (e) => e.target.classList.toggle("cm-pixelated", e.target.naturalWidth < 64) })),
        sel.position === null ? el("figcaption", { text: data.positions[img.position],
          title: data.positions[img.position] }) : null)));
    this.node.replaceChildren(head,
      el("p", { class: ex.exact ? "cm-note" : "cm-note cm-nearest", id: "cm-examples-note", text: note }),
      ex.images.length ? grid : el("p", { class: "cm-note", text: t("confusion.examples.noImages") }));
  }
}
