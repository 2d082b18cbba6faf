// The node's API (API.md): JSON over HTTP with a bearer token, live events over a WebSocket.
// Everything goes to the page's own origin: the console never talks to any other host.

const TOKEN_KEY = "hotline.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor() {
    this.token = sessionStorage.getItem(TOKEN_KEY);
    this.onUnauthorized = () => {};
  }

  get loggedIn() {
    return Boolean(this.token);
  }

  async request(method, path, body) {
    const headers = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, "unreachable", String(err && err.message ? err.message : err));
    }
    if (resp.status === 204) return null;
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const error = (data && data.error) || {};
      if (resp.status === 401 && path !== "/api/v1/login") {
        this.forget();
        this.onUnauthorized();
      }
      throw new ApiError(resp.status, error.code || `http_${resp.status}`, error.message || resp.statusText);
    }
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body === undefined ? {} : body);
  }

  async login(handle, password) {
    const data = await this.request("POST", "/api/v1/login", { handle, password });
    this.token = data.token;
    sessionStorage.setItem(TOKEN_KEY, data.token);
    return data;
  }

  async logout() {
    try {
      if (this.token) await this.request("POST", "/api/v1/logout");
    } finally {
      this.forget();
    }
  }

  forget() {
    this.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

/** The live stream: reconnects with back-off; ``onOpen`` runs after every (re)connection. */
export class Stream {
  constructor(api, { onEvent, onStatus, onOpen }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onOpen = onOpen;
    this.socket = null;
    this.retry = 0;
    this.timer = null;
    this.pinger = null;
    this.closed = false;
  }

  connect() {
    if (!this.api.token || this.closed) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/api/v1/stream?token=${encodeURIComponent(this.api.token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    this.onStatus("connecting");
    socket.addEventListener("message", (msg) => {
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (event.type === "hello") {
        this.retry = 0;
        this.onStatus("live");
        this.onOpen();
        return;
      }
      this.onEvent(event);
    });
    socket.addEventListener("close", (ev) => {
      clearInterval(this.pinger);
      if (this.socket !== socket || this.closed) return;
      if (ev.code === 4401) {
        this.api.forget();
        this.api.onUnauthorized();
        return;
      }
      this.onStatus("reconnecting");
      const delay = Math.min(10000, 500 * 2 ** this.retry);
      this.retry += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
    this.pinger = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, 25000);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}
