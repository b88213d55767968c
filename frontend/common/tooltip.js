// A floating tooltip that follows the pointer (content built with el(), never innerHTML).
import { el } from "./dom.js";

/** Create the page's tooltip element; returns {node, show(event, ...children), hide()}. */
export function createTooltip(id = "fs-tooltip") {
  const node = el("div", { class: "fs-tooltip", id, role: "tooltip", hidden: true });
  document.body.append(node);
  return {
    node,
    show(event, ...children) {
      node.replaceChildren(...children.flat());
      node.hidden = false;
      const gap = 14;
      const { innerWidth, innerHeight } = window;
      const box = node.getBoundingClientRect();
      let x = event.clientX + gap;
      let y = event.clientY + gap;
      if (x + box.width > innerWidth - 4) x = event.clientX - gap - box.width;
      if (y + box.height > innerHeight - 4) y = event.clientY - gap - box.height;
      node.style.left = `${Math.max(4, x)}px`;
      node.style.top = `${Math.max(4, y)}px`;
    },
    hide() {
      node.hidden = true;
    },
  };
}
