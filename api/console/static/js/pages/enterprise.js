// An enterprise's panorama: golden record (each field's source on hover), family, honours, chains, field
// checks, land, mortgages, credit events, metric charts, meter load curves, warnings, source records, and
// a relationship graph that grows when a node is clicked. Five queries, each well inside the API's
// default cost limit, sent together so the sections fill in as they arrive. On a phone the key facts
// come first and the charts and tables below them are folded.

import { can, gql } from "../api.js";
import { disposeAll, loadCurve, periodLines } from "../charts.js";
import { fold, h, isMasked, money, num, replace, text } from "../dom.js";
import { lang, t } from "../i18n.js";
import * as Q from "../queries.js";
import { fieldCheckBlock } from "./fieldcheck.js";

const METRIC_CHARTS = [
  { key: "tax", names: ["tax", "vat"] },
  { key: "electricity", names: ["electricity_kwh"] },
  { key: "employees", names: ["insured_employees"] },
];
const GOLDEN_ORDER = ["name", "credit_code", "legal_rep", "phone", "address", "town", "park", "industry_code", "industry_name", "entity_type", "registered_capital", "established", "status", "business_scope"];
// The load curve's zoom levels: the window before the latest reading, and the interval to show it in.
const WINDOWS = {
  day: { days: 1, interval: "RAW" },
  week: { days: 7, interval: "HOUR" },
  month: { days: 30, interval: "DAY" },
};

export async function renderEnterprise(main, { args, query, go, showError }) {
  const id = args[0];
  const { data, errors } = await gql(Q.PANORAMA, { id });
  const e = data.enterprise;
  if (e.redirectedFrom && e.id !== id) {
    // A merged-away id: show the survivor under its own id, and say so.
    history.replaceState(null, "", `#/enterprise/${encodeURIComponent(e.id)}`);
  }
  const sections = {
    holdings: h("div", { class: "grid2" }, h("p", { class: "loading" }, t("app.loading"))),
    metrics: h("div", { class: "charts", "data-testid": "metric-charts" }, h("p", { class: "loading" }, t("app.loading"))),
    meters: h("div", { "data-testid": "meters" }),
    warnings: h("div", { "data-testid": "warnings" }),
    graph: h("div", { class: "relgraph", "data-testid": "relgraph" }),
    records: h("div", {}),
  };
  const checks = fieldCheckBlock(e, { highlight: query.checked });
  replace(
    main,
    h("div", { class: "panorama", "data-testid": "panorama", "data-id": e.id },
      e.redirectedFrom ? h("p", { class: "notice", "data-testid": "redirected" }, t("enterprise.redirected", { from: e.redirectedFrom })) : null,
      headerBlock(e),
      checks.notice,
      h("div", { class: "grid2" }, goldenBlock(e), factsBlock(e)),
      checks.section,
      fold(t("enterprise.metrics"), sections.metrics),
      fold(t("enterprise.meters"), sections.meters),
      h("h2", {}, t("enterprise.warnings")), sections.warnings,
      h("h2", {}, t("enterprise.relations"), " ", h("small", {}, t("enterprise.graphHint"))), sections.graph,
      fold(t("enterprise.landCredit"), sections.holdings),
      fold(t("enterprise.records"), sections.records),
    ),
  );
  if (errors.length) showError(errors[0]);

  const tasks = [
    gql(Q.PANORAMA_METRICS, { id: e.id, names: METRIC_CHARTS.flatMap((c) => c.names) }).then(({ data }) => {
      renderMetrics(sections.metrics, data.enterprise.metrics);
      renderWarnings(sections.warnings, data.enterprise.warnings);
      return renderMeters(sections.meters, e.id, data.enterprise.meters, showError);
    }),
    gql(Q.PANORAMA_HOLDINGS, { id: e.id }).then(({ data }) => {
      renderHoldings(sections.holdings, data.enterprise);
      renderRecords(sections.records, data.enterprise.sourceRecords);
    }),
    relationGraph(sections.graph, e, go, showError),
    checks.load(),
  ];
  const results = await Promise.allSettled(tasks);
  for (const r of results) if (r.status === "rejected") showError(r.reason);
  const graph = results[2].status === "fulfilled" ? results[2].value : null;
  return () => {
    disposeAll(main);
    if (graph) graph.destroy();
  };
}

function headerBlock(e) {
  return h("header", { class: "ent-head" },
    h("h1", { "data-testid": "enterprise-name" }, text(e.name)),
    h("div", { class: "chips" },
      e.creditCode ? h("span", { class: "chip mono", title: t("field.credit_code") }, e.creditCode) : null,
      e.status ? h("span", { class: "chip" }, e.status) : null,
      e.kind ? h("span", { class: "chip" }, t(`kind.${e.kind}`)) : null,
      e.provisional ? h("span", { class: "chip warn", title: t("enterprise.provisionalHint") }, t("enterprise.provisional")) : null,
      h("span", { class: "chip mono muted" }, e.id),
    ),
  );
}

function goldenBlock(e) {
  const byField = new Map(e.goldenRecord.map((g) => [g.field, g]));
  const fields = [...GOLDEN_ORDER.filter((f) => byField.has(f)), ...[...byField.keys()].filter((f) => !GOLDEN_ORDER.includes(f))];
  return h("section", { class: "card" },
    h("h2", {}, t("enterprise.golden")),
    h("table", { class: "kv", "data-testid": "golden" },
      fields.map((field) => {
        const g = byField.get(field);
        const source = g.dataset ? t("enterprise.source", { dataset: g.dataset, department: g.department || "", record: g.sourceRecordId || "" }) : "";
        return h("tr", { "data-field": field },
          h("th", {}, t(`field.${field}`)),
          h("td", { title: source, "data-source": g.dataset || "" }, valueCell(field === "registered_capital" && g.value ? money(Number(g.value), lang()) : g.value)),
        );
      }),
    ),
  );
}

// null: this role may not see it (or there is none); a value with '*': masked for this role.
function valueCell(value) {
  if (value === null || value === undefined) return h("span", { class: "muted", "data-hidden": "1" }, "—");
  if (isMasked(value)) return h("span", { class: "masked", "data-masked": "1", title: t("enterprise.maskedHint") }, value, h("small", { class: "badge" }, t("enterprise.masked")));
  return String(value);
}

function factsBlock(e) {
  const list = (items, render) => (items.length ? h("ul", { class: "plain" }, items.map((x) => h("li", {}, render(x)))) : h("p", { class: "muted" }, "—"));
  const entLink = (x) => h("a", { href: `#/enterprise/${encodeURIComponent(x.id)}` }, text(x.name));
  return h("section", { class: "card" },
    h("h3", {}, t("enterprise.formerNames")), list(e.formerNames, (n) => n),
    h("h3", {}, t("enterprise.family")),
    e.parent ? h("p", {}, t("enterprise.parent"), ": ", entLink(e.parent)) : null,
    list(e.branches, entLink),
    h("h3", {}, t("enterprise.industry")), list(e.industries, (i) => `${i.code || ""} ${i.name || ""}`),
    e.parks.length ? [h("h3", {}, t("enterprise.parks")), list(e.parks, (p) => p.name)] : null,
    h("h3", {}, t("enterprise.honours")), h("div", { class: "chips", "data-testid": "honours" }, e.honours.map((x) => h("span", { class: "chip good", title: x.recognisedOn || "" }, x.kind || x.key)),
      e.publishedHonours.map((x) => h("span", { class: "chip good", "data-testid": "published-honour", title: `${x.awardedBy} ${x.recognisedOn || ""}` }, `${x.title} · ${t("honourStatus.published")}`))),
    h("h3", {}, t("enterprise.chains")),
    list(e.chains, (c) => h("a", { href: `#/chains/${encodeURIComponent(c.name)}${c.year ? `?year=${c.year}` : ""}` }, `${c.name} · ${c.position || ""} · ${c.year || ""}`)),
  );
}

function renderMetrics(el, metrics) {
  replace(el);
  const visible = metrics || [];
  for (const chart of METRIC_CHARTS) {
    const series = visible.filter((m) => chart.names.includes(m.metric));
    const box = h("div", { class: "chart", "data-testid": `chart-${chart.key}` });
    el.appendChild(h("div", { class: "card" }, h("h3", {}, t(`metric.${chart.key}`)), series.length ? box : h("p", { class: "muted", "data-testid": `chart-${chart.key}-empty` }, t("enterprise.noSeries"))));
    if (series.length) {
      periodLines(box, series.map((s) => ({ name: `${s.dataset}`, points: s.points })), { unit: series[0].unit });
    }
  }
}

function renderWarnings(el, warnings) {
  if (warnings === null || warnings === undefined) return replace(el, h("p", { class: "muted" }, t("enterprise.warningsHidden")));
  if (!warnings.length) return replace(el, h("p", { class: "muted" }, t("enterprise.noWarnings")));
  replace(el, h("ul", { class: "warnings" }, warnings.map((w) => h("li", { class: `sev-${w.severity}` },
    h("strong", {}, t(`rule.${w.rule}`)), ` · ${w.period || ""} · `, t(`status.${w.status}`), " — ", lang() === "zh" ? w.messageZh : w.messageEn || w.messageZh))));
}

async function renderMeters(el, id, meters, showError) {
  if (!meters.length) return replace(el, h("p", { class: "muted" }, t("enterprise.noMeters")));
  const latest = meters.map((m) => m.lastReadingAt).filter(Boolean).sort().pop();
  const table = h("table", { class: "compact" },
    h("tr", {}, ["meter", "utility", "via", "last"].map((k) => h("th", {}, t(`meter.${k}`)))),
    meters.map((m) => h("tr", {}, h("td", { class: "mono" }, m.meterId), h("td", {}, t(`utility.${m.utility}`)), h("td", { title: m.evidence || "" }, t(`via.${m.via}`), m.shared ? h("span", { class: "badge" }, t("meter.shared")) : null), h("td", {}, text(m.lastReadingAt)))),
  );
  const buttons = h("div", { class: "segmented", role: "group" });
  const chartBox = h("div", { class: "chart tall", "data-testid": "load-curve" });
  replace(el, table, latest ? buttons : h("p", { class: "muted" }, t("enterprise.noReadings")), latest ? chartBox : null);
  if (!latest) return;
  let chart = null;
  const show = async (zoom) => {
    for (const b of buttons.children) b.classList.toggle("active", b.dataset.zoom === zoom);
    delete chartBox.dataset.rendered; // until the new window is drawn
    // the API writes China time with its offset (2026-11-04T00:00+08:00); older servers wrote none
    const zoned = /([+-]\d\d:\d\d|Z)$/.test(latest);
    const end = new Date(zoned ? latest : latest.replace(" ", "T") + (latest.length <= 16 ? ":00" : "") + "+08:00");
    const start = new Date(end.getTime() - WINDOWS[zoom].days * 86_400_000);
    try {
      const { data, errors } = await gql(Q.METER_SERIES, { id, interval: WINDOWS[zoom].interval, from: cst(start), to: cst(new Date(end.getTime() + 300_000)) });
      if (errors.length) showError(errors[0]);
      const curves = data.enterprise.meters.filter((m) => m.series).map((m) => ({ name: `${m.meterId} (${t(`utility.${m.utility}`)})`, points: m.series.points }));
      if (chart) chart.dispose();
      chart = loadCurve(chartBox, curves, { unit: data.enterprise.meters.find((m) => m.series)?.series.unit || "", labels: { estimated: t("quality.estimated") } });
    } catch (error) {
      showError(error);
    }
  };
  for (const zoom of Object.keys(WINDOWS)) buttons.appendChild(h("button", { "data-zoom": zoom, onclick: () => show(zoom) }, t(`zoom.${zoom}`)));
  await show("week");
}

// China time as the API reads it: 2026-11-30T10:05
function cst(date) {
  return new Date(date.getTime() + 8 * 3_600_000).toISOString().slice(0, 16);
}

function renderHoldings(el, e) {
  const table = (cols, rows, render, testid) =>
    rows.length ? h("table", { class: "compact", "data-testid": testid }, h("tr", {}, cols.map((c) => h("th", {}, t(c)))), rows.map((r) => h("tr", {}, render(r).map((v) => h("td", {}, v))))) : h("p", { class: "muted" }, "—");
  replace(el,
    h("section", { class: "card" }, h("h3", {}, t("enterprise.parcels")),
      table(["land.parcelNo", "land.location", "land.area", "land.party"], e.parcels, (p) => [text(p.parcelNo || p.key), text(p.location), num(p.area), text(p.party)], "parcels")),
    h("section", { class: "card" }, h("h3", {}, t("enterprise.mortgages")),
      table(["mortgage.role", "mortgage.amount", "mortgage.registeredOn", "mortgage.type"], e.mortgages, (m) => [t(`mortgageRole.${m.role}`), money(m.amount, lang()), text(m.registeredOn), text(m.registrationType)], "mortgages")),
    h("section", { class: "card wide" }, h("h3", {}, t("enterprise.credit")),
      can("analyst")
        ? table(["credit.kind", "credit.authority", "credit.decidedOn", "credit.reason"], e.creditEvents, (c) => [text(c.kind), text(c.authority), text(c.decidedOn), text(c.reason)], "credit-events")
        : h("p", { class: "muted" }, t("enterprise.creditHidden"))),
  );
}

function renderRecords(el, records) {
  replace(el, h("table", { class: "compact", "data-testid": "source-records" },
    h("tr", {}, ["dataset", "department", "file", "row", "loadedAt", "method"].map((c) => h("th", {}, t(`record.${c}`)))),
    records.map((r) => h("tr", {}, h("td", {}, text(r.dataset)), h("td", {}, text(r.department)), h("td", {}, text(r.fileName)), h("td", { class: "num" }, text(r.row)), h("td", {}, text(r.loadedAt)), h("td", { title: r.probability ? r.probability.toFixed(3) : "" }, text(r.method)))),
  ));
}

// -- the relationship graph ------------------------------------------------------------------------

const EDGE_COLOURS = { LEGAL_REP_AND_PHONE: "#c04a6a", PHONE: "#e07b2e", ADDRESS: "#8a63d2", PARCEL: "#3aa675", MORTGAGE: "#6b7a8f", UPSTREAM: "#2f6fde", DOWNSTREAM: "#2f6fde", PEER: "#9bb6ea", BRANCH: "#333" };

async function relationGraph(el, e, go, showError) {
  const box = h("div", { class: "cy" });
  el.appendChild(box);
  el.appendChild(h("div", { class: "legend" }, Object.keys(EDGE_COLOURS).map((reason) => h("span", {}, h("i", { style: { background: EDGE_COLOURS[reason] } }), t(`reason.${reason}`)))));
  const cy = cytoscape({
    container: box,
    maxZoom: 1.6,
    minZoom: 0.2,
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3, width: 18, height: 18, "background-color": "#9aa7b8", "text-wrap": "ellipsis", "text-max-width": 110 } },
      { selector: "node.centre", style: { "background-color": "#2f6fde", width: 28, height: 28, "font-weight": "bold" } },
      { selector: "node.expanded", style: { "border-width": 2, "border-color": "#2f6fde" } },
      { selector: "edge", style: { width: 1.5, "line-color": "data(colour)", "target-arrow-color": "data(colour)", "curve-style": "bezier", label: "data(label)", "font-size": 8, color: "#555", "text-rotation": "autorotate" } },
      { selector: "edge.directed", style: { "target-arrow-shape": "triangle" } },
    ],
    layout: { name: "preset" },
  });
  const expanded = new Set();
  const addNode = (node, classes = "") => {
    if (!cy.getElementById(node.id).length) cy.add({ group: "nodes", data: { id: node.id, label: node.name || node.id }, classes });
  };
  const addEdge = (from, to, reason, label, directed) => {
    const edgeId = `${from}->${to}:${reason}`;
    const reverse = `${to}->${from}:${reason}`;
    if (cy.getElementById(edgeId).length || (!directed && cy.getElementById(reverse).length)) return;
    cy.add({ group: "edges", data: { id: edgeId, source: from, target: to, label, colour: EDGE_COLOURS[reason] || "#999" }, classes: directed ? "directed" : "" });
  };
  const expand = async (id) => {
    if (expanded.has(id)) return;
    expanded.add(id);
    const { data } = await gql(Q.NEIGHBOURHOOD, { id });
    const n = data.enterprise;
    addNode(n);
    for (const r of n.related) {
      addNode(r.enterprise);
      addEdge(n.id, r.enterprise.id, r.reason, t(`reason.${r.reason}`), false);
    }
    for (const c of n.chainNeighbours) {
      addNode(c.enterprise);
      // Supply flows upstream -> downstream.
      if (c.relation === "UPSTREAM") addEdge(c.enterprise.id, n.id, "UPSTREAM", `${c.chain}`, true);
      else if (c.relation === "DOWNSTREAM") addEdge(n.id, c.enterprise.id, "DOWNSTREAM", `${c.chain}`, true);
      else addEdge(n.id, c.enterprise.id, "PEER", t("reason.PEER"), false);
    }
    if (n.parent) {
      addNode(n.parent);
      addEdge(n.parent.id, n.id, "BRANCH", t("reason.BRANCH"), true);
    }
    for (const b of n.branches) {
      addNode(b);
      addEdge(n.id, b.id, "BRANCH", t("reason.BRANCH"), true);
    }
    cy.getElementById(id).addClass("expanded");
    cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: () => 9000, idealEdgeLength: () => 90 }).run();
    el.dataset.nodes = String(cy.nodes().length);
  };
  addNode(e, "centre");
  await expand(e.id);
  cy.on("tap", "node", async (event) => {
    try {
      await expand(event.target.id());
    } catch (error) {
      showError(error);
    }
  });
  cy.on("dbltap", "node", (event) => go(`/enterprise/${event.target.id()}`));
  return cy;
}
