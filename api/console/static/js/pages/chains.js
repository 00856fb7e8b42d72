// Industry-chain explorer: the chains; one chain's segments (上游 → 中游 → 下游) as a graph sized by
// enterprise count, enterprises per segment with pages, aggregates by segment and by town, a year
// selector.

import { gql } from "../api.js";
import { bars, disposeAll } from "../charts.js";
import { h, money, num, replace, text } from "../dom.js";
import { lang, t } from "../i18n.js";
import * as Q from "../queries.js";

export async function renderChains(main, { args, query, go }) {
  const { data } = await gql(Q.CHAINS);
  const chains = data.industryChains;
  // Default: the biggest chain, the one most worth a first look.
  const name = args[0] || [...chains].sort((a, b) => b.enterpriseCount - a.enterpriseCount)[0]?.name;
  const list = h("ul", { class: "chain-list", "data-testid": "chain-list" },
    chains.map((c) => h("li", { class: c.name === name ? "active" : "" },
      h("a", { href: `#/chains/${encodeURIComponent(c.name)}` }, c.name), h("span", { class: "muted" }, ` ${c.enterpriseCount}`))));
  const body = h("div", { class: "chain-body" });
  replace(main, h("div", { class: "chains" }, h("aside", {}, h("h2", {}, t("chains.title")), list), body));
  if (!name) {
    replace(body, h("p", { class: "empty" }, t("chains.none")));
    return null;
  }
  const year = query.year ? Number(query.year) : null;
  const { data: chainData, errors } = await gql(Q.CHAIN, { name, year });
  const chain = chainData.industryChain;
  const shownYear = chain.segments[0]?.year ?? year ?? chain.years[chain.years.length - 1];
  const yearSelect = h("select", { "data-testid": "year" }, chain.years.map((y) => h("option", { value: y, selected: y === shownYear }, String(y))));
  yearSelect.addEventListener("change", () => go(`/chains/${name}`, { year: yearSelect.value }));
  const graphBox = h("div", { class: "cy chain-graph", "data-testid": "chain-graph" });
  const segmentChart = h("div", { class: "chart", "data-testid": "chain-by-segment" });
  const townChart = h("div", { class: "chart", "data-testid": "chain-by-town" });
  replace(body,
    h("header", { class: "ent-head" }, h("h1", { "data-testid": "chain-name" }, chain.name), h("label", {}, t("chains.year"), " ", yearSelect),
      h("span", { class: "chip" }, t("chains.enterprises", { count: chain.enterpriseCount }))),
    graphBox,
    h("div", { class: "grid2" },
      h("section", { class: "card" }, h("h3", {}, t("chains.bySegment")), segmentChart),
      h("section", { class: "card" }, h("h3", {}, t("chains.byTown")), townChart)),
    h("div", { class: "segments" }, await Promise.all(chain.segments.map((s) => segmentBlock(chain.name, shownYear, s)))),
    h("section", { class: "card" }, h("h3", {}, t("chains.aggregates")), aggregateTable(chain.bySegment, "position")),
  );
  if (errors.length) console.warn(errors);
  const cy = segmentGraph(graphBox, chain);
  const countName = t("chains.count");
  bars(segmentChart, chain.bySegment.map((a) => a.position), [
    { name: countName, data: chain.bySegment.map((a) => a.enterprises) },
  ]);
  const towns = [...chain.byTown].sort((a, b) => b.enterprises - a.enterprises).slice(0, 12);
  bars(townChart, towns.map((a) => a.town || "—"), [{ name: countName, data: towns.map((a) => a.enterprises) }], { horizontal: true });
  return () => {
    disposeAll(main);
    cy.destroy();
  };
}

function segmentGraph(el, chain) {
  const max = Math.max(1, ...chain.segments.map((s) => s.enterpriseCount));
  const cy = cytoscape({
    container: el,
    userZoomingEnabled: false,
    style: [
      { selector: "node", style: { shape: "round-rectangle", label: "data(label)", "text-valign": "center", "text-wrap": "wrap", color: "#fff", "font-size": 13, "background-color": "#2f6fde", width: "data(w)", height: 56 } },
      { selector: "edge", style: { width: "data(width)", "line-color": "#9bb6ea", "target-arrow-color": "#9bb6ea", "target-arrow-shape": "triangle", "curve-style": "bezier", label: "data(label)", "font-size": 10 } },
    ],
    elements: [
      ...chain.segments.map((s, i) => ({ data: { id: s.position, label: `${s.position}\n${s.enterpriseCount}`, w: 80 + 80 * (s.enterpriseCount / max) }, position: { x: 160 * i, y: 0 } })),
      ...chain.links.map((l) => ({ data: { id: `${l.from}->${l.to}`, source: l.from, target: l.to, width: 2 + 4 * Math.min(1, (l.fromEnterprises + l.toEnterprises) / (2 * max)), label: `${l.fromEnterprises} → ${l.toEnterprises}` } })),
    ],
    layout: { name: "preset", fit: true, padding: 30 },
  });
  el.dataset.segments = String(chain.segments.length);
  return cy;
}

async function segmentBlock(chainName, year, segment) {
  const rows = h("tbody", {});
  const more = h("button", { class: "more" }, t("search.more"));
  const fill = (page) => {
    for (const edge of page.edges) rows.appendChild(h("tr", {}, h("td", {}, h("a", { href: `#/enterprise/${encodeURIComponent(edge.node.id)}` }, text(edge.node.name))), h("td", {}, text(edge.node.town))));
    more.hidden = !page.pageInfo.hasNextPage;
    more.dataset.after = page.pageInfo.endCursor || "";
  };
  const page = async (after) => {
    const { data } = await gql(Q.SEGMENT_PAGE, { name: chainName, position: segment.position, year, after });
    if (data.industryChain.segment) fill(data.industryChain.segment.enterprises);
  };
  more.addEventListener("click", () => page(more.dataset.after));
  await page(null);
  return h("section", { class: "card", "data-testid": "segment", "data-position": segment.position },
    h("h3", {}, `${segment.position} · ${t("chains.enterprises", { count: segment.enterpriseCount })}`),
    h("table", { class: "compact" }, rows), more);
}

function aggregateTable(rows, key) {
  return h("table", { class: "compact", "data-testid": "chain-aggregates" },
    h("tr", {}, [key === "position" ? "chains.segment" : "chains.town", "chains.count", "chains.tax", "chains.electricity", "chains.output"].map((k) => h("th", {}, t(k)))),
    rows.map((a) => h("tr", {}, h("td", {}, text(a[key])), h("td", { class: "num" }, num(a.enterprises)), h("td", { class: "num" }, money(a.tax, lang())), h("td", { class: "num" }, num(a.electricityKwh)), h("td", { class: "num" }, money(a.outputValue, lang())))));
}
