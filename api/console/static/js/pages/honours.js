// Honours published on application (荣誉公示, seed 004): the public list for everyone; an enterprise
// applies (certificate, statement of truthfulness) and follows its applications; the awarding
// department reviews its queue, restores an honour a 失信 record withdrew, and settles reported changes
// (update or revoke, within 15 working days). The rules live in the server (loaders/honours.py); this
// page only asks and shows.

import { can, gql, postForm, rest, sendJson, session } from "../api.js";
import { h, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

export async function renderHonours(main, { go, toast, showError }) {
  const sections = [h("div", { class: "toolbar" }, h("h1", {}, t("honours.title")))];
  if (can("enterprise") && session.principal.role === "enterprise") sections.push(await applyForm(go, toast, showError), await mine(go, toast, showError));
  if (session.principal.role === "department" || session.principal.role === "admin") sections.push(await reviewQueue(go, toast, showError));
  sections.push(await publicList());
  replace(main, sections);
}

async function publicList() {
  const { honours } = await rest("/honours");
  return h("section", {}, h("h2", {}, t("honours.published")),
    honours.length
      ? h("table", { class: "compact", "data-testid": "honours-public" },
          h("tr", {}, ["title.field", "creditCode", "awardedBy", "recognisedOn", "publishedAt"].map((k) => h("th", {}, t(`honours.${k}`)))),
          honours.map((x) => h("tr", { "data-honour": x.id }, h("td", {}, x.title), h("td", { class: "mono" }, x.creditCode), h("td", {}, x.awardedBy), h("td", {}, x.recognisedOn || "—"), h("td", {}, text(x.publishedAt)))))
      : h("p", { class: "muted" }, t("honours.none")));
}

async function applyForm(go, toast, showError) {
  const status = await gql(Q.FEED_STATUS, { department: null });
  const owners = [...new Set(status.data.feedStatus.map((f) => `${f.city}:${f.department}`))].sort();
  const title = h("input", { name: "title", placeholder: t("honours.titleHint"), "data-testid": "honour-title" });
  const awardedBy = h("select", { name: "awardedBy", "data-testid": "honour-department" }, owners.map((o) => h("option", { value: o }, o)));
  const recognisedOn = h("input", { type: "date", name: "recognisedOn", "data-testid": "honour-date" });
  const file = h("input", { type: "file", accept: ".pdf,.jpg,.jpeg,.png", multiple: true, "data-testid": "honour-file" });
  const statement = h("input", { type: "checkbox", "data-testid": "honour-statement" });
  const send = h("button", { class: "primary", "data-testid": "honour-apply", onclick: async () => {
    const form = new FormData();
    form.append("title", title.value);
    form.append("awardedBy", awardedBy.value);
    form.append("recognisedOn", recognisedOn.value);
    form.append("statement", statement.checked ? "true" : "");
    for (const f of file.files) form.append("file", f, f.name);
    try {
      await postForm("/honours/applications", form);
      toast(t("honours.applied"));
      go("/honours", { at: String(Date.now()) });
    } catch (error) {
      showError(error);
    }
  } }, t("honours.apply"));
  return h("section", { class: "report-form", "data-testid": "honour-form" }, h("h2", {}, t("honours.applyTitle")),
    h("label", { class: "field" }, t("honours.title.field"), title),
    h("label", { class: "field" }, t("honours.awardedBy"), awardedBy),
    h("label", { class: "field" }, t("honours.recognisedOn"), recognisedOn),
    h("label", { class: "field" }, t("honours.certificate"), file),
    h("label", { class: "check" }, statement, " ", t("honours.statement")),
    h("div", { class: "actions" }, send));
}

const shown = (a) => a.status === "published" || a.status === "withdrawn";

function acting(go, toast, showError) {
  return (id, path, body) => sendJson("POST", `/honours/applications/${id}/${path}`, body)
    .then(() => { toast(t("honours.done")); go("/honours", { at: String(Date.now()) }); })
    .catch(showError);
}

async function mine(go, toast, showError) {
  const { applications } = await rest("/honours/applications");
  const act = acting(go, toast, showError);
  const actions = (a) => shown(a) && !a.changeDueAt
    ? h("button", { "data-testid": "honour-report-change", onclick: () => { const note = prompt(t("honours.changeWhat")); if (note) act(a.id, "change", { note }); } }, t("honours.reportChange"))
    : null;
  return h("section", {}, h("h2", {}, t("honours.mine")), applicationTable(applications, actions));
}

async function reviewQueue(go, toast, showError) {
  const { applications } = await rest("/honours/applications");
  const act = acting(go, toast, showError);
  const settle = (a) => [
    h("button", { "data-testid": "honour-update", onclick: () => { const title = prompt(t("honours.updateTitle"), a.title); if (title && title !== a.title) act(a.id, "update", { title, note: a.changeNote || "" }); } }, t("honours.update")),
    h("button", { "data-testid": "honour-revoke", onclick: () => { const note = prompt(t("honours.revokeWhy"), a.changeNote || ""); if (note) act(a.id, "revoke", { note }); } }, t("honours.revoke"))];
  const actions = (a) => {
    if (a.status === "pending") return [
      h("button", { class: "primary", "data-testid": "honour-publish", onclick: () => act(a.id, "review", { approve: true, note: "" }) }, t("honours.publish")),
      h("button", { "data-testid": "honour-reject", onclick: () => { const note = prompt(t("honours.rejectWhy")); if (note) act(a.id, "review", { approve: false, note }); } }, t("honours.reject"))];
    const restore = a.status === "withdrawn"
      ? h("button", { "data-testid": "honour-restore", onclick: () => { const note = prompt(t("honours.restoreWhy")); if (note !== null) act(a.id, "restore", { note }); } }, t("honours.restore"))
      : null;
    return shown(a) ? [restore, ...settle(a)] : null;
  };
  return h("section", {}, h("h2", {}, t("honours.queue")), applicationTable(applications, actions));
}

function applicationTable(rows, actions) {
  if (!rows.length) return h("p", { class: "muted" }, t("honours.none"));
  return h("table", { class: "compact", "data-testid": "honour-applications" },
    h("tr", {}, ["title.field", "creditCode", "awardedBy", "status", "appliedAt", "dueAt", "reason"].map((k) => h("th", {}, t(`honours.${k}`))), actions ? h("th", {}) : null),
    rows.map((a) => h("tr", { "data-application": a.id, "data-status": a.status },
      h("td", {}, a.title), h("td", { class: "mono" }, a.creditCode), h("td", {}, a.awardedBy),
      h("td", {}, h("span", { class: `chip honour-${a.status}` }, t(`honourStatus.${a.status}`))),
      h("td", {}, text(a.appliedAt)), h("td", {}, text(a.dueAt)),
      h("td", {}, a.changeDueAt ? h("span", { class: "chip warn", "data-testid": "honour-change-due" }, t("honours.changeDue", { due: text(a.changeDueAt) }), " ", a.changeNote) : (a.revokeNote || a.withdrawnReason || a.reviewNote || "")),
      actions ? h("td", {}, actions(a)) : null)));
}
