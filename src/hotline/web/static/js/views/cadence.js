// The compact's cadence (GET /api/v1/cadence): the meetings and exercises the parties committed
// to hold, when each was last held and is next due, overdue first. Officials of the deciding
// layers record one as held (POST /api/v1/cadence/held, federated to every party).
// Registered as the "cadence" view (extensions.js); shown when the node serves the cadence API.
import { h, replaceChildren } from "../dom.js";
import { registerView } from "../extensions.js";
import {
  N_, ago, currentTimeZone, formatNumber, formatTime, fromZonedInput, t, toZonedInput,
} from "../i18n.js";
import { layerName } from "../labels.js";

const DAY_MS = 86400000;
// Who may record a meeting as held: the API's rule (ops centres may not), mirrored so the
// console offers only what will work; the API's refusal is shown if it ever differs.
const RECORDING_LAYERS = ["leaders", "nsa", "foreign", "defense"];
/** "Due soon": within 30 days, or a quarter of the interval for meetings more often than 120 days. */
const DUE_SOON_DAYS = 30;

const STATUS = {
  overdue: { label: N_("Overdue"), rank: 0 },
  soon: { label: N_("Due soon"), rank: 1 },
  ok: { label: N_("On track"), rank: 2 },
};
const KINDS = { meeting: N_("Meeting"), exercise: N_("Exercise") };

/** "overdue", "soon" or "ok" for one item of GET /api/v1/cadence, at the node's ``now`` (ms). */
export function cadenceStatus(item, now) {
  if (item.overdue) return "overdue";
  const window = Math.min(DUE_SOON_DAYS, item.every_days / 4) * DAY_MS;
  return Date.parse(item.next_due) - now <= window ? "soon" : "ok";
}

/** Overdue first (most overdue first), then due soon, then on track; each by next due. */
export function sortedItems(items, now) {
  return items
    .map((item) => ({ ...item, status: cadenceStatus(item, now) }))
    .sort((a, b) => STATUS[a.status].rank - STATUS[b.status].rank || Date.parse(a.next_due) - Date.parse(b.next_due));
}

function dateCell(at) {
  return [h("time", { datetime: at }, formatTime(at, "date")), h("span", { class: "ago" }, ago(at))];
}

function create(ctx) {
  const { api, store } = ctx;
  const element = h("section", { class: "cadence", "aria-labelledby": "cadence-title" });
  const state = {
    data: null,
    loadError: "",
    recording: null, // meeting id whose "held" form is open
    heldAt: "",
    heldNow: "", // the form's pre-filled value (now, to the minute)
    error: "",
    done: "",
    busy: false,
    focus: null,
  };
  let timer = null;

  const mayRecord = () => RECORDING_LAYERS.includes(store.me.layer);

  async function load() {
    try {
      state.data = await api.get("/api/v1/cadence");
      state.loadError = "";
    } catch (err) {
      state.loadError = err.message;
    }
    render();
  }

  function loadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }

  function open(item) {
    state.recording = item.meeting_id;
    state.heldAt = toZonedInput(new Date());
    state.heldNow = state.heldAt;
    state.error = "";
    state.done = "";
    state.focus = `held-at-${item.meeting_id}`;
    render();
  }

  function close(item) {
    state.recording = null;
    state.error = "";
    state.focus = `held-${item.meeting_id}`;
    render();
  }

  async function record(item) {
    const at = fromZonedInput(state.heldAt);
    if (!at) {
      state.error = t("Give the date and time it was held.");
      state.focus = `held-at-${item.meeting_id}`;
      render();
      return;
    }
    state.busy = true;
    state.error = "";
    render();
    try {
      // Left at its pre-filled "now": the node's own time (to the second), not the minute's start.
      const body = { meeting_id: item.meeting_id };
      if (state.heldAt !== state.heldNow) body.at = at.toISOString();
      const res = await api.post("/api/v1/cadence/held", body);
      state.recording = null;
      state.done = t("{meeting} recorded as held on {time}.", { meeting: item.title, time: formatTime(res.recorded.at) });
      state.focus = `held-${item.meeting_id}`;
      await load();
    } catch (err) {
      state.error = err.message;
      state.focus = `held-at-${item.meeting_id}`;
    } finally {
      state.busy = false;
      render();
    }
  }

  function heldForm(item) {
    return h(
      "tr",
      { class: "held-row", dataset: { meeting: item.meeting_id } },
      h("td", { colspan: 6 }, h(
        "form",
        {
          class: "held-form",
          "aria-label": t("Record {meeting} as held", { meeting: item.title }),
          onsubmit: (ev) => {
            ev.preventDefault();
            record(item);
          },
          onkeydown: (ev) => {
            if (ev.key === "Escape") {
              ev.preventDefault();
              ev.stopPropagation();
              close(item);
            }
          },
        },
        h("label", null, t("Held on ({zone})", { zone: currentTimeZone() }),
          h("input", {
            type: "datetime-local", name: "held-at", required: true, value: state.heldAt,
            dataset: { key: `held-at-${item.meeting_id}` },
            oninput: (e) => { state.heldAt = e.target.value; },
          })),
        h("button", { type: "submit", class: "primary", disabled: state.busy, dataset: { key: `held-submit-${item.meeting_id}` } }, t("Record")),
        h("button", { type: "button", dataset: { key: `held-cancel-${item.meeting_id}` }, onclick: () => close(item) }, t("Cancel")),
        state.error ? h("p", { class: "error", role: "alert" }, state.error) : null,
      )),
    );
  }

  function row(item) {
    const status = STATUS[item.status];
    return h(
      "tr",
      { class: ["cadence-item", `cad-${item.status}`], dataset: { meeting: item.meeting_id, status: item.status } },
      h("th", { scope: "row" },
        h("span", { class: "title" }, item.title),
        h("span", { class: "by" }, [t(KINDS[item.kind] || item.kind), item.layer ? layerName(item.layer) : null].filter(Boolean).join(" · "))),
      h("td", null, t("Every {days} days", { days: formatNumber(item.every_days) })),
      h("td", { class: "last" }, item.last_held ? dateCell(item.last_held) : h("span", { class: "none" }, t("Never held"))),
      h("td", { class: "due" }, dateCell(item.next_due)),
      h("td", null, h("span", { class: ["status", `status-${item.status}`] }, t(status.label))),
      mayRecord()
        ? h("td", null, h("button", {
            type: "button",
            dataset: { key: `held-${item.meeting_id}` },
            "aria-expanded": state.recording === item.meeting_id ? "true" : "false",
            onclick: () => (state.recording === item.meeting_id ? close(item) : open(item)),
          }, t("Record as held")))
        : null,
    );
  }

  function render() {
    const d = state.data;
    const now = d ? Date.parse(d.now) : Date.now();
    const items = d ? sortedItems(d.items, now) : [];
    const overdue = items.filter((i) => i.status === "overdue").length;
    replaceChildren(
      element,
      h("h2", { id: "cadence-title" }, t("Cadence")),
      h("p", { class: "note" }, t("Meetings and exercises the compact commits the parties to hold.")),
      d ? h("p", { class: "note" }, t("Compact {compact}, in effect since {date}.", { compact: d.compact, date: formatTime(d.since, "date") })) : null,
      state.loadError ? h("p", { class: "error", role: "alert" }, state.loadError) : null,
      !mayRecord() ? h("p", { class: "note" }, t("Leaders, national security advisers and ministers record meetings as held.")) : null,
      h("p", { class: "done", role: "status" }, state.done),
      d && items.length === 0 ? h("p", { class: "empty" }, t("The compact sets no meeting or exercise.")) : null,
      items.length
        ? h(
            "table",
            { class: "cadence-table" },
            h("caption", { class: ["summary", overdue ? "summary-waiting" : "summary-done"] },
              overdue ? t("{count} of {total} overdue", { count: formatNumber(overdue), total: formatNumber(items.length) }) : t("Nothing overdue")),
            h("thead", null, h("tr", null,
              h("th", { scope: "col" }, t("Meeting or exercise")),
              h("th", { scope: "col" }, t("Interval")),
              h("th", { scope: "col" }, t("Last held")),
              h("th", { scope: "col" }, t("Next due")),
              h("th", { scope: "col" }, t("Status")),
              mayRecord() ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("Actions"))) : null)),
            h("tbody", null, items.map((item) => [row(item), state.recording === item.meeting_id ? heldForm(item) : null])),
          )
        : null,
    );
    if (state.focus) {
      const el = element.querySelector(`[data-key="${CSS.escape(state.focus)}"]`);
      if (el && element.isConnected) {
        el.focus();
        state.focus = null;
      }
    }
  }

  load();
  return {
    element,
    render,
    show() {
      load();
    },
    onEvent(ev) {
      if (ev.type === "cadence") loadSoon();
    },
    onScreen() {
      // The cadence carries no classification.
      return [];
    },
  };
}

registerView({
  id: "cadence",
  label: N_("Cadence"),
  shortcut: "6",
  requires: "/api/v1/cadence",
  comingWith: N_("Coming with the cadence API (meetings and exercises of the compact)."),
  create,
});
