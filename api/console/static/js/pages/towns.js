// A town's desk (seed 001): its monthly cross-checks (核实比对) with the verdicts a steward records, its
// dashboard for the monthly analysis meeting (figures month by month, the enterprises that changed
// most, long-term shut-down and loss-making lists, open work with ages) and how every town handles
// warnings and verifications (效能). The rules live in the server; this page asks and shows.

import { can, download, gql, gqlStrict } from "../api.js";
import { periodLines } from "../charts.js";
import { ask } from "../dialog.js";
import { h, num, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

const TABS = ["checks", "dashboard", "effectiveness"];
const CHECKS = ["unmatched", "tax_without_registration", "power_without_registration", "power_without_tax", "meter_many", "meter_shared", "meter_name_differs"];
const VERDICTS = ["MATCHED", "NOT_OURS", "CLOSED", "MOVED", "FOLLOW_UP"];
const UNPLACED = "未定镇街";

export async function renderTowns(main, { query, go, toast, showError }) {
  const { data } = await gql(Q.TOWN_LIST);
  const towns = (data.towns || []).map((x) => x.value);
  const town = query.town || towns[0] || "";
  const tab = TABS.includes(query.tab) ? query.tab : "checks";
  const select = h("select", { "data-testid": "town-select" },
    [...towns, UNPLACED].map((x) => h("option", { value: x, selected: x === town }, x === UNPLACED ? t("towns.unplaced") : x)));
  select.addEventListener("change", () => go("/towns", { ...query, town: select.value }));
  const tabs = h("div", { class: "report-tabs chips", role: "tablist" },
    TABS.map((k) => h("button", { class: `chip ${k === tab ? "active" : ""}`, role: "tab", "data-testid": `town-tab-${k}`, onclick: () => go("/towns", { ...query, town, tab: k }) }, t(`towns.tab.${k}`))));
  const body = h("div", { "data-testid": `town-${tab}` });
  replace(main, h("div", { class: "toolbar" }, h("h1", {}, t("towns.title")), select, tabs), body);
  if (tab === "checks") await checks(body, town, query, go, toast, showError);
  else if (tab === "dashboard") await dashboard(body, town, query, go, showError);
  else await effectiveness(body);
  return null;
}

async function checks(body, town, query, go, toast, showError) {
  const round = query.round || new Date().toISOString().slice(0, 7);
  const month = h("input", { type: "month", value: round, "data-testid": "town-round", onchange: () => go("/towns", { ...query, round: month.value }) });
  const sheet = h("button", { "data-testid": "town-checks-xlsx", onclick: () => download(`/towns/${encodeURIComponent(town)}/verification.xlsx?round=${round}`, `${town}-${round}-核实比对.xlsx`).catch(showError) }, t("towns.downloadChecks"));
  const refresh = can("steward") ? h("button", { "data-testid": "town-refresh", onclick: async () => {
    try {
      const r = (await gqlStrict(Q.REFRESH_CHECKS)).refreshVerificationItems;
      toast(t("towns.refreshed", { items: r.items, new: r.new, cleared: r.cleared }));
      go("/towns", { ...query, at: String(Date.now()) });
    } catch (error) {
      showError(error);
    }
  } }, t("towns.refresh")) : null;
  const { data } = await gql(Q.VERIFICATION_ITEMS, { town, round });
  const items = data.verificationItems || [];
  const open = items.filter((i) => i.status === "open").length;
  const sections = CHECKS.map((check) => {
    const mine = items.filter((i) => i.check === check);
    if (!mine.length) return null;
    return h("section", { "data-check": check },
      h("h2", {}, `${t(`check.${check}`)} `, h("span", { class: "muted" }, `(${mine.length})`)),
      h("table", { class: "compact" },
        h("tr", {}, ["name", "evidence", "receivedAt", "status", "verdict"].map((k) => h("th", {}, t(`towns.${k}`))), h("th", {})),
        mine.map((i) => h("tr", { "data-item": i.key, "data-status": i.status },
          h("td", {}, i.enterprise ? h("a", { href: `#/enterprise/${encodeURIComponent(i.enterprise)}` }, i.name) : i.name,
            i.creditCode ? h("div", { class: "mono muted" }, i.creditCode) : null),
          h("td", {}, (i.evidenceLabels || i.evidence || []).join("、")),
          h("td", {}, text(i.receivedAt?.slice(0, 10))),
          h("td", {}, h("span", { class: `chip check-${i.status}` }, t(`checkStatus.${i.status}`))),
          h("td", {}, i.verdict ? `${t(`verdict.${i.verdict.verdict}`)}${i.verdict.note ? ` · ${i.verdict.note}` : ""} · ${i.verdict.user}` : ""),
          h("td", {}, can("steward") ? verdictActions(i, round, go, query, toast, showError) : null)))));
  });
  replace(body,
    h("div", { class: "toolbar" }, h("label", {}, t("towns.round"), " ", month), sheet, refresh,
      h("span", { class: "muted", "data-testid": "town-open-count" }, t("towns.openCount", { open, total: items.length }))),
    items.length ? sections : h("p", { class: "muted" }, t("towns.noItems")));
}

function verdictActions(item, round, go, query, toast, showError) {
  const choice = h("select", { "data-testid": "verdict-choice" }, VERDICTS.map((v) => h("option", { value: v }, t(`verdict.${v.toLowerCase()}`))));
  const send = h("button", { "data-testid": "verdict-record", onclick: async () => {
    const verdict = choice.value;
    const fields = [{ name: "note", label: t("towns.note"), multiline: true, required: verdict === "NOT_OURS" || verdict === "FOLLOW_UP" }];
    if (verdict === "MATCHED") fields.unshift({ name: "enterprise", label: t("towns.matchedTo"), placeholder: "E-…", required: true });
    const answer = await ask(`${t(`verdict.${verdict.toLowerCase()}`)} · ${item.name}`, fields);
    if (!answer) return;
    try {
      await gqlStrict(Q.RECORD_VERDICT, { item: item.key, verdict, enterprise: answer.enterprise || null, note: answer.note || "", round });
      toast(t("towns.recorded"));
      go("/towns", { ...query, at: String(Date.now()) });
    } catch (error) {
      showError(error);
    }
  } }, t("towns.record"));
  const undo = item.verdict ? h("button", { class: "secondary", "data-testid": "verdict-undo", onclick: async () => {
    try {
      await gqlStrict(Q.UNDO_VERDICT, { id: item.verdict.id });
      toast(t("towns.undone"));
      go("/towns", { ...query, at: String(Date.now()) });
    } catch (error) {
      showError(error);
    }
  } }, t("towns.undo")) : null;
  return h("div", { class: "actions" }, item.status === "open" ? [choice, send] : null, undo);
}

async function dashboard(body, town, query, go, showError) {
  const variables = { town, month: query.month || null, shutdownMonths: Number(query.shutdown || 6) };
  const { data } = await gql(Q.TOWN_DASHBOARD, variables);
  const d = data.townDashboard;
  if (!d) return replace(body, h("p", { class: "muted" }, t("towns.noDashboard")));
  const month = h("input", { type: "month", value: d.month, "data-testid": "town-month", onchange: () => go("/towns", { ...query, month: month.value }) });
  const shutdown = h("input", { type: "number", min: 1, max: 60, value: variables.shutdownMonths, class: "short", "data-testid": "town-shutdown", onchange: () => go("/towns", { ...query, shutdown: shutdown.value }) });
  const report = h("button", { "data-testid": "town-report-xlsx", onclick: () => download(`/towns/${encodeURIComponent(town)}/report.xlsx?month=${d.month}&shutdownMonths=${variables.shutdownMonths}`, `${town}-${d.month}-月度分析.xlsx`).catch(showError) }, t("towns.downloadReport"));
  const last = d.monthly[d.monthly.length - 1] || {};
  const METRICS = [["tax", "tax"], ["electricityKwh", "electricity"], ["insuredEmployees", "insured"]];
  const chartEls = METRICS.map(([key]) => h("div", { class: "chart", "data-testid": `town-chart-${key}` }));
  const pct = (x) => (x === null || x === undefined ? "—" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`);
  replace(body,
    h("div", { class: "toolbar" }, h("label", {}, t("towns.month"), " ", month), h("label", {}, t("towns.shutdownMonths"), " ", shutdown), report,
      h("a", { href: `#/map?town=${encodeURIComponent(town)}`, "data-testid": "town-map-link" }, t("towns.onMap"))),
    h("div", { class: "chips", "data-testid": "town-summary" },
      h("span", { class: "chip" }, t("towns.enterprises", { n: num(d.enterprises) })),
      h("span", { class: "chip" }, `${t("towns.tax")} ${num(last.tax)} (${pct(last.taxYoy)})`),
      h("span", { class: "chip" }, `${t("towns.electricity")} ${num(last.electricityKwh)} kWh (${pct(last.electricityYoy)})`),
      h("span", { class: "chip" }, `${t("towns.insured")} ${num(last.insuredEmployees)} (${pct(last.insuredEmployeesYoy)})`),
      h("span", { class: `chip ${d.openWarnings.length ? "warn" : ""}` }, t("towns.openWarnings", { n: d.openWarnings.length })),
      h("span", { class: `chip ${d.openVerifications.length ? "warn" : ""}` }, t("towns.openVerifications", { n: d.openVerifications.length })),
      h("span", { class: "chip", "data-testid": "town-field-checks" }, t("towns.fieldChecks", { n: d.fieldChecks.find((x) => x.value === "total")?.count || 0 }))),
    h("div", { class: "charts", "data-testid": "town-charts" }, chartEls),
    h("div", { class: "grid2" },
      table("towns.byStatus", ["value", "count"], d.byStatus.map((x) => [x.value, num(x.count)]), "town-by-status"),
      table("towns.byIndustry", ["value", "count"], d.byIndustry.map((x) => [x.value, num(x.count)]), "town-by-industry")),
    table("towns.changes", ["name", "group", "metric", "current", "previous", "change"],
      d.largestChanges.map((c) => [link(c), t(`group.${c.group}`), t(`metric.${c.metric}`), num(c.current), num(c.previous), pct(c.change)]), "town-changes"),
    table("towns.shutdown", ["name", "lastActive", "months"], d.longShutdown.map((x) => [link(x), text(x.lastActive), x.months]), "town-shutdown"),
    d.profitReported
      ? table("towns.loss", ["name", "netProfit", "lossMonths"], d.lossMaking.map((x) => [link(x), num(x.netProfit), x.lossMonths]), "town-loss")
      : [h("h2", {}, t("towns.loss")), h("p", { class: "muted", "data-testid": "town-loss" }, t("towns.noProfit"))],
    table("towns.openWork", ["kind", "name", "age"],
      [...d.openWarnings.map((w) => [t(`rule.${w.kind}`), w.name, w.ageDays]), ...d.openVerifications.map((v) => [t(`check.${v.kind}`), v.name, v.ageDays])], "town-open-work"),
    handling(d));
  // one chart a metric: yuan, kWh and people share no axis
  METRICS.forEach(([key, label], i) => periodLines(chartEls[i], [
    { name: t(`towns.${label}`), points: d.monthly.map((m) => ({ period: m.month, value: m[key] })) },
  ], { title: `${t(`towns.${label}`)} · ${t("towns.monthly")}` }));
}

function link(x) {
  return h("a", { href: `#/enterprise/${encodeURIComponent(x.enterprise)}` }, x.name || x.enterprise);
}

function table(title, columns, rows, testid) {
  return h("div", {}, h("h2", {}, t(title)), rows.length
    ? h("table", { class: "compact", "data-testid": testid }, h("tr", {}, columns.map((c) => h("th", {}, t(`towns.col.${c}`)))), rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, v)))))
    : h("p", { class: "muted", "data-testid": testid }, t("towns.none")));
}

function handling(d) {
  const row = (kind, x) => h("tr", {}, h("td", {}, t(`towns.${kind}`)), [x.received, x.handled, x.onTime, x.open, text(x.medianDays)].map((v) => h("td", { class: "num" }, v)));
  return [h("h2", {}, t("towns.handling")), h("table", { class: "compact", "data-testid": "town-handling" },
    h("tr", {}, ["", "received", "handled", "onTime", "open", "medianDays"].map((c) => h("th", {}, c ? t(`towns.col.${c}`) : ""))),
    row("warnings", d.warnings), row("verifications", d.verifications))];
}

async function effectiveness(body) {
  const { data } = await gql(Q.TOWN_EFFECTIVENESS);
  const rows = data.townEffectiveness || [];
  const rate = (x) => (x.received ? `${Math.round((100 * x.onTime) / x.received)}%` : "—");
  replace(body, h("table", { class: "compact", "data-testid": "town-effectiveness" },
    h("tr", {}, ["town", "warningsReceived", "warningsOnTime", "warningsMedian", "checksReceived", "checksOnTime", "checksMedian"].map((c) => h("th", {}, t(`towns.col.${c}`)))),
    rows.map((r) => h("tr", { "data-town": r.town || "" },
      h("td", {}, r.town || t("towns.unplaced")),
      h("td", { class: "num" }, r.warnings.received), h("td", { class: "num" }, rate(r.warnings)), h("td", { class: "num" }, text(r.warnings.medianDays)),
      h("td", { class: "num" }, r.verifications.received), h("td", { class: "num" }, rate(r.verifications)), h("td", { class: "num" }, text(r.verifications.medianDays))))));
}
