// Upload: a department's clerk picks a dataset (or lets the platform recognise the file), drops one or
// more files, watches them go (bytes sent, then the queue: queued, running, done / refused) and
// downloads each load's row report. Its own timeliness board sits below: which periods are due or late.
// Files are loaded by the server's worker, never in the request (api/uploads.py).

import { download, gql, rest, session, uploadFiles } from "../api.js";
import { h, num, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";
import { board } from "./feeds.js";

const ACCEPT = ".xlsx,.xls,.xlsm,.csv,.txt,.tsv,.et,.ods,.geojson,.json"; // as loaders/intake.py accepts
const ACTIVE = new Set(["queued", "running"]);

export async function renderUpload(main, { showError, toast }) {
  const scope = session.principal.scope; // city:department; null for an admin (any dataset)
  const status = await gql(Q.FEED_STATUS, { department: null });
  const mine = status.data.feedStatus.filter((f) => !scope || `${f.city}:${f.department}` === scope);
  const dataset = h("select", { "data-testid": "upload-dataset" },
    h("option", { value: "" }, t("uploadPage.recognise")),
    mine.map((f) => h("option", { value: f.dataset }, `${f.title} (${f.dataset})`)));
  const input = h("input", { type: "file", multiple: true, accept: ACCEPT, "data-testid": "upload-files" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "data-testid": "upload-progress" });
  const jobs = h("div", { "data-testid": "upload-jobs" });
  const send = h("button", { class: "primary", "data-testid": "upload-send" }, t("uploadPage.send"));
  const zone = h("div", { class: "dropzone", "data-testid": "upload-drop" }, t("uploadPage.drop"), input);
  let timer = null;

  async function refresh() {
    try {
      const { jobs: rows } = await rest("/uploads?first=50");
      replace(jobs, jobTable(rows, showError));
      clearTimeout(timer);
      if (rows.some((j) => ACTIVE.has(j.status))) timer = setTimeout(refresh, 1500);
    } catch (error) {
      showError(error);
    }
  }

  async function submit(files) {
    if (!files.length) return showError({ message: t("uploadPage.noFile") });
    send.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    try {
      const queued = await uploadFiles(files, dataset.value, (share) => (progress.value = share));
      toast(t("uploadPage.queued", { n: queued.length }));
      input.value = "";
      await refresh();
    } catch (error) {
      showError(error);
    } finally {
      send.disabled = false;
      progress.hidden = true;
    }
  }

  send.addEventListener("click", () => submit([...input.files]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    submit([...event.dataTransfer.files]);
  });

  replace(main,
    h("div", { class: "toolbar" }, h("h1", {}, t("uploadPage.title")), h("span", { class: "muted", "data-testid": "upload-scope" }, scope || t("uploadPage.anyDepartment"))),
    h("div", { class: "upload-form" }, dataset, zone, send, progress),
    h("h2", {}, t("uploadPage.jobs")), jobs,
    h("h2", {}, t("uploadPage.timeliness")), board(mine));
  await refresh();
  return () => clearTimeout(timer);
}

function jobTable(rows, showError) {
  if (!rows.length) return h("p", { class: "muted" }, t("uploadPage.none"));
  return h("table", { class: "compact", "data-testid": "upload-job-table" },
    h("tr", {}, ["submittedAt", "file", "dataset", "status", "read", "new", "updated", "unchanged", "rejected", "report"].map((k) => h("th", {}, t(`uploadPage.${k}`)))),
    rows.map((j) => h("tr", { "data-job": j.id, "data-status": j.status },
      h("td", {}, text(j.submittedAt)), h("td", {}, j.fileName), h("td", {}, j.dataset || "—"),
      h("td", { title: j.message || "" }, h("span", { class: `chip job-${j.status}` }, t(`jobStatus.${j.status}`)), j.message ? h("div", { class: "muted small" }, j.message) : null),
      h("td", { class: "num" }, num(j.rowsRead)), h("td", { class: "num" }, num(j.new)), h("td", { class: "num" }, num(j.updated)),
      h("td", { class: "num" }, num(j.unchanged)), h("td", { class: `num ${j.rejected ? "bad" : ""}` }, num(j.rejected)),
      h("td", {}, j.reportUrl
        ? h("button", { class: "link", "data-testid": "job-report", onclick: () => download(j.reportUrl, `${j.fileName}.report.xlsx`).catch(showError) }, t("upload.download"))
        : "—"))));
}
