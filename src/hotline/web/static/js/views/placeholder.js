// A tab whose API the node does not serve yet.
import { h } from "../dom.js";
import { t } from "../i18n.js";

export function placeholderView(view) {
  return h(
    "section",
    { class: "placeholder", "aria-labelledby": `${view.id}-title` },
    h("h2", { id: `${view.id}-title` }, t(view.label)),
    h("p", null, t(view.comingWith)),
  );
}
