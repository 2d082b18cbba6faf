// The hotline view: channels grouped by layer, then consultations' own channels and the
// compact's trilateral/bilateral ones, the selected channel's messages (newest first), compose,
// and the receipts board of the selected message.
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { channelMembers, kindName, layerName, nationName } from "../labels.js";
import { messageBody, messageHead, stateChip } from "./message.js";

const SHOWN = 200; // newest messages kept on screen per channel
// A consultation's own channel (API: `consultation` is {id, subject}) is listed first, in its
// own group: it is where a crisis is being handled.
const GROUP_ORDER = ["consultation", "trilateral", "multilateral", "bilateral", "national"];

const groupOf = (c) => (c.consultation ? "consultation" : c.kind);
const groupName = (g) => (g === "consultation" ? t("Consultations") : kindName(g));

/** What a channel is called on screen: the consultation's subject, else its nations. */
function channelName(c) {
  if (c.consultation) return c.consultation.subject || c.consultation.id;
  return channelMembers(c).map(nationName).join(", ");
}

export function channelList(store, actions) {
  const layers = [...new Set(store.channels.map((c) => c.layer))];
  return h(
    "nav",
    {
      "aria-label": t("Channels"),
      onkeydown: (ev) => {
        if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
        const buttons = [...ev.currentTarget.querySelectorAll("button.channel")];
        const i = buttons.indexOf(ev.target);
        if (i < 0) return;
        ev.preventDefault();
        const next = buttons[(i + (ev.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length];
        next.focus();
      },
    },
    h("h2", { class: "panel-title" }, t("Channels")),
    layers.map((layer) => {
      const ofLayer = store.channels.filter((c) => c.layer === layer);
      const groups = GROUP_ORDER.filter((g) => ofLayer.some((c) => groupOf(c) === g));
      return h(
        "section",
        { class: "layer", dataset: { layer } },
        h("h3", null, layerName(layer)),
        groups.map((kind) =>
          h(
            "div",
            { class: "kind", dataset: { kind } },
            h("h4", null, groupName(kind)),
            h(
              "ul",
              null,
              ofLayer.filter((c) => groupOf(c) === kind).map((c) => {
                const waiting = store.pendingList().filter((m) => m.channel === c.id);
                const flash = waiting.some((m) => m.precedence === "flash");
                const selected = c.id === store.selectedChannel;
                return h(
                  "li",
                  null,
                  h(
                    "button",
                    {
                      type: "button",
                      class: ["channel", selected && "selected", flash && "has-flash", c.consultation?.closed && "closed"],
                      "aria-current": selected ? "true" : null,
                      dataset: { key: `channel-${c.id}`, channel: c.id },
                      title: c.id,
                      onclick: () => actions.selectChannel(c.id),
                    },
                    h("span", { class: "members" }, channelMembers(c).join(" · ")),
                    h("span", { class: "names" }, channelName(c)),
                    c.consultation?.closed ? h("span", { class: "badge closed" }, t("Closed")) : null,
                    waiting.length
                      ? h("span", { class: ["count", flash && "count-flash"], "aria-label": t("{count} awaiting acknowledgment", { count: waiting.length }) }, String(waiting.length))
                      : null,
                  ),
                );
              }),
            ),
          ),
        ),
      );
    }),
  );
}

/** The messages of the selected channel on screen (for the classification banners). */
export function shownMessages(store) {
  if (!store.selectedChannel) return [];
  return store.channelMessages(store.selectedChannel).slice(-SHOWN).reverse();
}

export function messageList(store, actions) {
  const channel = store.channel(store.selectedChannel);
  if (!channel) return h("p", { class: "empty" }, t("You belong to no channel."));
  const shown = shownMessages(store);
  const focusId = store.selectedMessage && shown.some((m) => m.id === store.selectedMessage)
    ? store.selectedMessage
    : shown.length ? shown[0].id : null;
  return [
    h(
      "header",
      { class: "list-head" },
      h(
        "h2",
        { id: "messages-title" },
        channel.consultation ? channelName(channel) : channelMembers(channel).map(nationName).join(" · "),
      ),
      h("span", { class: "channel-id code" }, channel.id),
      h(
        "span",
        { class: "kind" },
        [
          layerName(channel.layer),
          groupName(groupOf(channel)),
          channel.consultation && channelMembers(channel).join(" · "),
          channel.consultation?.closed && t("Closed"),
        ]
          .filter(Boolean)
          .join(" · "),
      ),
    ),
    shown.length === 0
      ? h("p", { class: "empty" }, t("No messages yet on this channel."))
      : h(
          "ol",
          { class: "messages", "aria-labelledby": "messages-title", role: "list" },
          shown.map((m) =>
            h(
              "li",
              {
                class: [
                  "msg",
                  `prec-${m.precedence}`,
                  `cls-${m.classification}`,
                  m.id === store.selectedMessage && "selected",
                  store.pending.has(m.id) && "pending",
                ],
                tabindex: m.id === focusId ? "0" : "-1",
                "aria-current": m.id === store.selectedMessage ? "true" : null,
                dataset: { key: `msg-${m.id}`, id: m.id },
                onclick: (ev) => {
                  if (ev.target.closest("button")) return;
                  actions.selectMessage(m.id);
                },
                onkeydown: (ev) => {
                  if (ev.key === "Enter" && ev.target === ev.currentTarget) actions.selectMessage(m.id);
                },
              },
              h("div", { class: "msg-head" }, messageHead(m), stateChip(store, m)),
              messageBody(m),
              store.pending.has(m.id)
                ? h(
                    "div",
                    { class: "msg-actions" },
                    h("button", { type: "button", class: "ack primary", dataset: { key: `ack-${m.id}` }, onclick: () => actions.acknowledge(m.id) }, t("Acknowledge")),
                  )
                : null,
            ),
          ),
        ),
  ];
}
