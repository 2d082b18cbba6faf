// Standard crisis message templates (served by the node from web/templates.py with their text
// in every console language). Sending one sends its id and a body with every rendering.
import { LANGUAGES } from "./i18n.js";

let cache = null;

export async function loadTemplates() {
  if (!cache) {
    const resp = await fetch("/console/templates.json");
    cache = resp.ok ? await resp.json() : [];
  }
  return cache;
}

function utcNow() {
  return new Date().toISOString().slice(0, 16).replace("T", " ");
}

export function defaults(template) {
  const values = {};
  for (const field of template.fields) {
    values[field.name] = field.default === "{utc_now}" ? utcNow() : field.default;
  }
  return values;
}

export function missing(template, values) {
  return template.fields.filter((f) => !String(values[f.name] || "").trim()).map((f) => f.name);
}

/** One line per language: "[en] ...", "[ja] ...", "[ko] ..." (same rule as templates.render). */
export function render(template, values) {
  return LANGUAGES.map((lang) => {
    const text = template.text[lang].replace(/\{(\w+)\}/g, (whole, name) =>
      name in values ? String(values[name]).trim() : whole,
    );
    return `[${lang}] ${text}`;
  }).join("\n");
}
