// Federation peers (GET /api/v1/peers): link up or down, backlog, last link-test round trip.
import { h } from "../dom.js";
import { ago, formatNumber, formatTime, t } from "../i18n.js";
import { nationName } from "../labels.js";

function epochOrIso(value) {
  if (value === null || value === undefined) return null;
  return typeof value === "number" ? new Date(value * 1000).toISOString() : value;
}

export function peersView(store) {
  const peers = store.peers || [];
  return h(
    "section",
    { class: "peers", "aria-labelledby": "peers-title" },
    h("h2", { id: "peers-title" }, t("Peers")),
    store.peersError ? h("p", { class: "error", role: "alert" }, store.peersError) : null,
    peers.length === 0 && !store.peersError
      ? h("p", { class: "empty" }, t("This node federates with no peer."))
      : h(
          "table",
          { class: "peer-table" },
          h("caption", { class: "sr-only" }, t("Peers")),
          h("thead", null, h("tr", null,
            h("th", { scope: "col" }, t("Nation")),
            h("th", { scope: "col" }, t("Link")),
            h("th", { scope: "col" }, t("Since")),
            h("th", { scope: "col", class: "num" }, t("Backlog")),
            h("th", { scope: "col" }, t("Last link test")),
            h("th", { scope: "col", class: "num" }, t("Round trip")),
            h("th", { scope: "col", class: "num" }, t("Missed link tests")),
            h("th", { scope: "col" }, t("Last error")))),
          h("tbody", null, peers.map((p) => {
            const since = epochOrIso(p.since);
            const tested = epochOrIso(p.last_link_test_at);
            return h(
              "tr",
              { dataset: { nation: p.nation }, class: p.connected ? "up" : "down" },
              h("th", { scope: "row" }, nationName(p.nation), " ", h("span", { class: "code" }, p.nation)),
              h("td", null, h("span", { class: ["link", p.connected ? "link-up" : "link-down"] }, p.connected ? t("Connected") : p.configured === false ? t("Not configured") : t("Down"))),
              h("td", null, since ? [formatTime(since, "time"), h("span", { class: "ago" }, ` (${ago(since)})`)] : "—"),
              h("td", { class: "num" }, p.backlog === undefined ? "—" : formatNumber(p.backlog)),
              h("td", null, tested ? [formatTime(tested, "time"), h("span", { class: "ago" }, ` (${ago(tested)})`)] : "—"),
              h("td", { class: "num" }, p.last_link_test_rtt_ms === null || p.last_link_test_rtt_ms === undefined ? "—" : t("{ms} ms", { ms: formatNumber(Math.round(p.last_link_test_rtt_ms * 10) / 10) })),
              h("td", { class: "num" }, p.missed_link_tests === undefined ? "—" : formatNumber(p.missed_link_tests)),
              h("td", { class: "err" }, p.last_error || "—"),
            );
          })),
        ),
  );
}

/** The compact peer status in the header: one dot per peer. */
export function peerDots(store) {
  const peers = store.peers || [];
  return h(
    "span",
    { class: "peer-dots", role: "status", "aria-label": t("Peers") },
    peers.map((p) =>
      h("span", { class: ["dot", p.connected ? "dot-up" : "dot-down"], title: [nationName(p.nation), p.connected ? t("Connected") : t("Down")].join(": ") }, p.nation),
    ),
  );
}
