// The consultation room (the commitment to consult): invoke, acknowledge, convene, positions,
// joint statements that take effect only when every party approves, and the timeline.
// Registered as the "consultations" view (extensions.js); shown when the node serves the
// consultation API.
import { h, replaceChildren } from "../dom.js";
import { registerView } from "../extensions.js";
import { N_, ago, formatDuration, formatTime, t } from "../i18n.js";
import { channelMembers, layerName, nationName } from "../labels.js";

const LAYERS = ["leaders", "nsa", "foreign", "defense", "ops"];
// Who may invoke, convene, give positions and draft or approve statements (the ops centres
// only acknowledge): the API's rule, mirrored so the console offers only what will work.
const DECIDING_LAYERS = ["leaders", "nsa", "foreign", "defense"];
// The Camp David compact's severities; the API refuses any other with a clear error.
const SEVERITIES = ["critical", "high", "elevated"];
const PHASES = ["share_information", "align_messaging", "coordinate_response", "closed"];

const PHASE_NAMES = {
  share_information: N_("Share information"),
  align_messaging: N_("Align messaging"),
  coordinate_response: N_("Coordinate response"),
  closed: N_("Closed"),
};
const SEVERITY_NAMES = { critical: N_("Critical"), high: N_("High"), elevated: N_("Elevated") };
const PARTY_STATES = {
  invoker: N_("Invoked"),
  notified: N_("Notified"),
  acknowledged: N_("Acknowledged"),
  convened: N_("Convened"),
};
const OBLIGATIONS = {
  defend: N_("Bound to defend"),
  consult: N_("Bound to consult"),
  threatened: N_("Threatened"),
  none: N_("No obligation"),
};
const STEPS = { ack: N_("acknowledge"), convene: N_("convene") };
// A party's two deadlines (acknowledge, convene): a live countdown while pending, "overdue by"
// once passed, and how long the party took once done.
const DEADLINES = {
  ack: {
    due: N_("ack due in {time}"),
    overdue: N_("ack overdue by {time}"),
    met: N_("acknowledged in {time}"),
    late: N_("acknowledged in {time}, after the deadline"),
  },
  convene: {
    due: N_("convene due in {time}"),
    overdue: N_("convene overdue by {time}"),
    met: N_("convened in {time}"),
    late: N_("convened in {time}, after the deadline"),
  },
};
/** A pending deadline this close is shown as due soon. */
const SOON_MS = 120000;
const TICK_MS = 250;

const phaseName = (p) => t(PHASE_NAMES[p] || p);
const severityName = (s) => t(SEVERITY_NAMES[s] || s);

/** Set a pending deadline's text and state for ``now`` (ms); the view's timer calls it. */
function updateCountdown(el, now) {
  const left = Date.parse(el.dataset.deadline) - now;
  const texts = DEADLINES[el.dataset.step];
  const status = left > 0 ? (left <= SOON_MS ? "soon" : "due") : "overdue";
  // Due: whole seconds left, rounded up (00:01 until it passes); overdue: whole seconds past.
  const text = left > 0
    ? t(texts.due, { time: formatDuration(Math.ceil(left / 1000) * 1000) })
    : t(texts.overdue, { time: formatDuration(-left) });
  if (el.textContent !== text) el.textContent = text;
  if (el.dataset.state !== status) {
    el.dataset.state = status;
    el.className = ["cd", `cd-${status}`].join(" ");
  }
}

/** One of a party's deadlines (``step``: ack or convene) as a line of its row. */
function deadlineLine(c, p, step) {
  const deadline = step === "ack" ? p.ack_deadline : p.convene_deadline;
  const doneAt = step === "ack" ? p.acknowledged_at : p.convened_at;
  if (p.state === "invoker" || !deadline) return null;
  if (doneAt) {
    const status = Date.parse(doneAt) > Date.parse(deadline) ? "late" : "met";
    const took = formatDuration(Date.parse(doneAt) - Date.parse(p.notified_at));
    return h("span", { class: ["cd", `cd-${status}`], dataset: { step, state: status }, title: formatTime(doneAt) },
      t(DEADLINES[step][status], { time: took }));
  }
  if (c.phase === "closed") return null;
  const el = h("span", { class: "cd", role: "timer", dataset: { step, deadline }, title: formatTime(deadline) });
  updateCountdown(el, Date.now());
  return el;
}

function when(at) {
  if (!at) return "—";
  return [h("time", { datetime: at }, formatTime(at, "time")), h("span", { class: "ago" }, ago(at))];
}

/** Everything that happened, oldest first, in the reader's language (from the structured view). */
function timeline(c) {
  const rows = [{ at: c.invoked_at, nation: c.nation, by: c.invoked_by, what: t("Invoked the consultation") }];
  for (const [nation, p] of Object.entries(c.parties)) {
    if (p.state === "invoker") continue;
    if (p.acknowledged_at) rows.push({ at: p.acknowledged_at, nation, by: p.acknowledged_by, what: t("Acknowledged") });
    if (p.convened_at) rows.push({ at: p.convened_at, nation, by: p.convened_by, what: t("Convened") });
  }
  for (const e of c.escalations) {
    rows.push({
      at: e.at, nation: e.nation, by: null,
      what: t("Missed the deadline to {step}; escalated from {from} to {to} (level {level})", {
        step: t(STEPS[e.missed] || e.missed), from: layerName(e.from_layer), to: layerName(e.to_layer), level: e.level,
      }),
    });
  }
  for (const p of c.positions) rows.push({ at: p.at, nation: p.nation, by: p.by, what: t("Gave a position") });
  for (const ch of c.phase_changes) rows.push({ at: ch.at, nation: ch.nation, by: ch.by, what: t("Moved to phase: {phase}", { phase: phaseName(ch.phase) }) });
  for (const s of c.statements) {
    for (const v of s.versions) {
      rows.push({
        at: v.at, nation: v.nation, by: v.by,
        what: v.version === 1 ? t("Drafted a joint statement") : t("Amended the joint statement (version {version})", { version: v.version }),
      });
    }
    for (const a of s.approvals) {
      rows.push({
        at: a.at, nation: a.nation, by: a.by,
        what: a.void ? t("Approved version {version} (void: amended since)", { version: a.version }) : t("Approved version {version}", { version: a.version }),
      });
    }
    if (s.adopted_at) rows.push({ at: s.adopted_at, nation: null, by: null, what: t("Joint statement adopted by every party") });
  }
  return rows.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

function create(ctx) {
  const { api, store } = ctx;
  const element = h("section", { class: "consult", "aria-labelledby": "consult-title" });
  const state = {
    list: [],
    selected: null,
    detail: null,
    invoking: false,
    invoke: { subject: "", layer: DECIDING_LAYERS.includes(store.me.layer) ? store.me.layer : "leaders", severity: "critical", threatened: [], information: "" },
    position: "",
    statement: "",
    amend: {},
    error: "",
    busy: false,
  };
  let timer = null;
  // The one timer of this view: ticks the countdowns while the view is shown (show / hide).
  // Four times a second, so that each second's change shows on time whatever the deadline's
  // fraction of a second (a text is written only when it changes).
  let ticker = null;

  function tick() {
    const now = Date.now();
    for (const el of element.querySelectorAll(".cd[data-deadline]")) updateCountdown(el, now);
  }

  const parties = () => {
    const set = new Set();
    for (const c of store.channels) for (const n of channelMembers(c)) set.add(n);
    return [...set];
  };

  async function load() {
    try {
      state.list = await api.get("/api/v1/consultations");
      if (!state.selected && state.list.length) state.selected = state.list[0].id;
      state.detail = state.selected ? await api.get(`/api/v1/consultations/${encodeURIComponent(state.selected)}`) : null;
    } catch (err) {
      state.error = err.message;
    }
    render();
  }

  function loadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }

  async function run(fn, after) {
    state.busy = true;
    state.error = "";
    render();
    try {
      const result = await fn();
      if (after) after(result);
    } catch (err) {
      state.error = err.message;
    } finally {
      state.busy = false;
    }
    await load();
  }

  const path = (suffix = "") => `/api/v1/consultations/${encodeURIComponent(state.selected)}${suffix}`;

  function invokeForm() {
    const f = state.invoke;
    return h(
      "form",
      {
        class: "invoke",
        "aria-labelledby": "invoke-title",
        onsubmit: (ev) => {
          ev.preventDefault();
          if (!f.subject.trim() || !f.threatened.length) {
            state.error = t("Give a subject and at least one threatened nation.");
            render();
            return;
          }
          run(
            () => api.post("/api/v1/consultations", {
              subject: f.subject.trim(), layer: f.layer, severity: f.severity,
              threatened: f.threatened, information: f.information,
            }),
            (c) => {
              state.selected = c.id;
              state.invoking = false;
              state.invoke = { ...f, subject: "", information: "", threatened: [] };
            },
          );
        },
      },
      h("h3", { id: "invoke-title" }, t("Invoke the commitment to consult")),
      h("label", null, t("Subject"), h("input", { name: "subject", value: f.subject, required: true, dataset: { key: "invoke-subject" }, oninput: (e) => { f.subject = e.target.value; } })),
      h("div", { class: "row" },
        h("label", null, t("Level"), h("select", { name: "layer", dataset: { key: "invoke-layer" }, onchange: (e) => { f.layer = e.target.value; } },
          LAYERS.map((l) => h("option", { value: l, selected: l === f.layer }, layerName(l))))),
        h("label", null, t("Severity"), h("select", { name: "severity", dataset: { key: "invoke-severity" }, onchange: (e) => { f.severity = e.target.value; } },
          SEVERITIES.map((s) => h("option", { value: s, selected: s === f.severity }, severityName(s)))))),
      h("fieldset", { class: "relto" }, h("legend", null, t("Threatened")),
        parties().map((n) => h("label", { class: "check" },
          h("input", {
            type: "checkbox", name: "threatened", value: n, checked: f.threatened.includes(n), dataset: { key: `invoke-threat-${n}` },
            onchange: (e) => { f.threatened = parties().filter((m) => (m === n ? e.target.checked : f.threatened.includes(m))); },
          }), " ", nationName(n)))),
      h("label", null, t("Information"), h("textarea", { name: "information", rows: 3, value: f.information, dataset: { key: "invoke-information" }, oninput: (e) => { f.information = e.target.value; } })),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", disabled: state.busy, dataset: { key: "invoke-submit" } }, t("Invoke")),
        h("button", { type: "button", onclick: () => { state.invoking = false; render(); } }, t("Cancel"))),
    );
  }

  const decides = () => DECIDING_LAYERS.includes(store.me.layer);

  function listPane() {
    return h(
      "aside",
      { class: "consult-list" },
      h("h2", { id: "consult-title" }, t("Consultations")),
      !decides()
        ? h("p", { class: "note" }, t("Operations centres acknowledge consultations; the other layers invoke and decide."))
        : state.invoking
          ? invokeForm()
          : h("button", { type: "button", class: "primary", dataset: { key: "invoke-open" }, onclick: () => { state.invoking = true; render(); } }, t("Invoke a consultation")),
      state.list.length === 0
        ? h("p", { class: "empty" }, t("No consultation yet."))
        : h("ul", { class: "consult-items" }, state.list.map((c) =>
          h("li", null, h(
            "button",
            {
              type: "button",
              class: ["consult-item", c.id === state.selected && "selected"],
              "aria-current": c.id === state.selected ? "true" : null,
              dataset: { key: `consult-${c.id}`, id: c.id },
              onclick: () => { state.selected = c.id; load(); },
            },
            h("span", { class: "subject" }, c.subject),
            h("span", { class: "meta" },
              h("span", { class: `sev sev-${c.severity}` }, severityName(c.severity)), " ",
              phaseName(c.phase), " · ", nationName(c.nation), " · ", formatTime(c.invoked_at, "time")),
            h("span", { class: "party-states" }, Object.entries(c.parties).map(([n, s]) =>
              h("span", { class: `ps ps-${s}`, title: t(PARTY_STATES[s] || s) }, `${n} ${t(PARTY_STATES[s] || s)}`))),
          ))),
        ),
    );
  }

  function statementBlock(c, s) {
    const mine = store.me.nation;
    const amending = state.amend[s.id];
    return h(
      "article",
      { class: ["statement", s.adopted && "adopted"], dataset: { id: s.id } },
      h("header", null,
        h("strong", null, t("Joint statement, version {version}", { version: s.version })),
        " ",
        s.adopted
          ? h("span", { class: "chip chip-done" }, t("Adopted"))
          : h("span", { class: "chip chip-waiting" }, t("Awaiting approval: {nations}", { nations: s.awaiting.map(nationName).join(", ") }))),
      h("blockquote", null, s.text),
      h("p", { class: "approvals" }, t("Approved by: {nations}", { nations: s.approved_by.length ? s.approved_by.map(nationName).join(", ") : "—" })),
      h("div", { class: "row" },
        !s.adopted && s.awaiting.includes(mine) && decides()
          ? h("button", { type: "button", class: "primary", dataset: { key: `approve-${s.id}` }, disabled: state.busy,
              onclick: () => run(() => api.post(path(`/statements/${encodeURIComponent(s.id)}/approve`), { version: s.version, text_hash: s.text_hash })) },
            t("Approve version {version}", { version: s.version }))
          : null,
        !s.adopted && amending === undefined && decides()
          ? h("button", { type: "button", dataset: { key: `amend-${s.id}` }, onclick: () => { state.amend[s.id] = s.text; render(); } }, t("Amend"))
          : null),
      amending !== undefined
        ? h("form", {
            class: "amend",
            onsubmit: (ev) => {
              ev.preventDefault();
              run(() => api.post(path("/statements"), { text: state.amend[s.id], statement_id: s.id, amends: s.version }), () => { delete state.amend[s.id]; });
            },
          },
          h("label", null, t("Amended text"), h("textarea", { rows: 3, value: amending, dataset: { key: `amend-text-${s.id}` }, oninput: (e) => { state.amend[s.id] = e.target.value; } })),
          h("div", { class: "row" },
            h("button", { type: "submit", class: "primary", disabled: state.busy }, t("Propose amendment")),
            h("button", { type: "button", onclick: () => { delete state.amend[s.id]; render(); } }, t("Cancel"))))
        : null,
    );
  }

  function detailPane() {
    const c = state.detail;
    if (!c) return h("div", { class: "consult-detail" }, h("p", { class: "empty" }, t("Select a consultation, or invoke one.")));
    const mine = store.me.nation;
    const me = c.parties[mine];
    const next = PHASES[PHASES.indexOf(c.phase) + 1];
    const actionsRow = h("div", { class: "row consult-actions" },
      me && me.state === "notified"
        ? h("button", { type: "button", class: "ack", dataset: { key: "consult-ack" }, disabled: state.busy, onclick: () => run(() => api.post(path("/ack"))) }, t("Acknowledge"))
        : null,
      me && decides() && (me.state === "notified" || me.state === "acknowledged")
        ? h("button", { type: "button", class: "primary", dataset: { key: "consult-convene" }, disabled: state.busy, onclick: () => run(() => api.post(path("/convene"))) }, t("Convene"))
        : null,
      me && decides() && next
        ? h("button", { type: "button", dataset: { key: "consult-phase" }, disabled: state.busy, onclick: () => run(() => api.post(path("/phase"), { phase: next })) }, t("Move to phase: {phase}", { phase: phaseName(next) }))
        : null);
    return h(
      "div",
      { class: "consult-detail", dataset: { id: c.id } },
      h("header", { class: "consult-head" },
        h("h2", null, c.subject),
        h("p", { class: "meta" },
          h("span", { class: `sev sev-${c.severity}` }, severityName(c.severity)), " ",
          h("span", { class: "phase" }, phaseName(c.phase)), " · ",
          t("Invoked by {nation} ({by}) at {time}", { nation: nationName(c.nation), by: c.invoked_by, time: formatTime(c.invoked_at) }), " · ",
          layerName(c.layer), " · ",
          t("Threatened: {nations}", { nations: c.threatened.map(nationName).join(", ") })),
        c.information ? h("p", { class: "information" }, c.information) : null),
      state.error ? h("p", { class: "error", role: "alert" }, state.error) : null,
      actionsRow,
      h("h3", null, t("Parties and obligations")),
      h("table", { class: "parties" },
        h("thead", null, h("tr", null,
          h("th", { scope: "col" }, t("Nation")),
          h("th", { scope: "col" }, t("Obligation")),
          h("th", { scope: "col" }, t("State")),
          h("th", { scope: "col" }, t("Deadlines")),
          h("th", { scope: "col" }, t("Acknowledged")),
          h("th", { scope: "col" }, t("Convened")),
          h("th", { scope: "col" }, t("Position")))),
        h("tbody", null, Object.entries(c.parties).map(([n, p]) => {
          const o = c.obligations[n] || { kind: "none", sources: [] };
          const deadlines = [deadlineLine(c, p, "ack"), deadlineLine(c, p, "convene")];
          return h("tr", { dataset: { nation: n } },
            h("th", { scope: "row" }, h("span", { class: "nation-name" }, n), h("span", { class: "by" }, nationName(n))),
            h("td", { class: `ob ob-${o.kind}` }, t(OBLIGATIONS[o.kind] || o.kind),
              o.sources.map((s) => h("span", { class: "by", title: s.title }, `${s.article || s.treaty}`))),
            h("td", { class: `ps-${p.state}` }, t(PARTY_STATES[p.state] || p.state),
              p.escalations ? h("span", { class: "by" }, t("Escalated (level {level})", { level: p.escalations })) : null),
            h("td", { class: "deadlines" }, deadlines.some(Boolean) ? deadlines : "—"),
            h("td", null, p.acknowledged_at ? [when(p.acknowledged_at), h("span", { class: "by" }, p.acknowledged_by || "")] : "—"),
            h("td", null, p.convened_at ? [when(p.convened_at), h("span", { class: "by" }, p.convened_by || "")] : "—"),
            h("td", null, p.position_given ? t("Given") : "—"));
        }))),
      h("h3", null, t("Positions")),
      c.positions.length
        ? h("ul", { class: "positions" }, c.positions.map((p) =>
            h("li", null, h("strong", null, `${nationName(p.nation)} (${p.by})`), " ", h("span", { class: "ago" }, formatTime(p.at, "time")), h("p", null, p.text))))
        : h("p", { class: "empty" }, t("No position yet.")),
      c.phase !== "closed" && me && decides()
        ? h("form", {
            class: "position-form",
            onsubmit: (ev) => {
              ev.preventDefault();
              if (!state.position.trim()) return;
              run(() => api.post(path("/position"), { text: state.position.trim() }), () => { state.position = ""; });
            },
          },
          h("label", null, t("Your nation's position"), h("textarea", { rows: 2, value: state.position, dataset: { key: "position-text" }, oninput: (e) => { state.position = e.target.value; } })),
          h("button", { type: "submit", class: "primary", disabled: state.busy, dataset: { key: "position-submit" } }, t("Give position")))
        : null,
      h("h3", null, t("Joint statements")),
      c.statements.length ? c.statements.map((s) => statementBlock(c, s)) : h("p", { class: "empty" }, t("No joint statement yet.")),
      c.phase !== "closed" && me && decides()
        ? h("form", {
            class: "statement-form",
            onsubmit: (ev) => {
              ev.preventDefault();
              if (!state.statement.trim()) return;
              run(() => api.post(path("/statements"), { text: state.statement.trim() }), () => { state.statement = ""; });
            },
          },
          h("label", null, t("Draft a joint statement"), h("textarea", { rows: 3, value: state.statement, dataset: { key: "statement-text" }, oninput: (e) => { state.statement = e.target.value; } })),
          h("button", { type: "submit", class: "primary", disabled: state.busy, dataset: { key: "statement-submit" } }, t("Propose statement")))
        : null,
      h("h3", null, t("Timeline")),
      h("ol", { class: "timeline" }, timeline(c).map((r) =>
        h("li", null,
          h("time", { datetime: r.at }, formatTime(r.at)), " ",
          r.nation ? h("strong", null, nationName(r.nation)) : null,
          r.by ? h("span", { class: "by" }, ` ${r.by}`) : null,
          " ", r.what))),
    );
  }

  function render() {
    replaceChildren(element, listPane(), detailPane());
    ctx.invalidate("banner");
  }

  load();
  return {
    element,
    render,
    show() {
      if (ticker === null) ticker = setInterval(tick, TICK_MS);
      tick();
    },
    hide() {
      clearInterval(ticker);
      ticker = null;
    },
    onEvent(ev) {
      if (ev.type === "consultation") loadSoon();
    },
    onScreen() {
      // Consultations carry no classification of their own yet; marked if they ever do.
      const c = state.detail;
      return c && c.classification ? [{ classification: c.classification, rel_to: c.rel_to || Object.keys(c.parties) }] : [];
    },
  };
}

registerView({ id: "consultations", create });
