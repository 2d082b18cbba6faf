// The operations console: boot, session, live stream, actions, keyboard, rendering.
// Plain ES modules, no build step; every request goes to this page's own node.
import { Api, ApiError, Stream } from "./api.js";
import { h, isTyping, replaceChildren } from "./dom.js";
import { extensionViews } from "./extensions.js";
import {
  LANGUAGES, N_, currentLanguage, formatTime, initialLanguage, onLanguageChange, setLanguage,
  setTimeZone, t,
} from "./i18n.js";
import { banner, level, LEVELS } from "./marking.js";
import { beep, unlockAudio } from "./sound.js";
import { Store } from "./store.js";
import { loadTemplates } from "./templates.js";
import { applyTemplate, composeForm, draftMarking, draftRequest, newDraft } from "./views/compose.js";
import { channelList, messageList, shownMessages } from "./views/hotline.js";
import { inboxItems, inboxView } from "./views/inbox.js";
import { loginView } from "./views/login.js";
import { peersView } from "./views/peers.js";
import { placeholderView } from "./views/placeholder.js";
import { receiptsBoard } from "./views/receipts.js";
import { alertsBar, flashBanner, header, helpDialog, tabs } from "./views/shell.js";
// The consultation room, the map and the cadence register themselves as extension views.
import "./views/consultations.js";
import "./views/map.js";
import "./views/cadence.js";

const FLASH_REPEAT_MS = 30000;
const PEERS_POLL_MS = 10000;
const HISTORY_PAGE = 1000;

const api = new Api();
const store = new Store();
const root = document.getElementById("app");
// What the official typed survives a re-render of the form (the node's name arrives later).
const login = { node: null, busy: false, error: "", handle: "", password: "" };
let templates = [];
let stream = null;
let layout = null;
let timers = [];
let pendingFocus = null;
let detailTimer = null;
let inboxTimer = null;
let channelsTimer = null;
const dirty = new Set();
let scheduled = false;

if (new URLSearchParams(location.search).get("wall") === "1") document.documentElement.classList.add("wall");

// ---- views (tabs) -------------------------------------------------------------------------

const builtin = [
  { id: "hotline", label: N_("Hotline"), shortcut: "1" },
  {
    id: "inbox", label: N_("Inbox"), shortcut: "2",
    count: (s) => s.pending.size, flash: (s) => s.pendingFlash().length > 0,
  },
  { id: "peers", label: N_("Peers"), shortcut: "3" },
];
const views = () => [...builtin, ...extensionViews()];
const extension = (id) => extensionViews().find((v) => v.id === id);
const instances = new Map(); // extension view id -> its created instance
let visible = null; // the extension instance on screen (shown: its timers run), or null

// ---- rendering ----------------------------------------------------------------------------

function invalidate(...parts) {
  for (const p of parts) dirty.add(p);
  if (!scheduled) {
    scheduled = true;
    setTimeout(flush, 0);
  }
}

const ALL = ["header", "flash", "alerts", "tabs", "channels", "messages", "compose", "detail", "main"];

function flush() {
  scheduled = false;
  const parts = new Set(dirty);
  dirty.clear();
  if (!store.me) {
    layout = null;
    replaceChildren(root, loginView(login, actions));
    updateBanners();
    return;
  }
  if (!layout) {
    buildLayout();
    ALL.forEach((p) => parts.add(p));
  }
  const hotline = store.tab === "hotline";
  if (parts.has("header")) replaceChildren(layout.header, header(store, actions));
  if (parts.has("flash")) replaceChildren(layout.flash, flashBanner(store, actions));
  if (parts.has("alerts")) replaceChildren(layout.alerts, alertsBar(store, actions));
  if (parts.has("tabs")) replaceChildren(layout.tabs, tabs(store, views(), actions));
  layout.main.setAttribute("aria-labelledby", `tab-${store.tab}`);
  layout.grid.hidden = !hotline;
  layout.view.hidden = hotline;
  if (hotline) {
    if (parts.has("channels")) replaceChildren(layout.channels, channelList(store, actions));
    if (parts.has("messages")) replaceChildren(layout.list, messageList(store, actions));
    if (parts.has("compose")) {
      replaceChildren(layout.compose, store.draft ? composeForm(store, templates, actions) : null);
    }
    if (parts.has("detail")) replaceChildren(layout.detail, receiptsBoard(store, actions));
  } else if (parts.has("main")) {
    renderView(parts);
  }
  showInstance(hotline ? null : instances.get(store.tab) || null);
  if (pendingFocus) {
    const el = root.querySelector(`[data-key="${CSS.escape(pendingFocus)}"]`);
    if (el) {
      el.focus();
      el.scrollIntoView({ block: "nearest" });
    }
    pendingFocus = null;
  }
  updateBanners();
}

function buildLayout() {
  layout = {
    header: h("div", { class: "hdr" }),
    flash: h("div", { class: "flash-slot" }),
    alerts: h("div", { class: "alerts-slot" }),
    tabs: h("div", { class: "tabs-slot" }),
    channels: h("aside", { class: "channels-pane" }),
    list: h("div", { class: "list-pane" }),
    compose: h("div", { class: "compose-pane" }),
    detail: h("aside", { class: "detail-pane", "aria-labelledby": "receipts-title" }),
    view: h("div", { class: "view-pane" }),
  };
  layout.grid = h(
    "div",
    { class: "hotline-grid" },
    layout.channels,
    h("section", { class: "messages-pane", "aria-labelledby": "messages-title" }, layout.list, layout.compose),
    layout.detail,
  );
  layout.main = h("main", { id: "main", role: "tabpanel", tabindex: "-1" }, layout.grid, layout.view);
  layout.help = helpDialog();
  replaceChildren(root, layout.header, layout.flash, layout.alerts, layout.tabs, layout.main, layout.help);
}

function renderView(parts) {
  const tab = store.tab;
  if (tab === "inbox") return replaceChildren(layout.view, inboxView(store, actions));
  if (tab === "peers") return replaceChildren(layout.view, peersView(store));
  const ext = extension(tab);
  if (!ext) return replaceChildren(layout.view);
  if (!ext.create || !store.apis.has(ext.requires)) return replaceChildren(layout.view, placeholderView(ext));
  let inst = instances.get(tab);
  if (!inst) {
    inst = ext.create(context);
    instances.set(tab, inst);
  }
  // An extension view renders itself on its own events; here only when (re)shown or when the
  // language changed, so that what an official is typing in it is not redrawn under them.
  const shown = inst.element.parentNode !== layout.view;
  if (shown) replaceChildren(layout.view, inst.element);
  if ((shown || parts.has("lang")) && inst.render) inst.render();
}

/** Tell extension views when they come on and go off screen (they start and stop their timers). */
function showInstance(inst) {
  if (inst === visible) return;
  if (visible && visible.hide) visible.hide();
  visible = inst;
  if (inst && inst.show) inst.show();
}

/** What is on screen, for the banners: {classification, rel_to} of every item shown. */
function onScreen() {
  if (!store.me) return [];
  const items = store.pendingFlash().slice(0, 1);
  if (store.tab === "hotline") {
    items.push(...shownMessages(store));
    if (store.selectedMessage) items.push(store.messages.get(store.selectedMessage));
    items.push(draftMarking(store.draft));
  } else if (store.tab === "inbox") {
    items.push(...inboxItems(store));
  } else {
    const inst = instances.get(store.tab);
    if (inst && inst.onScreen) items.push(...inst.onScreen());
  }
  return items.filter(Boolean);
}

function updateBanners() {
  const b = banner(onScreen());
  for (const id of ["banner-top", "banner-bottom"]) {
    const el = document.getElementById(id);
    el.textContent = b.text;
    el.className = `classification-banner cls-${b.classification}`;
    el.dataset.classification = b.classification;
  }
  document.body.dataset.classification = b.classification;
}

// ---- loading ------------------------------------------------------------------------------

async function loadHistory(channelId) {
  for (let page = 0; page < 50; page += 1) {
    const after = store.cursors.get(channelId);
    const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if (after) query.set("after", after);
    const rows = await api.get(`/api/v1/channels/${encodeURIComponent(channelId)}/messages?${query}`);
    for (const m of rows) store.addMessage(m);
    if (rows.length) store.cursors.set(channelId, rows[rows.length - 1].id);
    if (rows.length < HISTORY_PAGE) break;
  }
}

async function loadInbox() {
  const since = Date.now();
  const rows = await api.get("/api/v1/inbox");
  store.applyInbox(rows, since);
  invalidate("channels", "messages", "flash", "tabs", "main", "detail");
}

function loadInboxSoon() {
  clearTimeout(inboxTimer);
  inboxTimer = setTimeout(() => loadInbox().catch(report), 300);
}

/** A message on a channel the console does not list: a consultation opened its own channel. */
function loadChannelsSoon() {
  clearTimeout(channelsTimer);
  channelsTimer = setTimeout(async () => {
    try {
      const closed = () => Boolean(store.channel(store.draft?.channel)?.consultation?.closed);
      const before = closed();
      store.channels = await api.get("/api/v1/channels");
      invalidate("channels", "messages");
      // The channel being written on has closed: its form gives way to a notice.
      if (closed() !== before) invalidate("compose");
    } catch (err) {
      report(err);
    }
  }, 200);
}

/**
 * Whether a consultation event changes the channel list: a consultation's own channel appears
 * when it is invoked and is marked Closed when it closes.
 */
function consultationChannelStale(ev) {
  const listed = store.channels.find((c) => c.consultation && c.consultation.id === ev.consultation_id);
  if (!listed) return Boolean(ev.channel);
  return Boolean(listed.consultation.closed) !== (ev.phase === "closed");
}

async function loadPeers() {
  try {
    store.peers = await api.get("/api/v1/peers");
    store.peersError = null;
  } catch (err) {
    if (err.status === 404) store.peers = [];
    else store.peersError = messageOf(err);
  }
  invalidate("header", store.tab === "peers" ? "main" : "header");
}

async function loadDetail(id) {
  const detail = await api.get(`/api/v1/messages/${encodeURIComponent(id)}`);
  store.applyDetail(detail);
  invalidate("messages", "detail", "channels", "flash", "tabs", "main");
}

function refreshDetailSoon() {
  clearTimeout(detailTimer);
  const id = store.selectedMessage;
  if (id) detailTimer = setTimeout(() => loadDetail(id).catch(report), 150);
}

async function probeApis() {
  try {
    const doc = await api.get("/openapi.json");
    store.apis = new Set(Object.keys(doc.paths || {}));
  } catch {
    store.apis = new Set();
  }
}

async function catchUp() {
  await Promise.all(store.channels.map((c) => loadHistory(c.id)));
  await loadInbox();
  if (store.selectedMessage) await loadDetail(store.selectedMessage);
  invalidate(...ALL);
}

async function start() {
  store.me = await api.get("/api/v1/me");
  setTimeZone(store.me.timezone || "UTC");
  const [channels, tpls] = await Promise.all([api.get("/api/v1/channels"), loadTemplates(), probeApis()]);
  templates = tpls;
  store.channels = channels;
  const first = channels.find((c) => c.kind === "trilateral") || channels[0];
  if (first) {
    store.selectedChannel = first.id;
    store.draft = newDraft(first, store.me);
  }
  await Promise.all([...channels.map((c) => loadHistory(c.id)), loadPeers()]);
  await loadInbox();
  stream = new Stream(api, {
    onEvent,
    onStatus: (status) => {
      store.stream = status;
      invalidate("header");
    },
    onOpen: () => catchUp().catch(report),
  });
  stream.connect();
  timers = [
    setInterval(loadPeers, PEERS_POLL_MS),
    setInterval(() => {
      if (store.pendingFlash().length) beep();
    }, FLASH_REPEAT_MS),
    setInterval(tick, 1000),
    setInterval(() => invalidate("detail", store.tab === "peers" ? "main" : "detail"), 15000),
  ];
  invalidate(...ALL);
  if (store.pendingFlash().length) beep();
}

function tick() {
  const local = document.getElementById("clock-local");
  const utc = document.getElementById("clock-utc");
  if (local) local.textContent = formatTime(new Date(), "clock");
  if (utc) utc.textContent = `${formatTime(new Date(), "utc")} UTC`;
}

function stop() {
  if (stream) stream.close();
  stream = null;
  timers.forEach(clearInterval);
  timers = [];
  showInstance(null);
  instances.clear();
  store.reset();
  layout = null;
}

// ---- live events --------------------------------------------------------------------------

function onEvent(ev) {
  if (ev.type === "message") {
    if (!store.channel(ev.channel)) loadChannelsSoon();
    const fresh = !store.messages.has(ev.id);
    store.addMessage(ev, true);
    if (fresh && store.pending.has(ev.id) && ev.precedence === "flash") beep();
    invalidate("channels", "messages", "flash", "tabs", "main");
    if (store.awaitsUs(ev)) loadInboxSoon();
  } else if (ev.type === "receipt") {
    store.applyReceipt(ev);
    if (ev.message_id === store.selectedMessage) refreshDetailSoon();
    invalidate("channels", "messages", "flash", "tabs", "main", "detail");
  } else if (ev.type === "escalation") {
    store.applyEscalation(ev);
    if (ev.message_id === store.selectedMessage) refreshDetailSoon();
    if (ev.nation === store.me.nation && store.pending.has(ev.message_id)) beep();
    invalidate("messages", "flash", "main", "detail");
  } else if (ev.type === "consultation") {
    if (consultationChannelStale(ev)) loadChannelsSoon();
  } else if (ev.type === "alert") {
    store.alerts = [ev, ...store.alerts].slice(0, 5);
    invalidate("alerts");
  } else if (ev.type === "error") {
    report(new ApiError(0, ev.error && ev.error.code, ev.error && ev.error.message));
  }
  for (const inst of instances.values()) if (inst.onEvent) inst.onEvent(ev);
}

// ---- actions ------------------------------------------------------------------------------

function messageOf(err) {
  const known = {
    unreachable: N_("The node does not answer."),
    bad_credentials: N_("Wrong handle or password."),
    not_cleared: N_("You are not cleared for that classification."),
    bad_classification: N_("This channel does not carry that classification."),
    not_releasable: N_("Those nations cannot receive this message."),
    empty_body: N_("Write a message first."),
    already_acknowledged: N_("Your nation has already acknowledged this message."),
  };
  return err && known[err.code] ? t(known[err.code]) : (err && err.message) || String(err);
}

function report(err) {
  if (err instanceof ApiError && err.status === 401) return;
  store.alerts = [{ kind: "error", message: messageOf(err) }, ...store.alerts].slice(0, 5);
  invalidate("alerts");
}

function focusLater(key) {
  pendingFocus = key;
}

const actions = {
  async login(handle, password) {
    unlockAudio();
    login.busy = true;
    login.error = "";
    login.handle = handle;
    login.password = "";
    invalidate();
    try {
      await api.login(handle, password);
      await start();
    } catch (err) {
      if (store.me === null) api.forget();
      login.error = err instanceof ApiError && err.status === 401 ? t("Wrong handle or password.") : messageOf(err);
      focusLater("login-password");
    } finally {
      login.busy = false;
      invalidate();
    }
  },

  async logout() {
    try {
      await api.logout();
    } catch {
      // the token is forgotten either way
    }
    stop();
    login.error = "";
    invalidate();
  },

  async setLanguage(lang) {
    await setLanguage(lang);
  },

  selectChannel(id, focus = true) {
    const channel = store.channel(id);
    if (!channel) return;
    if (store.selectedChannel !== id) {
      store.selectedChannel = id;
      store.selectedMessage = null;
      store.draft = newDraft(channel, store.me);
    }
    if (focus) focusLater(`channel-${id}`);
    invalidate("channels", "messages", "compose", "detail");
  },

  selectMessage(id, focus = true) {
    store.selectedMessage = id;
    if (focus) focusLater(`msg-${id}`);
    invalidate("messages", "detail");
    loadDetail(id).catch(report);
  },

  openMessage(id) {
    const msg = store.messages.get(id);
    if (!msg) return;
    store.tab = "hotline";
    actions.selectChannel(msg.channel, false);
    actions.selectMessage(id);
    invalidate(...ALL);
  },

  async acknowledge(id) {
    try {
      store.applyDetail(await api.post(`/api/v1/messages/${encodeURIComponent(id)}/ack`));
    } catch (err) {
      if (err.code !== "already_acknowledged") return report(err);
      await loadDetail(id).catch(report);
    }
    store.pending.delete(id);
    invalidate(...ALL);
  },

  async send() {
    const draft = store.draft;
    if (!draft || draft.sending) return;
    const channel = store.channel(draft.channel);
    const { request, error } = draftRequest(draft, templates, channel);
    draft.error = error || "";
    if (error) {
      invalidate("compose");
      return;
    }
    draft.sending = true;
    invalidate("compose");
    try {
      const sent = await api.post(`/api/v1/channels/${encodeURIComponent(channel.id)}/messages`, request);
      store.addMessage(sent);
      store.draft = newDraft(channel, store.me);
      store.draft.precedence = draft.precedence;
      store.draft.classification = draft.classification;
      store.draft.relTo = draft.relTo;
      store.selectedMessage = sent.id;
      focusLater("compose-body");
      invalidate("messages", "compose", "detail");
      loadDetail(sent.id).catch(report);
    } catch (err) {
      draft.error = messageOf(err);
      draft.sending = false;
      invalidate("compose");
    }
  },

  draftChanged() {
    updateBanners();
  },

  chooseTemplate(id) {
    const draft = store.draft;
    applyTemplate(draft, templates, id);
    const channel = store.channel(draft.channel);
    const ceiling = Math.min(level(channel.max_classification), level(store.me.clearance));
    if (level(draft.classification) > ceiling) draft.classification = LEVELS[ceiling];
    const tpl = templates.find((x) => x.id === id);
    focusLater(tpl && tpl.fields.length ? `compose-field-${tpl.fields[0].name}` : "compose-template");
    invalidate("compose");
  },

  showTab(id, focus = false) {
    store.tab = id;
    if (focus) focusLater(`tab-${id}`);
    invalidate("tabs", "main", "channels", "messages", "compose", "detail");
  },

  toggleWall() {
    document.documentElement.classList.toggle("wall");
    const url = new URL(location.href);
    if (document.documentElement.classList.contains("wall")) url.searchParams.set("wall", "1");
    else url.searchParams.delete("wall");
    history.replaceState(null, "", url);
    invalidate("header");
  },

  showHelp() {
    if (layout && !layout.help.open) layout.help.showModal();
  },

  dismissAlert(i) {
    store.alerts.splice(i, 1);
    invalidate("alerts");
  },
};

const context = { api, store, actions, invalidate, t };

// ---- keyboard -----------------------------------------------------------------------------

function moveSelection(delta) {
  const shown = shownMessages(store);
  if (!shown.length) return;
  const i = shown.findIndex((m) => m.id === store.selectedMessage);
  const next = i < 0 ? 0 : Math.max(0, Math.min(shown.length - 1, i + delta));
  actions.selectMessage(shown[next].id);
}

function moveChannel(delta) {
  const ids = store.channels.map((c) => c.id);
  const i = ids.indexOf(store.selectedChannel);
  actions.selectChannel(ids[(i + delta + ids.length) % ids.length]);
}

function acknowledgeShortcut() {
  const selected = store.selectedMessage;
  if (store.tab === "hotline" && selected && store.pending.has(selected)) return actions.acknowledge(selected);
  const flash = store.pendingFlash()[0];
  if (flash) return actions.acknowledge(flash.id);
  return undefined;
}

document.addEventListener("keydown", (ev) => {
  if (!store.me || ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (layout && layout.help.open) return;
  if (isTyping(ev.target)) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  const onMessage = ev.target instanceof Element && ev.target.classList.contains("msg");
  const key = ev.key;
  const tabKeys = Object.fromEntries(views().map((v) => [v.shortcut, v.id]));
  let handled = true;
  if (key === "a" || key === "A") acknowledgeShortcut();
  else if (key === "j" || (key === "ArrowDown" && onMessage)) moveSelection(+1);
  else if (key === "k" || (key === "ArrowUp" && onMessage)) moveSelection(-1);
  else if (key === "]") moveChannel(+1);
  else if (key === "[") moveChannel(-1);
  else if (key === "n" || key === "c") {
    actions.showTab("hotline");
    focusLater(store.draft && store.draft.template ? "compose-template" : "compose-body");
  } else if (key in tabKeys) actions.showTab(tabKeys[key], true);
  else if (key === "l") {
    const i = LANGUAGES.indexOf(currentLanguage());
    actions.setLanguage(LANGUAGES[(i + 1) % LANGUAGES.length]);
  } else if (key === "w") actions.toggleWall();
  else if (key === "?") actions.showHelp();
  else handled = false;
  if (handled) ev.preventDefault();
});
document.addEventListener("pointerdown", unlockAudio, { once: true });

// ---- boot ---------------------------------------------------------------------------------

api.onUnauthorized = () => {
  const wasIn = store.me !== null;
  stop();
  if (wasIn) login.error = t("Your session has ended; log in again.");
  invalidate();
};

onLanguageChange(() => {
  if (layout) {
    layout.help.remove();
    layout.help = helpDialog();
    root.append(layout.help);
  }
  invalidate(...ALL, "lang");
});

async function boot() {
  await setLanguage(initialLanguage());
  fetch("/healthz")
    .then((r) => (r.ok ? r.json() : null))
    .then((node) => {
      login.node = node;
      if (node) document.title = [t("Hotline"), node.nation].join(" · ");
      invalidate();
    })
    .catch(() => {});
  if (api.loggedIn) {
    try {
      await start();
    } catch {
      stop();
      api.forget();
    }
  }
  invalidate();
  document.body.dataset.ready = "1";
}

boot();
