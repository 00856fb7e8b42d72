// Warnings by town: open and acknowledged by default, with acknowledge and resolve (a feedback note is
// required to resolve) for stewards, and each warning's history.

import { can, gql, gqlStrict } from "../api.js";
import { ask } from "../dialog.js";
import { h, replace, text } from "../dom.js";
import { lang, t } from "../i18n.js";
import * as Q from "../queries.js";

const STATUSES = ["open", "acknowledged", "resolved"];

export async function renderWarnings(main, { query, go, toast, showError }) {
  const { data: townData } = await gql(Q.TOWNS);
  const towns = townData.enterpriseFacets.towns;
  const town = query.town || towns[0]?.value || "";
  const statuses = query.status ? query.status.split(",") : ["open", "acknowledged"];
  const townSelect = h("select", { "data-testid": "warning-town" }, towns.map((x) => h("option", { value: x.value, selected: x.value === town }, x.label || x.value)));
  const boxes = STATUSES.map((s) => h("label", {}, h("input", { type: "checkbox", value: s, checked: statuses.includes(s) }), t(`status.${s}`)));
  const apply = () => go("/warnings", { town: townSelect.value, status: boxes.map((b) => b.firstChild).filter((x) => x.checked).map((x) => x.value).join(",") });
  townSelect.addEventListener("change", apply);
  boxes.forEach((b) => b.firstChild.addEventListener("change", apply));
  const list = h("div", { class: "warning-list", "data-testid": "warning-list" });
  const count = h("p", { class: "muted", "data-testid": "warning-count" });
  const more = h("button", { class: "more", hidden: true }, t("search.more"));
  const onMap = town ? h("a", { href: `#/map?town=${encodeURIComponent(town)}`, "data-testid": "warning-map" }, t("map.open")) : null;
  replace(main, h("div", { class: "toolbar" }, h("h1", {}, t("warnings.title")), townSelect, onMap, h("span", { class: "checks" }, boxes)), count, list, more);
  if (!town) return null;
  let after = null;
  const load = async () => {
    const { data } = await gql(Q.WARNINGS, { town, statuses: statuses.length ? statuses : null, after });
    const page = data.warnings;
    replace(count, t("warnings.count", { count: page.totalCount }));
    for (const edge of page.edges) list.appendChild(card(edge.node, toast, showError));
    after = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
  };
  more.addEventListener("click", () => load().catch(showError));
  await load();
  return null;
}

function card(w, toast, showError) {
  const status = h("span", { class: `chip st-${w.status}`, "data-testid": "warning-status" }, t(`status.${w.status}`));
  const history = h("ul", { class: "history" });
  const fillHistory = (items) => replace(history, items.map((a) => h("li", {}, `${a.at} · ${text(a.actor)} · ${a.fromStatus ? `${t(`status.${a.fromStatus}`)} → ${t(`status.${a.toStatus}`)}` : t("warnings.opened")}${a.note ? ` · ${a.note}` : ""}`)));
  fillHistory(w.history);
  const actions = h("div", { class: "actions" });
  const refresh = (updated) => {
    w.status = updated.status;
    replace(status, t(`status.${updated.status}`));
    status.className = `chip st-${updated.status}`;
    fillHistory(updated.history);
    drawActions();
  };
  const drawActions = () => {
    if (!can("steward")) return replace(actions);
    replace(actions,
      w.status === "open" ? h("button", { "data-testid": "acknowledge", onclick: async () => {
        const answer = await ask(t("warnings.acknowledge"), [{ name: "note", label: t("warnings.note"), multiline: true }]);
        if (!answer) return;
        try {
          refresh((await gqlStrict(Q.ACKNOWLEDGE, { id: w.id, note: answer.note || null })).acknowledgeWarning);
          toast(t("warnings.acknowledged"));
        } catch (error) {
          showError(error);
        }
      } }, t("warnings.acknowledge")) : null,
      w.status !== "resolved" ? h("button", { "data-testid": "resolve", onclick: async () => {
        const answer = await ask(t("warnings.resolve"), [{ name: "note", label: t("warnings.feedback"), multiline: true, required: true }]);
        if (!answer) return;
        try {
          refresh((await gqlStrict(Q.RESOLVE, { id: w.id, note: answer.note })).resolveWarning);
          toast(t("warnings.resolved"));
        } catch (error) {
          showError(error);
        }
      } }, t("warnings.resolve")) : null);
  };
  drawActions();
  return h("article", { class: `warning sev-${w.severity}`, "data-warning": w.id },
    h("header", {}, h("strong", {}, t(`rule.${w.rule}`)), " ", status, h("span", { class: "muted" }, ` ${text(w.period)} · ${t(`severity.${w.severity}`)}`)),
    h("p", {}, lang() === "zh" ? text(w.messageZh) : text(w.messageEn || w.messageZh)),
    w.enterpriseId ? h("p", {}, h("a", { href: `#/enterprise/${encodeURIComponent(w.enterpriseId)}` }, w.enterpriseId), w.meterId ? ` · ${w.meterId}` : "") : null,
    w.feedback ? h("p", { class: "feedback" }, `${t("warnings.feedback")}: ${w.feedback}`) : null,
    history, actions);
}
