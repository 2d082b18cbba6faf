// Compose: precedence, classification, releasability, a standard template or free text.
// Enter sends (Shift+Enter: a new line).
import { h } from "../dom.js";
import { currentLanguage, t } from "../i18n.js";
import { PRECEDENCES, channelMembers, classificationName, nationName, precedenceName } from "../labels.js";
import { LEVELS, level, portionClass, portionMark } from "../marking.js";
import { defaults, missing, render } from "../templates.js";

export function newDraft(channel, me) {
  return {
    channel: channel.id,
    precedence: "routine",
    classification: "unclassified",
    relTo: channelMembers(channel).slice(),
    template: "",
    values: {},
    body: "",
    error: "",
    sending: false,
    nation: me.nation,
  };
}

/** The classification marking of what is being written (counts for the banners once typed). */
export function draftMarking(draft) {
  if (!draft || !(draft.body.trim() || draft.template)) return null;
  return { classification: draft.classification, rel_to: draft.relTo };
}

export function composeForm(store, templates, actions) {
  const draft = store.draft;
  const channel = store.channel(draft.channel);
  if (channel.consultation?.closed) {
    // The node refuses a new message on a closed consultation's channel (409
    // consultation_closed): say so here instead of offering a form that can only fail.
    return h(
      "section",
      { class: "compose compose-closed", "aria-labelledby": "compose-title" },
      h("h2", { id: "compose-title" }, t("Consultation closed")),
      h("p", null, t("Its channel keeps its history, and its messages can still be acknowledged, but it takes no new message. Send on the layer's trilateral channel instead.")),
    );
  }
  const members = channelMembers(channel);
  const ceiling = Math.min(level(channel.max_classification), level(store.me.clearance));
  const tpl = templates.find((x) => x.id === draft.template) || null;
  const lang = currentLanguage();

  const changed = (fn) => (ev) => {
    fn(ev.target);
    actions.draftChanged();
  };
  const preview = h("pre", { class: "preview", "aria-live": "polite" }, tpl ? render(tpl, draft.values) : "");
  const marking = () => ({ classification: draft.classification, rel_to: draft.relTo });
  const mark = h("span", { class: [...portionClass(marking()), "draft-mark"] }, portionMark(marking()));
  const refresh = () => {
    if (tpl) preview.textContent = render(tpl, draft.values);
    mark.textContent = portionMark(marking());
    mark.className = [...portionClass(marking()), "draft-mark"].join(" ");
  };

  const body = h("textarea", {
    id: "compose-body",
    name: "body",
    rows: 3,
    dataset: { key: "compose-body" },
    placeholder: t("Message text"),
    "aria-describedby": "compose-hint",
    value: draft.body,
    oninput: changed((el) => { draft.body = el.value; }),
    onkeydown: (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        ev.target.form.requestSubmit();
      }
    },
  });

  const form = h(
    "form",
    {
      class: "compose",
      "aria-labelledby": "compose-title",
      novalidate: true,
      onsubmit: (ev) => {
        ev.preventDefault();
        actions.send();
      },
    },
    h("h2", { id: "compose-title" }, t("Send to {channel}", { channel: members.map(nationName).join(" · ") })),
    h(
      "div",
      { class: "row" },
      h("label", null, t("Precedence"),
        h("select", {
          name: "precedence",
          dataset: { key: "compose-precedence" },
          onchange: changed((el) => { draft.precedence = el.value; }),
        }, PRECEDENCES.map((p) => h("option", { value: p, selected: p === draft.precedence }, precedenceName(p))))),
      h("label", null, t("Classification"),
        h("select", {
          name: "classification",
          dataset: { key: "compose-classification" },
          onchange: changed((el) => { draft.classification = el.value; refresh(); }),
        }, LEVELS.filter((c) => level(c) <= ceiling).map((c) => h("option", { value: c, selected: c === draft.classification }, classificationName(c))))),
      h(
        "fieldset",
        { class: "relto" },
        h("legend", null, t("Releasable to")),
        members.map((n) =>
          h("label", { class: "check" },
            h("input", {
              type: "checkbox",
              name: "rel_to",
              value: n,
              dataset: { key: `compose-rel-${n}` },
              checked: draft.relTo.includes(n),
              disabled: n === store.me.nation || members.length < 3,
              onchange: changed((el) => {
                draft.relTo = members.filter((m) => (m === el.value ? el.checked : draft.relTo.includes(m)));
                refresh();
              }),
            }),
            " ", n)),
      ),
      h("label", null, t("Template"),
        h("select", {
          name: "template",
          dataset: { key: "compose-template" },
          onchange: (ev) => actions.chooseTemplate(ev.target.value),
        },
        h("option", { value: "" }, t("None (free text)")),
        templates.map((x) => h("option", { value: x.id, selected: x.id === draft.template }, x.name[lang])))),
    ),
    tpl
      ? h(
          "div",
          { class: "template-fields" },
          tpl.fields.map((f) =>
            h("label", null, f.label[lang],
              h("input", {
                name: `field-${f.name}`,
                dataset: { key: `compose-field-${f.name}` },
                value: draft.values[f.name] || "",
                required: true,
                oninput: changed((el) => { draft.values[f.name] = el.value; refresh(); }),
              }))),
          h("div", { class: "preview-wrap" }, h("span", { class: "label" }, t("Sent in every language as:")), preview),
        )
      : h("label", { class: "body" }, h("span", { class: "sr-only" }, t("Message text")), body),
    h(
      "div",
      { class: "row send-row" },
      mark,
      h("span", { id: "compose-hint", class: "hint" }, t("Enter sends; Shift+Enter starts a new line.")),
      h("button", { type: "submit", class: "primary", disabled: draft.sending, dataset: { key: "compose-send" } }, t("Send")),
    ),
    h("p", { class: "error", role: "alert" }, draft.error || ""),
  );
  return form;
}

/** The request body for POST /channels/{id}/messages, or an error message to show. */
export function draftRequest(draft, templates, channel) {
  const tpl = templates.find((x) => x.id === draft.template) || null;
  const members = channelMembers(channel);
  if (draft.relTo.length < 2) return { error: t("Release to at least one other nation.") };
  const req = { precedence: draft.precedence, classification: draft.classification };
  if (draft.relTo.length < members.length) req.rel_to = draft.relTo.slice();
  if (tpl) {
    if (missing(tpl, draft.values).length) return { error: t("Fill in every field of the template.") };
    req.template = tpl.id;
    req.body = render(tpl, draft.values);
  } else {
    if (!draft.body.trim()) return { error: t("Write a message first.") };
    req.body = draft.body;
  }
  return { request: req };
}

export function applyTemplate(draft, templates, id) {
  const tpl = templates.find((x) => x.id === id) || null;
  draft.template = tpl ? tpl.id : "";
  draft.values = tpl ? defaults(tpl) : {};
  if (tpl) {
    draft.precedence = tpl.precedence;
    draft.classification = tpl.classification;
  }
}
