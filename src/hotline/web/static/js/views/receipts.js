// The receipts board of one message: per nation delivered, read, acknowledged (by whom, how
// long ago) and its escalation state (GET /api/v1/messages/{id}, refreshed on receipt events).
import { h } from "../dom.js";
import { ago, formatTime, t } from "../i18n.js";
import { channelTitle, escalationName, nationName, precedenceName } from "../labels.js";
import { portionClass, portionMark } from "../marking.js";

function when(at, by) {
  if (!at) return h("span", { class: "none" }, "—");
  return [
    h("time", { datetime: at }, formatTime(at, "time")),
    h("span", { class: "ago" }, ago(at)),
    by ? h("div", { class: "by" }, t("by {who}", { who: by })) : null,
  ];
}

export function receiptsBoard(store, actions) {
  const id = store.selectedMessage;
  const msg = id ? store.messages.get(id) : null;
  if (!msg) {
    return h(
      "div",
      { class: "empty" },
      h("h2", { id: "receipts-title" }, t("Receipts")),
      h("p", null, t("Select a message to see who has received, read and acknowledged it.")),
    );
  }
  const receipts = store.receipts.get(id) || {};
  const escalation = store.escalation.get(id) || {};
  const nations = msg.rel_to;
  const acked = nations.filter((n) => n === msg.nation || (receipts[n] && receipts[n].acked_at));
  const waiting = nations.filter((n) => !acked.includes(n));
  const rows = nations.map((n) => {
    const r = receipts[n] || {};
    const e = escalation[n] || { state: n === msg.nation ? "sender" : "pending", level: 0 };
    return h(
      "tr",
      { dataset: { nation: n }, class: r.acked_at ? "acked" : e.state === "escalated" ? "escalated" : "" },
      h("th", { scope: "row" }, h("span", { class: "nation-name" }, n), h("span", { class: "by" }, nationName(n))),
      h("td", { class: "delivered" }, n === msg.nation ? h("span", { class: "none" }, t("Sender")) : when(r.delivered_at)),
      h("td", { class: "read" }, when(r.read_at, r.read_by)),
      h("td", { class: "acked" }, n === msg.nation ? h("span", { class: "none" }, "—") : when(r.acked_at, r.acked_by)),
      h(
        "td",
        { class: `esc esc-${e.state}` },
        escalationName(e.state, e.level),
        e.next_at ? h("div", { class: "by" }, t("next at {time}", { time: formatTime(e.next_at, "time") })) : null,
      ),
    );
  });
  return h(
    "div",
    { class: "board", dataset: { message: id } },
    h("h2", { id: "receipts-title" }, t("Receipts")),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, t("Message")),
      h("dd", null, h("span", { class: `prec prec-${msg.precedence}` }, precedenceName(msg.precedence)), " ", h("span", { class: portionClass(msg) }, portionMark(msg))),
      h("dt", null, t("Channel")),
      h("dd", null, channelTitle({ id: msg.channel })),
      h("dt", null, t("From")),
      h("dd", null, `${nationName(msg.nation)} · ${msg.sender}`),
      h("dt", null, t("Sent")),
      h("dd", null, formatTime(msg.sent_at), h("span", { class: "ago" }, ` (${ago(msg.sent_at)})`)),
      msg.ack_deadline ? h("dt", null, t("Acknowledge by")) : null,
      msg.ack_deadline ? h("dd", null, formatTime(msg.ack_deadline)) : null,
      h("dt", null, t("Reference")),
      h("dd", { class: "code" }, msg.id),
    ),
    h(
      "table",
      { class: "receipts" },
      h("caption", { class: "sr-only" }, t("Receipts by nation")),
      h(
        "thead",
        null,
        h("tr", null,
          h("th", { scope: "col" }, t("Nation")),
          h("th", { scope: "col" }, t("Delivered")),
          h("th", { scope: "col" }, t("Read")),
          h("th", { scope: "col" }, t("Acknowledged")),
          h("th", { scope: "col" }, t("Escalation"))),
      ),
      h("tbody", null, rows),
    ),
    h(
      "p",
      { class: ["summary", waiting.length ? "summary-waiting" : "summary-done"], role: "status" },
      waiting.length
        ? t("Waiting for: {nations}", { nations: waiting.map(nationName).join(", ") })
        : t("Acknowledged by every nation"),
    ),
    store.pending.has(id)
      ? h("button", { type: "button", class: "ack primary", onclick: () => actions.acknowledge(id), dataset: { key: "board-ack" } }, t("Acknowledge"), h("kbd", null, "A"))
      : null,
  );
}
