// What the console knows: the official, channels, messages with receipts and escalation state,
// what awaits this nation's acknowledgment, peers. Views read it; app.js changes it.

export class Store {
  constructor() {
    this.reset();
  }

  reset() {
    this.me = null;
    this.node = null;
    this.channels = [];
    this.messages = new Map(); // id -> message view (API.md), oldest first per channel
    this.byChannel = new Map(); // channel id -> [message ids], oldest first
    this.receipts = new Map(); // id -> {NATION: {delivered_at, read_at, read_by, acked_at, acked_by}}
    this.escalation = new Map(); // id -> {NATION: {state, level, next_at, ...}}
    this.detailLoaded = new Set(); // ids whose full detail came from GET /messages/{id}
    this.pending = new Map(); // id -> message awaiting this nation's acknowledgment
    this.arrived = new Map(); // id -> when it arrived on the stream (local ms)
    this.inbox = [];
    this.peers = null;
    this.peersError = null;
    this.alerts = [];
    this.selectedChannel = null;
    this.selectedMessage = null;
    this.stream = "offline";
    this.tab = "hotline";
    this.draft = null;
    this.apis = new Set(); // API paths the node serves (from /openapi.json)
    this.cursors = new Map(); // channel id -> last message id of its history, in node order
  }

  channel(id) {
    return this.channels.find((c) => c.id === id) || null;
  }

  /** Add or update a message; ``live`` (from the stream) may make it await our acknowledgment
   * (history and inbox loads leave that to the inbox, which knows the receipts). */
  addMessage(msg, live = false) {
    const known = this.messages.get(msg.id);
    this.messages.set(msg.id, { ...(known || {}), ...stripped(msg) });
    if (!known) {
      const ids = this.byChannel.get(msg.channel) || [];
      ids.push(msg.id);
      ids.sort((a, b) => time(this.messages.get(a)) - time(this.messages.get(b)));
      this.byChannel.set(msg.channel, ids);
    }
    if (live && !known && this.awaitsUs(msg) && !this.ackedByUs(msg.id)) {
      this.pending.set(msg.id, this.messages.get(msg.id));
      this.arrived.set(msg.id, Date.now());
    }
  }

  /** The inbox (GET /api/v1/inbox) is the truth about what awaits us, except for what arrived
   * on the stream after the request left (``since``, local ms). */
  applyInbox(rows, since) {
    const keep = [...this.pending.keys()].filter((id) => (this.arrived.get(id) || 0) >= since);
    const pending = new Map();
    for (const row of rows) {
      this.applyDetail(row);
      pending.set(row.id, this.messages.get(row.id));
    }
    for (const id of keep) if (!this.ackedByUs(id)) pending.set(id, this.messages.get(id));
    this.pending = pending;
    this.inbox = rows.map((r) => r.id);
  }

  /** Whether ``msg`` is one this nation must acknowledge (another nation sent it to us). */
  awaitsUs(msg) {
    return Boolean(this.me) && msg.nation !== this.me.nation && msg.rel_to.includes(this.me.nation);
  }

  ackedByUs(id) {
    const mine = (this.receipts.get(id) || {})[this.me.nation];
    return Boolean(mine && mine.acked_at);
  }

  /** A detail view (GET /messages/{id}, POST .../ack, inbox rows). */
  applyDetail(detail) {
    this.addMessage(detail);
    this.receipts.set(detail.id, structuredClone(detail.receipts || {}));
    this.escalation.set(detail.id, structuredClone(detail.escalation || {}));
    this.detailLoaded.add(detail.id);
    if (this.ackedByUs(detail.id) || !this.awaitsUs(detail)) this.pending.delete(detail.id);
    else this.pending.set(detail.id, this.messages.get(detail.id));
  }

  applyReceipt(ev) {
    const all = this.receipts.get(ev.message_id) || {};
    const row = all[ev.nation] || {};
    if (ev.kind === "delivered") row.delivered_at = row.delivered_at || ev.at;
    if (ev.kind === "read") {
      row.read_at = row.read_at || ev.at;
      row.read_by = row.read_by || ev.by;
    }
    if (ev.kind === "acknowledged") {
      row.acked_at = row.acked_at || ev.at;
      row.acked_by = row.acked_by || ev.by;
      const esc = (this.escalation.get(ev.message_id) || {})[ev.nation];
      if (esc) Object.assign(esc, { state: "acknowledged", next_at: null });
    }
    all[ev.nation] = row;
    this.receipts.set(ev.message_id, all);
    if (this.me && ev.nation === this.me.nation && ev.kind === "acknowledged") {
      this.pending.delete(ev.message_id);
      this.inbox = this.inbox.filter((id) => id !== ev.message_id);
    }
  }

  applyEscalation(ev) {
    const all = this.escalation.get(ev.message_id) || {};
    const known = all[ev.nation] || {};
    if (known.state === "acknowledged" || (known.level || 0) > ev.level) return;
    all[ev.nation] = { ...known, state: "escalated", level: ev.level, notified: ev.notified, escalated_at: ev.at, next_at: ev.next_at };
    this.escalation.set(ev.message_id, all);
  }

  /** Awaiting our acknowledgment, FLASH first, then oldest first (as the inbox orders them). */
  pendingList() {
    const rank = { flash: 0, immediate: 1, priority: 2, routine: 3 };
    return [...this.pending.values()].sort(
      (a, b) => rank[a.precedence] - rank[b.precedence] || time(a) - time(b),
    );
  }

  pendingFlash() {
    return this.pendingList().filter((m) => m.precedence === "flash");
  }

  channelMessages(id) {
    return (this.byChannel.get(id) || []).map((mid) => this.messages.get(mid));
  }
}

function time(msg) {
  return msg ? Date.parse(msg.sent_at) : 0;
}

function stripped(msg) {
  const { receipts, escalation, type, ...rest } = msg;
  return rest;
}
