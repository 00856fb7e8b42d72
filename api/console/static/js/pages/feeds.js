// Feeds: the timeliness board (each department's datasets × their latest periods: on time / late /
// missing) and, for analysts, the upload history with each upload's row-error report.

import { can, download, gql } from "../api.js";
import { h, num, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

export async function renderFeeds(main, { query, go, showError }) {
  const department = query.department || "";
  const requests = [gql(Q.FEED_STATUS, { department: department || null }), gql(Q.HONOUR_REVIEWS)];
  if (can("analyst")) requests.push(gql(Q.UPLOADS, { dataset: query.dataset || null }));
  const [status, reviews, uploads] = await Promise.all(requests);
  const feeds = status.data.feedStatus;
  const departments = [...new Set(feeds.map((f) => f.department))].sort();
  const select = h("select", { "data-testid": "department" }, h("option", { value: "" }, t("feeds.allDepartments")),
    departments.map((d) => h("option", { value: d, selected: d === department }, d)));
  select.addEventListener("change", () => go("/feeds", select.value ? { department: select.value } : null));
  const counts = feeds.reduce((acc, f) => ((acc[f.status] = (acc[f.status] || 0) + 1), acc), {});
  replace(main,
    h("div", { class: "toolbar" }, h("h1", {}, t("feeds.title")), select,
      h("div", { class: "chips", "data-testid": "feed-counts" }, ["on_time", "late", "missing", "not_due", "no_deadline"].filter((s) => counts[s]).map((s) => h("span", { class: `chip st-${s}` }, `${t(`feed.${s}`)} ${counts[s]}`)))),
    board(feeds),
    honourReviews(reviews.data.honourReviews),
    can("analyst") ? [h("h2", {}, t("feeds.uploads")), uploadTable(uploads.data.uploads, showError)] : h("p", { class: "muted" }, t("feeds.uploadsHidden")));
}

function honourReviews(rows) {
  if (!rows.length) return null;
  return [h("h2", {}, t("feeds.honourReviews")), h("table", { class: "compact", "data-testid": "honour-reviews" },
    h("tr", {}, ["department", "pending", "overdue", "changesPending", "changesOverdue", "oldestDueAt"].map((k) => h("th", {}, t(`feeds.review.${k}`)))),
    rows.map((r) => h("tr", { "data-department": r.department }, h("td", {}, r.department), h("td", { class: "num" }, num(r.pending)),
      h("td", { class: `num ${r.overdue ? "bad" : ""}` }, num(r.overdue)), h("td", { class: "num" }, num(r.changesPending)),
      h("td", { class: `num ${r.changesOverdue ? "bad" : ""}` }, num(r.changesOverdue)), h("td", {}, text(r.oldestDueAt)))))];
}

export function board(feeds) {
  const byDepartment = new Map();
  for (const f of feeds) {
    if (!byDepartment.has(f.department)) byDepartment.set(f.department, []);
    byDepartment.get(f.department).push(f);
  }
  const width = Math.max(1, ...feeds.map((f) => f.periods.length));
  return h("table", { class: "board", "data-testid": "timeliness" },
    h("tr", {}, h("th", {}, t("feeds.dataset")), h("th", {}, t("feeds.frequency")), h("th", {}, t("feeds.status")), h("th", { colspan: width }, t("feeds.periods"))),
    [...byDepartment.entries()].map(([department, rows]) => [
      h("tr", { class: "group" }, h("th", { colspan: width + 3 }, department)),
      rows.map((f) => h("tr", { "data-dataset": f.dataset },
        h("td", { title: f.dataset }, f.title),
        h("td", {}, t(`frequency.${f.frequency}`)),
        h("td", {}, h("span", { class: `chip st-${f.status}`, "data-status": f.status }, t(`feed.${f.status}`)),
          f.overdueReporters ? h("span", { class: "chip st-missing", "data-testid": "overdue-reporters", title: t("feeds.overdueHint") }, t("feeds.overdue", { n: f.overdueReporters })) : null),
        [...f.periods].reverse().map((p) => h("td", { class: `cell st-${p.status}`, title: `${p.period} · ${t(`feed.${p.status}`)} · ${t("feeds.due")} ${p.due}${p.receivedAt ? ` · ${t("feeds.received")} ${p.receivedAt}` : ""}` }, p.period)),
        Array.from({ length: width - f.periods.length }, () => h("td", {})))),
    ]));
}

function uploadTable(uploads, showError) {
  return h("table", { class: "compact", "data-testid": "uploads" },
    h("tr", {}, ["startedAt", "dataset", "file", "status", "read", "loaded", "unchanged", "rejected", "report"].map((k) => h("th", {}, t(`upload.${k}`)))),
    uploads.map((u) => h("tr", { "data-upload": u.id },
      h("td", {}, text(u.finishedAt || u.startedAt)), h("td", {}, u.dataset), h("td", {}, u.fileName), h("td", {}, t(`uploadStatus.${u.status}`)),
      h("td", { class: "num" }, num(u.rowsRead)), h("td", { class: "num" }, num(u.loaded)), h("td", { class: "num" }, num(u.unchanged)),
      h("td", { class: `num ${u.rejected ? "bad" : ""}` }, num(u.rejected)),
      h("td", {}, u.errorReport
        ? h("button", { class: "link", "data-testid": "report", onclick: () => download(u.errorReport, `${u.fileName}.report.xlsx`).catch(showError) }, t("upload.download"))
        : "—"))));
}
