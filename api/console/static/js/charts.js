// ECharts (vendored, global `echarts`) set up the way the console draws: metric series, meter load
// curves with zoom, the match-weight waterfall and bar charts. Each returns the chart so the page can
// dispose of it when it leaves.

const charts = new Set();
window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));

function make(el) {
  const chart = echarts.init(el, null, { renderer: "canvas" });
  charts.add(chart);
  chart.on("finished", () => (el.dataset.rendered = "1"));
  return chart;
}

export function disposeAll(root) {
  for (const chart of [...charts]) {
    if (!root || root.contains(chart.getDom())) {
      chart.dispose();
      charts.delete(chart);
    }
  }
}

const PALETTE = ["#2f6fde", "#e07b2e", "#3aa675", "#c04a6a", "#8a63d2", "#6b7a8f"];

// Several series over periods (2024-03, 2024-Q1, 2024): one line each, periods merged and sorted.
export function periodLines(el, series, { unit = "", title = "" } = {}) {
  const periods = [...new Set(series.flatMap((s) => s.points.map((p) => p.period)))].sort();
  const chart = make(el);
  chart.setOption({
    color: PALETTE,
    title: { text: title, left: 0, textStyle: { fontSize: 13 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 60, right: 20, top: title ? 40 : 30, bottom: 56 },
    xAxis: { type: "category", data: periods },
    yAxis: { type: "value", name: unit },
    series: series.map((s) => {
      const byPeriod = new Map(s.points.map((p) => [p.period, p.value]));
      return { name: s.name, type: "line", connectNulls: true, showSymbol: periods.length < 40, data: periods.map((p) => byPeriod.get(p) ?? null) };
    }),
  });
  return chart;
}

// A meter's load curve: time on x, kWh per interval on y, zoomable; suspect points shown as gaps and
// estimated ones dashed in the tooltip.
export function loadCurve(el, curves, { unit = "kWh", labels = {} } = {}) {
  const chart = make(el);
  chart.setOption({
    color: PALETTE,
    tooltip: {
      trigger: "axis",
      valueFormatter: (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100) / 100} ${unit}`),
    },
    legend: { top: 0, right: 0, type: "scroll" },
    grid: { left: 60, right: 20, top: 36, bottom: 70 },
    xAxis: { type: "time" },
    yAxis: { type: "value", name: unit },
    dataZoom: [{ type: "inside" }, { type: "slider", bottom: 10 }],
    series: curves.map((c) => ({
      name: c.name,
      type: "line",
      step: "end",
      showSymbol: false,
      sampling: "lttb",
      data: c.points.map((p) => [p.startMs, p.value]),
      markArea: c.estimated?.length
        ? { silent: true, itemStyle: { color: "rgba(224,123,46,0.12)" }, data: c.estimated.map(([a, b]) => [{ xAxis: a, name: labels.estimated }, { xAxis: b }]) }
        : undefined,
    })),
  });
  return chart;
}

// Splink's waterfall: the prior, then each comparison's match weight, ending at the total. Each step is
// drawn from the running total before it to the one after (a candlestick body: green up, red down), so
// negative weights and a negative prior read correctly.
export function waterfall(el, terms, { totalLabel = "total" } = {}) {
  const names = [...terms.map((term) => term.comparison), totalLabel];
  const steps = [];
  let running = 0;
  for (const term of terms) {
    const before = running;
    running += term.weight;
    steps.push([before, running, Math.min(before, running), Math.max(before, running)]);
  }
  steps.push([0, running, Math.min(0, running), Math.max(0, running)]);
  const chart = make(el);
  chart.setOption({
    tooltip: {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items) => {
        const i = items[0].dataIndex;
        if (i === terms.length) return `${escapeHtml(totalLabel)}: ${running.toFixed(2)}`;
        const term = terms[i];
        const sign = term.weight >= 0 ? "+" : "";
        return `${escapeHtml(term.comparison)}<br/>${escapeHtml(term.level)}<br/>${sign}${term.weight.toFixed(2)}`;
      },
    },
    grid: { left: 40, right: 20, top: 20, bottom: 80 },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 35, interval: 0 } },
    yAxis: { type: "value", name: "log₂ BF", scale: false },
    series: [
      {
        type: "candlestick",
        barMaxWidth: 36,
        itemStyle: { color: "#3aa675", borderColor: "#3aa675", color0: "#c04a6a", borderColor0: "#c04a6a" },
        data: steps,
      },
    ],
  });
  return chart;
}

export function bars(el, categories, series, { unit = "", horizontal = false } = {}) {
  const chart = make(el);
  const category = { type: "category", data: categories, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
  const value = { type: "value", name: unit };
  chart.setOption({
    color: PALETTE,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, right: 0 },
    grid: { left: horizontal ? 90 : 60, right: 20, top: 36, bottom: horizontal ? 30 : 60 },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? category : value,
    series: series.map((s) => ({ name: s.name, type: "bar", data: s.data })),
  });
  return chart;
}

// Tooltip formatters return HTML: anything from the data goes through this first.
function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
