// Extension point for the console's other views (consultation room, warning-data map).
// A view registers itself with the API path it needs; until the node serves that path
// (listed in its /openapi.json) the console shows a placeholder tab saying what it awaits.
//
// registerView({
//   id: "consultations", label: "Consultations" (marked for translation), shortcut: "4",
//   requires: "/api/v1/consultations", comingWith: "Coming with ..." (marked too),
//   create(ctx) -> { element, show(), hide(), onEvent(event), onScreen() -> [{classification, rel_to}], render() }
// })
// show() and hide() are called as the view comes on and goes off screen (and hide() on logging
// out): a view starts its timers in show() and stops them in hide(), so none runs unseen.
import { N_ } from "./i18n.js";

const views = [];

export function registerView(view) {
  const known = views.findIndex((v) => v.id === view.id);
  if (known >= 0) views[known] = { ...views[known], ...view };
  else views.push(view);
}

export function extensionViews() {
  return views;
}

// Placeholders until their views are built (each module that builds one calls registerView
// with the same id and a create()).
registerView({
  id: "consultations",
  label: N_("Consultations"),
  shortcut: "4",
  requires: "/api/v1/consultations",
  comingWith: N_("Coming with the consultation API (the commitment to consult)."),
});
registerView({
  id: "map",
  label: N_("Map"),
  shortcut: "5",
  requires: "/api/v1/tracks",
  comingWith: N_("Coming with the warning-data API (fused tracks and impact predictions)."),
});
