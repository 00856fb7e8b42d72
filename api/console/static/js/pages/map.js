// The towns' map, drawn offline with ECharts' own geo component: the town boundaries the city loaded are
// registered as GeoJSON (echarts.registerMap), no tiles. #/map shows the city, a town per region (click
// one to open it); #/map?town=… shows that town's boundary with its land parcels and its enterprises as
// points (click an enterprise, or a parcel's holder, to open the panorama). Where the points come from,
// and which enterprises have none: docs/towns.md, Map.

import { gql } from "../api.js";
import { h, num, replace } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

const ENTERPRISE = "#2f6fde";
const PARCEL = "#e07b2e";
const CLOSED = "#8a8f98";

export async function renderMap(main, { query, go }) {
  const town = query.town || "";
  const [{ data }, counts] = await Promise.all([gql(Q.TOWN_BOUNDARIES), town ? null : gql(Q.TOWNS)]);
  const boundaries = data.townBoundaries;
  const select = h("select", { "data-testid": "map-town" },
    h("option", { value: "", selected: !town }, t("map.city")),
    boundaries.map((b) => h("option", { value: b.town, selected: b.town === town }, b.town)));
  select.addEventListener("change", () => go("/map", select.value ? { town: select.value } : null));
  const summary = h("p", { class: "muted", "data-testid": "map-summary" });
  const box = h("div", { class: "map-canvas", "data-testid": "town-map" });
  replace(main, h("div", { class: "toolbar" }, h("h1", {}, t("map.title")), select), summary, box, legend(town));
  if (!town) {
    if (!boundaries.length) {
      replace(summary, t("map.noBoundaries"));
      return null;
    }
    replace(summary, t("map.cityHint", { count: boundaries.length }));
    const enterprises = new Map((counts?.data?.enterpriseFacets?.towns || []).map((x) => [x.value, x.count]));
    return draw(box, (chart) => cityMap(chart, boundaries, enterprises, (name) => go("/map", { town: name })));
  }
  const { data: mapData } = await gql(Q.TOWN_MAP, { town });
  const map = mapData.townMap;
  replace(summary,
    t("map.counts", { enterprises: num(map.enterprises.length), parcels: num(map.parcels.length), total: num(map.enterpriseCount), without: num(map.withoutPoint) }),
    map.truncated ? ` ${t("map.truncated")}` : "",
    map.boundary ? "" : ` ${t("map.noBoundary")}`);
  return draw(box, (chart) => townMap(chart, map, (id) => go(`/enterprise/${id}`)));
}

function legend(town) {
  if (!town) return h("p", { class: "muted map-legend" }, t("map.source"));
  const dot = (color) => h("span", { class: "dot", style: { background: color } });
  return h("p", { class: "muted map-legend" },
    dot(ENTERPRISE), ` ${t("map.enterprise")}  `, dot(CLOSED), ` ${t("map.closed")}  `, dot(PARCEL), ` ${t("map.parcel")} · `,
    t("map.source"));
}

// One chart for the page, resized with the window and disposed (with its registered maps) on leaving.
function draw(el, paint) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.on("finished", () => (el.dataset.rendered = "1"));
  paint(chart);
  const resize = () => chart.resize();
  window.addEventListener("resize", resize);
  return () => {
    window.removeEventListener("resize", resize);
    chart.dispose();
  };
}

function feature(b) {
  return { type: "Feature", properties: { name: b.town }, geometry: b.boundary };
}

// East-west degrees are shorter than north-south ones away from the equator: scale so shapes are true.
function aspect(lat) {
  return Math.cos((lat * Math.PI) / 180);
}

// The city: each town shaded by how many enterprises it has (the search's town facet).
function cityMap(chart, boundaries, enterprises, open) {
  echarts.registerMap("entgraph-city", { type: "FeatureCollection", features: boundaries.map(feature) });
  const lat = boundaries.reduce((sum, b) => sum + b.center[1], 0) / boundaries.length;
  const most = Math.max(1, ...boundaries.map((b) => enterprises.get(b.town) || 0));
  chart.setOption({
    tooltip: { trigger: "item", formatter: (p) => `${escapeHtml(p.name)}<br/>${escapeHtml(t("map.townCount", { count: num(p.value || 0) }))}` },
    visualMap: { type: "continuous", min: 0, max: most, left: 10, bottom: 10, text: [String(most), "0"], calculable: false, inRange: { color: ["#eef3fb", "#7fa8e6"] } },
    series: [{
      type: "map",
      map: "entgraph-city",
      roam: true,
      aspectScale: aspect(lat),
      selectedMode: false,
      label: { show: true, fontSize: 11, color: "#333" },
      itemStyle: { areaColor: "#eef3fb", borderColor: "#6b7a8f", borderWidth: 1 },
      emphasis: { itemStyle: { areaColor: "#cfe0fa" }, label: { color: "#000" } },
      data: boundaries.map((b) => ({ name: b.town, value: enterprises.get(b.town) || 0, code: b.divisionCode })),
    }],
  });
  chart.on("click", (p) => p.name && open(p.name));
}

function townMap(chart, map, openEnterprise) {
  const name = `entgraph-town:${map.town}`;
  const points = [...map.enterprises, ...map.parcels];
  const lat = map.boundary ? map.boundary.center[1] : points.length ? points[0].lat : 24.8;
  const geo = { roam: true, aspectScale: aspect(lat), itemStyle: { areaColor: "#f3f6fb", borderColor: "#6b7a8f", borderWidth: 1.5 }, emphasis: { disabled: true }, silent: true };
  if (map.boundary) {
    echarts.registerMap(name, { type: "FeatureCollection", features: [feature(map.boundary)] });
    Object.assign(geo, { map: name, label: { show: false } });
  } else {
    // No boundary loaded: a plain frame around the points, so they still show where they lie.
    echarts.registerMap(name, { type: "FeatureCollection", features: [frame(map.town, points)] });
    Object.assign(geo, { map: name, itemStyle: { areaColor: "#fafafa", borderColor: "#d0d4da", borderType: "dashed" } });
  }
  chart.setOption({
    tooltip: { trigger: "item", formatter: tooltip },
    geo,
    series: [
      {
        name: t("map.parcel"),
        type: "scatter",
        coordinateSystem: "geo",
        symbol: "diamond",
        symbolSize: 14, // larger than an enterprise's dot: the enterprise on its own parcel leaves it showing
        itemStyle: { color: PARCEL, opacity: 0.85 },
        data: map.parcels.map((p) => ({ name: p.key, value: [p.lng, p.lat], kind: "parcel", parcel: p, id: p.holderId })),
      },
      {
        name: t("map.enterprise"),
        type: "scatter",
        coordinateSystem: "geo",
        symbolSize: 7,
        data: map.enterprises.map((e) => ({
          name: e.name || e.id, value: [e.lng, e.lat], kind: "enterprise", enterprise: e, id: e.id,
          itemStyle: { color: closed(e.status) ? CLOSED : ENTERPRISE, borderColor: "#fff", borderWidth: 1 },
        })),
      },
    ],
  });
  chart.on("click", (p) => p.data && p.data.id && openEnterprise(p.data.id));
}

function frame(town, points) {
  const lngs = points.map((p) => p.lng), lats = points.map((p) => p.lat);
  const [w, e, s, n] = [Math.min(...lngs), Math.max(...lngs), Math.min(...lats), Math.max(...lats)];
  const pad = Math.max(e - w, n - s, 0.01) * 0.1;
  const ring = [[w - pad, s - pad], [e + pad, s - pad], [e + pad, n + pad], [w - pad, n + pad], [w - pad, s - pad]];
  return { type: "Feature", properties: { name: town }, geometry: { type: "Polygon", coordinates: [ring] } };
}

function closed(status) {
  return /注销|吊销|撤销|迁出|歇业/.test(status || "");
}

function tooltip(p) {
  const d = p.data || {};
  if (d.kind === "enterprise") {
    const e = d.enterprise;
    const how = t(e.locatedBy === "address" ? "map.byAddress" : "map.byParcel", { parcel: e.parcelKey });
    return [escapeHtml(e.name || e.id), escapeHtml(e.status || ""), escapeHtml(how)].filter(Boolean).join("<br/>");
  }
  if (d.kind === "parcel") {
    const parcel = d.parcel;
    return [
      `${escapeHtml(t("map.parcel"))} ${escapeHtml(parcel.key)}`,
      parcel.location ? escapeHtml(parcel.location) : "",
      parcel.area !== null && parcel.area !== undefined ? `${num(parcel.area)} m²` : "",
      parcel.holderName ? `${escapeHtml(t("map.holder"))}: ${escapeHtml(parcel.holderName)}` : "",
    ].filter(Boolean).join("<br/>");
  }
  return escapeHtml(p.name || "");
}

// Tooltip formatters return HTML: anything from the data goes through this first.
function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
