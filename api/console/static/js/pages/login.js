// Login: an API key (egk_…) or a bearer token, checked by asking the API who it is (me { role }).
// Anonymous visitors are the public role: masked data, no stewardship.

import { ApiError, gql, principalOf, session } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

export async function renderLogin(main, { go }) {
  const input = h("input", { type: "password", autocomplete: "off", placeholder: "egk_… / eyJ…", "data-testid": "credential", required: true });
  const message = h("p", { class: "error-text", "data-testid": "login-error", hidden: true });
  const form = h("form", { class: "login card" },
    h("h1", {}, t("login.title")),
    h("p", { class: "muted" }, t("login.help")),
    h("label", {}, t("login.credential"), input),
    message,
    h("div", { class: "actions" }, h("button", { type: "submit", "data-testid": "login-submit" }, t("login.submit"))),
    h("h3", {}, t("login.roles")),
    h("ul", { class: "plain" }, ["public", "analyst", "steward", "admin"].map((r) => h("li", {}, h("strong", {}, t(`role.${r}`)), " — ", t(`roleHelp.${r}`)))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const previous = session.credential();
    session.login(input.value);
    try {
      const { data } = await gql(Q.ME, {}, { quiet: true });
      session.principal = principalOf(data.me);
      go("/search");
    } catch (error) {
      if (previous) session.login(previous);
      else session.logout();
      message.hidden = false;
      replace(message, error instanceof ApiError && error.status === 401 ? t("login.refused", { why: error.message }) : error.message);
    }
  });
  replace(main, form);
  input.focus();
}
