// The inbox: what awaits this nation's acknowledgment (GET /api/v1/inbox), FLASH first.
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { channelTitle } from "../labels.js";
import { messageBody, messageHead, stateChip } from "./message.js";

export function inboxItems(store) {
  return store.pendingList();
}

export function inboxView(store, actions) {
  const items = inboxItems(store);
  return h(
    "section",
    { class: "inbox", "aria-labelledby": "inbox-title" },
    h("h2", { id: "inbox-title" }, t("Inbox: awaiting your nation's acknowledgment")),
    items.length === 0
      ? h("p", { class: "empty" }, t("Nothing awaits your acknowledgment."))
      : h(
          "ol",
          { class: "messages", role: "list" },
          items.map((m) =>
            h(
              "li",
              { class: ["msg", `prec-${m.precedence}`, "pending"], dataset: { id: m.id } },
              h("div", { class: "msg-head" }, messageHead(m), h("span", { class: "channel-id code" }, channelTitle({ id: m.channel })), stateChip(store, m)),
              messageBody(m),
              h(
                "div",
                { class: "msg-actions" },
                h("button", { type: "button", class: "ack primary", dataset: { key: `inbox-ack-${m.id}` }, onclick: () => actions.acknowledge(m.id) }, t("Acknowledge")),
                h("button", { type: "button", dataset: { key: `inbox-open-${m.id}` }, onclick: () => actions.openMessage(m.id) }, t("Open in channel")),
              ),
            ),
          ),
        ),
  );
}
