// The frame around every view: header, FLASH banner, alerts, tabs, shortcut help.
import { h } from "../dom.js";
import { LANGUAGES, LANGUAGE_NAMES, N_, currentLanguage, formatTime, t } from "../i18n.js";
import { channelTitle, nationName } from "../labels.js";
import { portionClass, portionMark } from "../marking.js";
import { summaryLine } from "./message.js";
import { peerDots } from "./peers.js";

const STREAM_NAMES = {
  live: N_("Live"),
  connecting: N_("Connecting"),
  reconnecting: N_("Reconnecting"),
  offline: N_("Offline"),
};

export function languageSelect(onChange, key, compact = false) {
  return h(
    "label",
    { class: "lang" },
    h("span", { class: compact ? "sr-only" : null }, t("Language")),
    h(
      "select",
      { dataset: { key }, onchange: (ev) => onChange(ev.target.value), name: "language" },
      LANGUAGES.map((l) => h("option", { value: l, lang: l, selected: l === currentLanguage() }, LANGUAGE_NAMES[l])),
    ),
  );
}

export function header(store, actions) {
  const me = store.me;
  return h(
    "header",
    { class: "topbar" },
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "☎"), h("span", null, t("Hotline")), h("span", { class: "node" }, t("{nation} node", { nation: nationName(me.nation) }))),
    h("div", { class: "who" }, h("strong", null, me.official), h("span", { class: "title" }, me.title || me.name || "")),
    h("div", { class: "clock", "aria-live": "off" }, h("span", { id: "clock-local" }, formatTime(new Date(), "clock")), h("span", { class: "utc", id: "clock-utc" }, `${formatTime(new Date(), "utc")} UTC`)),
    h("div", { class: ["stream", `stream-${store.stream}`], role: "status" }, t(STREAM_NAMES[store.stream] || store.stream)),
    peerDots(store),
    languageSelect(actions.setLanguage, "header-language", true),
    h("button", { type: "button", class: "icon", onclick: actions.toggleWall, dataset: { key: "wall" }, "aria-pressed": document.documentElement.classList.contains("wall") ? "true" : "false" }, t("Wall display")),
    h("button", { type: "button", class: "icon", onclick: actions.showHelp, dataset: { key: "help" } }, t("Shortcuts"), h("kbd", null, "?")),
    h("button", { type: "button", onclick: actions.logout, dataset: { key: "logout" } }, t("Log out")),
  );
}

/** The FLASH banner: stays until this nation has acknowledged every FLASH sent to it. */
export function flashBanner(store, actions) {
  const flashes = store.pendingFlash();
  if (!flashes.length) return null;
  const m = flashes[0];
  const esc = (store.escalation.get(m.id) || {})[store.me.nation];
  return h(
    "div",
    { class: "flash-banner", role: "alert", dataset: { id: m.id } },
    h("strong", { class: "flash-word" }, t("FLASH")),
    h(
      "div",
      { class: "flash-text" },
      h("div", null, t("From {nation} ({sender}) on {channel} at {time}", {
        nation: nationName(m.nation),
        sender: m.sender,
        channel: channelTitle({ id: m.channel }),
        time: formatTime(m.sent_at, "time"),
      })),
      h("div", { class: "flash-body" }, h("span", { class: portionClass(m) }, portionMark(m)), " ", summaryLine(m)),
      esc && esc.state === "escalated" ? h("div", null, t("Escalated (level {level})", { level: esc.level })) : null,
      flashes.length > 1 ? h("div", null, t("{count} more FLASH messages await acknowledgment", { count: flashes.length - 1 })) : null,
    ),
    h("button", { type: "button", class: "ack", dataset: { key: "flash-ack" }, onclick: () => actions.acknowledge(m.id) }, t("Acknowledge"), h("kbd", null, "A")),
    h("button", { type: "button", dataset: { key: "flash-open" }, onclick: () => actions.openMessage(m.id) }, t("Open")),
  );
}

const ALERT_KINDS = {
  raised: N_("raised"),
  update: N_("prediction updated"),
  threat: N_("threat to a party's territory"),
  closed: N_("closed"),
};

function alertText(a) {
  if (a.kind === "link_test_missed") {
    return t("Link test to {nation} was not answered (sent {time}).", { nation: nationName(a.peer), time: formatTime(a.sent_at, "time") });
  }
  if (a.alert_id) {
    const where = a.impact && a.impact.territory ? nationName(a.impact.territory) : t("outside the parties' territory");
    return t("Missile warning ({kind}): track {track}, predicted impact {where} at {time}", {
      kind: t(ALERT_KINDS[a.kind] || a.kind),
      track: a.track_id,
      where,
      time: a.impact ? formatTime(a.impact.time, "time") : "—",
    });
  }
  return a.message || a.kind;
}

export function alertsBar(store, actions) {
  if (!store.alerts.length) return null;
  return h(
    "ul",
    { class: "alerts", "aria-label": t("Alerts") },
    store.alerts.map((a, i) =>
      h(
        "li",
        { role: "alert" },
        alertText(a),
        h("button", { type: "button", class: "icon", onclick: () => actions.dismissAlert(i), "aria-label": t("Dismiss") }, "×"),
      ),
    ),
  );
}

export function tabs(store, views, actions) {
  return h(
    "nav",
    { class: "tabs", role: "tablist", "aria-label": t("Views") },
    views.map((v) => {
      const count = v.count ? v.count(store) : 0;
      return h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${v.id}`,
          "aria-selected": store.tab === v.id ? "true" : "false",
          "aria-controls": "main",
          tabindex: store.tab === v.id ? "0" : "-1",
          dataset: { key: `tab-${v.id}`, tab: v.id },
          onclick: () => actions.showTab(v.id),
          onkeydown: (ev) => {
            const i = views.indexOf(v);
            if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
              ev.preventDefault();
              const next = views[(i + (ev.key === "ArrowRight" ? 1 : views.length - 1)) % views.length];
              actions.showTab(next.id, true);
            }
          },
        },
        t(v.label),
        count ? h("span", { class: ["count", v.flash && v.flash(store) && "count-flash"] }, String(count)) : null,
        h("kbd", null, v.shortcut),
      );
    }),
  );
}

const SHORTCUTS = [
  ["A", N_("Acknowledge the selected message (or the FLASH in the banner)")],
  ["J / ↓", N_("Next message")],
  ["K / ↑", N_("Previous message")],
  ["Enter", N_("Show the receipts of the focused message")],
  ["[ / ]", N_("Previous / next channel")],
  ["N", N_("Write a message")],
  ["Enter", N_("Send (in the message text; Shift+Enter for a new line)")],
  ["1 – 6", N_("Hotline, inbox, peers, consultations, map, cadence")],
  ["L", N_("Next language")],
  ["W", N_("Wall display on or off")],
  ["?", N_("This help")],
  ["Esc", N_("Close this help")],
];

export function helpDialog() {
  return h(
    "dialog",
    { class: "help", id: "help", "aria-labelledby": "help-title" },
    h("h2", { id: "help-title" }, t("Keyboard shortcuts")),
    h("table", null, h("tbody", null, SHORTCUTS.map(([keys, what]) => h("tr", null, h("th", { scope: "row" }, h("kbd", null, keys)), h("td", null, t(what)))))),
    h("form", { method: "dialog" }, h("button", { class: "primary", dataset: { key: "help-close" } }, t("Close"))),
  );
}
