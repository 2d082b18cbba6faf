// Safe DOM building: text is always text (never parsed as HTML).

/**
 * h("button", {class: "x", onclick: fn, dataset: {id: "m1"}, "aria-label": "..."}, "text", child)
 * Attributes whose value is null, undefined or false are left out; true sets an empty attribute.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = value;
    else if (key === "value") el.value = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string" && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A click is a press and a release on the same element: a re-render between the two (a stream
// update arriving while an officer presses "Acknowledge") would replace the pressed button and
// lose the click. So a replacement of a subtree holding the pressed element waits until the
// press ends, and runs after that press's click (a later task than pointerup).
let pressed = null;
const waiting = new Map();
function released() {
  pressed = null;
  if (waiting.size === 0) return;
  const jobs = [...waiting.values()];
  waiting.clear();
  setTimeout(() => jobs.forEach((job) => job()), 0);
}
// Only a primary press makes a click; a secondary one opens a menu and may never be released here.
document.addEventListener("pointerdown", (e) => {
  pressed = e.button === 0 && e.target instanceof Element ? e.target : null;
}, true);
for (const type of ["pointerup", "pointercancel", "contextmenu", "dragstart"]) {
  document.addEventListener(type, released, true);
}
window.addEventListener("blur", released);

/** Replace the children of ``el``, keeping focus on the element with the same data-key; while
 * an element inside ``el`` is pressed, the latest replacement waits for the release. */
export function replaceChildren(el, ...children) {
  if (pressed && el.contains(pressed)) {
    waiting.set(el, () => replaceChildren(el, ...children));
    return;
  }
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : null;
  el.replaceChildren();
  append(el, children);
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

export function isTyping(target) {
  if (!(target instanceof Element)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}
