// Log in with handle and password; the token is kept in sessionStorage (this tab only).
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { nationName } from "../labels.js";
import { languageSelect } from "./shell.js";

export function loginView(state, actions) {
  const node = state.node;
  return h(
    "main",
    { class: "login", id: "main" },
    h(
      "form",
      {
        class: "login-form",
        "aria-labelledby": "login-title",
        onsubmit: (ev) => {
          ev.preventDefault();
          const data = new FormData(ev.target);
          actions.login(String(data.get("handle") || "").trim(), String(data.get("password") || ""));
        },
      },
      h("h1", { id: "login-title" }, h("span", { class: "logo", "aria-hidden": "true" }, "☎ "), t("Hotline operations console")),
      node ? h("p", { class: "node" }, t("{nation} node", { nation: nationName(node.nation) }), " · ", h("span", { class: "code" }, node.compact)) : null,
      h("label", null, t("Handle"), h("input", { name: "handle", autocomplete: "username", required: true, autofocus: true, spellcheck: "false", autocapitalize: "off", dataset: { key: "login-handle" }, value: state.handle || "", oninput: (ev) => { state.handle = ev.target.value; } })),
      h("label", null, t("Password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, dataset: { key: "login-password" }, value: state.password || "", oninput: (ev) => { state.password = ev.target.value; } })),
      languageSelect(actions.setLanguage, "login-language"),
      h("button", { type: "submit", class: "primary", disabled: state.busy, dataset: { key: "login-submit" } }, t("Log in")),
      h("p", { class: "error", role: "alert" }, state.error || ""),
    ),
  );
}
