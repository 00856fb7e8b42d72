// Keys (admin): who may use the API, and onboarding without a shell. A department's clerks get a key
// of the department role scoped to city:department; an enterprise's reporter one of the enterprise role
// scoped to its credit code. A new key is shown once (the server keeps only its SHA-256).

import { gql, gqlStrict } from "../api.js";
import { h, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

const ROLES = ["DEPARTMENT", "ENTERPRISE", "ANALYST", "STEWARD", "ADMIN", "PUBLIC"];

export async function renderKeys(main, { go, toast, showError }) {
  const [{ data }, status] = await Promise.all([gql(Q.API_KEYS), gql(Q.FEED_STATUS, { department: null })]);
  const departments = [...new Set(status.data.feedStatus.map((f) => `${f.city}:${f.department}`))].sort();
  const role = h("select", { "data-testid": "key-role" }, ROLES.map((r) => h("option", { value: r }, t(`role.${r.toLowerCase()}`))));
  const name = h("input", { placeholder: t("keys.nameHint"), "data-testid": "key-name" });
  const scope = h("input", { placeholder: t("keys.scopeHint"), list: "key-departments", "data-testid": "key-scope" });
  const shown = h("div", { "data-testid": "key-created" });
  const create = h("button", { class: "primary", "data-testid": "key-create", onclick: async () => {
    try {
      const made = (await gqlStrict(Q.CREATE_API_KEY, { role: role.value, name: name.value, scope: scope.value || null })).createApiKey;
      replace(shown, h("div", { class: "notice" }, t("keys.once"), h("code", { class: "mono", "data-testid": "key-value" }, made.key)));
      toast(t("keys.created", { name: made.name }));
    } catch (error) {
      showError(error);
    }
  } }, t("keys.create"));
  replace(main,
    h("div", { class: "toolbar" }, h("h1", {}, t("keys.title"))),
    h("section", { class: "report-form" }, h("h2", {}, t("keys.new")),
      h("label", { class: "field" }, t("keys.role"), role), h("label", { class: "field" }, t("keys.name"), name),
      h("label", { class: "field" }, t("keys.scope"), scope), h("datalist", { id: "key-departments" }, departments.map((d) => h("option", { value: d }))),
      h("div", { class: "actions" }, create), shown),
    h("h2", {}, t("keys.existing")),
    h("table", { class: "compact", "data-testid": "keys" },
      h("tr", {}, ["name", "role", "scope", "created.col"].map((k) => h("th", {}, t(`keys.${k}`))), h("th", {})),
      data.apiKeys.map((k) => h("tr", { "data-key": k.name },
        h("td", {}, k.name), h("td", {}, t(`role.${k.role.toLowerCase()}`)), h("td", { class: "mono" }, k.scope || "—"), h("td", {}, text(k.created)),
        h("td", {}, h("button", { class: "link", "data-testid": "key-revoke", onclick: () => gqlStrict(Q.REVOKE_API_KEY, { name: k.name })
          .then(() => go("/keys", { at: String(Date.now()) })).catch(showError) }, t("keys.revoke")))))));
}
