// Languages, message catalogs (gettext .po files served as JSON by the node), dates and times
// in the official's time zone. Every string the console shows goes through t().

export const LANGUAGES = ["en", "ja", "ko"];
/** Each language named in itself (not translated on purpose: a reader finds their own). */
export const LANGUAGE_NAMES = { en: "English", ja: "日本語", ko: "한국어" };
const STORAGE_KEY = "hotline.lang";

let language = "en";
let catalog = {};
let timeZone = "UTC";
const listeners = new Set();

/** Mark a string for extraction without translating it here (translate with t() later). */
export const N_ = (message) => message;

/** The translation of ``message`` in the current language, ``{name}`` filled from params. */
export function t(message, params) {
  const text = catalog[message] || message;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function currentLanguage() {
  return language;
}

export function initialLanguage() {
  const url = new URLSearchParams(location.search).get("lang");
  if (LANGUAGES.includes(url)) return url;
  const stored = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of navigator.languages || []) {
    const base = tag.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = "en";
  const resp = await fetch(`/console/i18n/${lang}.json`);
  catalog = resp.ok ? (await resp.json()).messages : {};
  language = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
}

export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    timeZone = zone;
  } catch {
    timeZone = "UTC";
  }
}

export function currentTimeZone() {
  return timeZone;
}

const formats = new Map();
function format(kind) {
  const key = `${language}|${timeZone}|${kind}`;
  if (!formats.has(key)) {
    const options = {
      time: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone },
      datetime: {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
        timeZoneName: "short", timeZone,
      },
      clock: {
        month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
        timeZoneName: "short", timeZone,
      },
      utc: { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" },
      date: { year: "numeric", month: "short", day: "numeric", timeZone },
    }[kind];
    formats.set(key, new Intl.DateTimeFormat(language, options));
  }
  return formats.get(key);
}

/** An ISO time (or Date) in the official's time zone and the chosen locale. */
export function formatTime(value, kind = "datetime") {
  if (!value) return "";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return format(kind).format(date);
}

/** "3 minutes ago" in the chosen locale (Intl.RelativeTimeFormat). */
export function ago(value, now = Date.now()) {
  if (!value) return "";
  const seconds = Math.round((new Date(value).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(language, { numeric: "auto", style: "short" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

export function formatNumber(value) {
  return new Intl.NumberFormat(language).format(value);
}

/** A span of time as a clock reads: "04:32" under an hour, "1:02:03" above (hours unbounded). */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? [h, two(m), two(s)].join(":") : [two(m), two(s)].join(":");
}

// ---- <input type="datetime-local"> in the official's zone (the browser's may differ) ----

const partsFormat = new Map();
function wallClock(ms) {
  if (!partsFormat.has(timeZone)) {
    partsFormat.set(timeZone, new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  const p = Object.fromEntries(partsFormat.get(timeZone).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour, minute: +p.minute, second: +p.second };
}

/** ``date`` as a datetime-local value ("2026-11-22T09:05") in the official's time zone. */
export function toZonedInput(date) {
  const w = wallClock(date instanceof Date ? date.getTime() : Date.parse(date));
  const two = (n) => String(n).padStart(2, "0");
  return [String(w.year).padStart(4, "0"), two(w.month), two(w.day)].join("-") + "T" + [two(w.hour), two(w.minute)].join(":");
}

/** A datetime-local value read as a wall-clock time in the official's zone; null if invalid. */
export function fromZonedInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  const offset = (ms) => {
    const w = wallClock(ms);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
  };
  // Twice: the offset at the guess can differ from the offset at the answer (DST changes).
  let utc = wall - offset(wall);
  utc = wall - offset(utc);
  return Number.isNaN(utc) ? null : new Date(utc);
}
