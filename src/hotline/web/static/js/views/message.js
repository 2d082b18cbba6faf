// One message as the console shows it: precedence, portion mark, sender, time, body, state.
import { h } from "../dom.js";
import { currentLanguage, formatTime, t } from "../i18n.js";
import { escalationName, nationName, precedenceName } from "../labels.js";
import { portionClass, portionMark } from "../marking.js";

/** The body; a template's body has one line per language (``[ja] ...``): the reader's is marked. */
export function messageBody(msg) {
  const mark = h("span", { class: portionClass(msg) }, portionMark(msg));
  const lines = msg.body.split("\n");
  const templated = msg.template && lines.every((l) => /^\[[a-z]{2}\] /.test(l));
  if (!templated) return h("div", { class: "msg-body" }, mark, " ", msg.body);
  const lang = currentLanguage();
  return h(
    "div",
    { class: "msg-body templated" },
    mark,
    lines.map((line) => {
      const code = line.slice(1, 3);
      return h("p", { class: ["tl", code === lang && "tl-current"], lang: code }, line);
    }),
  );
}

/** One line to show where space is short: for a template, the reader's language's rendering. */
export function summaryLine(msg) {
  const lines = msg.body.split("\n");
  if (msg.template) {
    const mine = lines.find((l) => l.startsWith(`[${currentLanguage()}] `));
    if (mine) return mine.slice(5);
  }
  return lines[0];
}

/** The state chip of a message for this official: what, if anything, it asks of them. */
export function stateChip(store, msg) {
  const me = store.me;
  if (store.pending.has(msg.id)) {
    const esc = (store.escalation.get(msg.id) || {})[me.nation];
    const text = esc && esc.state === "escalated"
      ? [t("Awaiting your acknowledgment"), escalationName("escalated", esc.level)].join(" · ")
      : t("Awaiting your acknowledgment");
    return h("span", { class: "chip chip-pending" }, text);
  }
  const receipts = store.receipts.get(msg.id) || {};
  const others = msg.rel_to.filter((n) => n !== msg.nation);
  if (msg.nation === me.nation) {
    const acked = others.filter((n) => receipts[n] && receipts[n].acked_at).length;
    return h(
      "span",
      { class: ["chip", acked === others.length ? "chip-done" : "chip-waiting"] },
      t("Acknowledged by {count} of {total}", { count: acked, total: others.length }),
    );
  }
  if (receipts[me.nation] && receipts[me.nation].acked_at) {
    return h("span", { class: "chip chip-done" }, t("Acknowledged"));
  }
  return null;
}

export function messageHead(msg) {
  return [
    h("span", { class: `prec prec-${msg.precedence}` }, precedenceName(msg.precedence)),
    h("span", { class: "from" }, `${nationName(msg.nation)} · ${msg.sender}`),
    h("time", { datetime: msg.sent_at, title: formatTime(msg.sent_at) }, formatTime(msg.sent_at)),
  ];
}
