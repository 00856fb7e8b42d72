// Steward workbench: the review queue, most at stake first (town selector with each town's queue,
// dataset and probability filters), ticked tasks accepted together, a task's records side by side with
// the candidate's golden record (differences highlighted), the match explanation as a waterfall, and
// accept / reject / unsure / link / merge / split / undo, each with a key. The audit trail lists every
// judgement with its undo.

import { gql, gqlStrict } from "../api.js";
import { disposeAll, waterfall } from "../charts.js";
import { ask } from "../dialog.js";
import { h, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";
import { resetFacets } from "./search.js";

const COMPARED = ["name", "legalRep", "phone", "address", "town", "creditCode"];
const KEYS = [
  ["j / k", "steward.key.move"],
  ["a / 1-3", "steward.key.accept"],
  ["r", "steward.key.reject"],
  ["u", "steward.key.unsure"],
  ["l", "steward.key.link"],
  ["m", "steward.key.merge"],
  ["s", "steward.key.split"],
  ["z", "steward.key.undo"],
];
// Judgements made in this tab, newest last: what "z" undoes.
const made = [];

export async function renderSteward(main, { args, query, go, toast, showError }) {
  const filters = { town: query.town || "", dataset: query.dataset || "", minProbability: query.minProbability || "", status: query.status || "open", order: query.order || "stake" };
  const { data } = await gql(Q.TASKS, {
    status: filters.status,
    town: filters.town || null,
    dataset: filters.dataset || null,
    minProbability: filters.minProbability ? Number(filters.minProbability) : null,
    orderBy: filters.order === "impact" ? "IMPACT" : "STAKE",
  });
  const tasks = data.stewardTasks;
  const selected = args[0] || tasks[0]?.id;
  const filterBar = filterForm(filters, data.stewardTownQueues || [], (next) => go("/steward", next));
  const queue = h("ol", { class: "queue", "data-testid": "task-queue" },
    tasks.map((task) => h("li", { class: task.id === selected ? "active" : "", "data-task": task.id },
      h("input", { type: "checkbox", class: "pick", "data-pick": task.id, disabled: task.status === "resolved" || !task.candidates[0], title: t("steward.pick"), "aria-label": t("steward.pick") }),
      h("a", { href: `#/steward/${task.id}?${new URLSearchParams(clean(filters))}` },
        h("strong", {}, text(task.name)), h("br"),
        h("span", { class: "muted", title: task.stakeExplanation || "" }, `${text(task.town)} · ${t("steward.stake", { stake: fmt(task.stake) })} · ${t("steward.impact", { n: task.impact })}`),
        task.candidates[0] ? h("span", { class: "prob" }, pct(task.candidates[0].probability)) : null))));
  const picked = () => [...queue.querySelectorAll("input[data-pick]:checked")].map((box) => box.dataset.pick);
  const pickAll = h("input", { type: "checkbox", "data-testid": "pick-all", title: t("steward.pickAll"), "aria-label": t("steward.pickAll") });
  pickAll.addEventListener("change", () => {
    for (const box of queue.querySelectorAll("input[data-pick]:not([disabled])")) box.checked = pickAll.checked;
  });
  const acceptPicked = h("button", { "data-testid": "accept-selected", onclick: () => acceptMany(picked()) }, t("steward.acceptSelected"));
  const detail = h("div", { class: "task-detail", "data-testid": "task-detail" });
  replace(main,
    h("div", { class: "toolbar" }, h("h1", {}, t("steward.title")), filterBar, h("a", { href: "#/audit", class: "button secondary" }, t("steward.audit"))),
    h("div", { class: "workbench" }, h("aside", {},
      h("p", { class: "muted", "data-testid": "task-count" }, t("steward.count", { count: tasks.length })),
      h("div", { class: "bulk" }, h("label", {}, pickAll, " ", t("steward.pickAll")), acceptPicked),
      queue), detail),
    h("p", { class: "keys" }, KEYS.map(([key, label]) => h("span", {}, h("kbd", {}, key), " ", t(label)))));
  // Accept the best candidate of every ticked task: one judgement each (undone one by one in the audit
  // trail), one resolver run; asks first, with the count and an optional reason.
  const acceptMany = async (ids) => {
    if (!ids.length) return showError({ message: t("steward.pickNone") });
    const answer = await ask(t("steward.acceptSelectedTitle", { n: ids.length }),
      [{ name: "reason", label: t("steward.reason"), multiline: true }], { confirm: t("steward.acceptSelectedConfirm", { n: ids.length }) });
    if (!answer) return;
    try {
      const payload = (await gqlStrict(Q.ACCEPT_TASKS, { ids, reason: answer.reason })).acceptTasks;
      for (const outcome of payload.outcomes) if (outcome.judgement) made.push(outcome.judgement.id);
      resetFacets();
      const skipped = payload.outcomes.length - payload.accepted;
      toast(`${t("steward.acceptedMany", { n: payload.accepted, skipped })}: ${payload.summary}`);
      main.dataset.accepted = payload.outcomes.filter((o) => o.accepted).map((o) => o.taskId).join(" ");
      const before = location.hash;
      go("/steward", clean(filters));
      if (location.hash === before) window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      showError(error);
    }
  };
  if (!selected) {
    replace(detail, h("p", { class: "empty" }, t("steward.empty")));
    return null;
  }
  const ids = tasks.map((x) => x.id);
  const position = ids.indexOf(selected);
  const moveTo = (offset) => {
    const next = ids[position + offset];
    if (next) go(`/steward/${next}`, clean(filters));
  };
  const state = await renderTask(detail, selected, showError);
  const next = ids[position + 1] || ids[position - 1] || "";

  const run = async (label, mutation, variables) => {
    try {
      const payload = Object.values(await gqlStrict(mutation, variables))[0];
      made.push(payload.judgement.id);
      resetFacets(); // a merge or link changes the search facets' counts
      toast(`${label}: ${payload.summary}`);
      detail.dataset.lastJudgement = payload.judgement.id;
      // The next task, or this one again if it stayed open (an unsure or a link of one record).
      go(next && payload.taskStatus !== "open" ? `/steward/${next}` : `/steward/${selected}`, clean(filters));
      if (!next || payload.taskStatus === "open") window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      showError(error);
    }
  };
  const reason = () => state.reason.value.trim();
  const actions = {
    accept: (rank = state.candidate) => run(t("steward.accept"), Q.ACCEPT, { id: selected, candidate: rank, reason: reason() }),
    reject: () => run(t("steward.reject"), Q.REJECT, { id: selected, reason: reason() }),
    unsure: () => run(t("steward.unsure"), Q.UNSURE, { id: selected, reason: reason() }),
    link: async () => {
      const answer = await ask(t("steward.link"), [{ name: "enterpriseId", label: t("steward.linkTarget"), placeholder: "E-…", required: true }]);
      if (answer) run(t("steward.link"), Q.LINK, { target: selected, enterpriseId: answer.enterpriseId, reason: reason() });
    },
    merge: async () => {
      const [first, second] = state.task.candidates;
      const answer = await ask(t("steward.merge"), [
        { name: "loser", label: t("steward.mergeLoser"), value: second?.enterpriseId || "", required: true },
        { name: "survivor", label: t("steward.mergeSurvivor"), value: first?.enterpriseId || "", required: true },
      ]);
      if (answer) run(t("steward.merge"), Q.MERGE, { loser: answer.loser, survivor: answer.survivor, reason: reason() });
    },
    split: () => {
      const mentions = state.checkedMentions();
      if (!mentions.length) return showError({ message: t("steward.splitNone") });
      run(t("steward.split"), Q.SPLIT, { mentions, reason: reason() });
    },
    undo: async () => {
      const last = made[made.length - 1];
      if (!last) return showError({ message: t("steward.undoNone") });
      try {
        const payload = (await gqlStrict(Q.UNDO, { id: last, reason: reason() })).undoJudgement;
        made.pop();
        resetFacets();
        toast(`${t("steward.undo")}: ${payload.summary}`);
        go(`/steward/${payload.taskId || selected}`, clean(filters));
      } catch (error) {
        showError(error);
      }
    },
  };
  state.bind(actions);
  const onKey = (event) => {
    if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    const handlers = { j: () => moveTo(1), k: () => moveTo(-1), a: () => actions.accept(), r: actions.reject, u: actions.unsure, l: actions.link, m: actions.merge, s: actions.split, z: actions.undo };
    if (["1", "2", "3"].includes(key) && state.task.candidates[Number(key) - 1]) {
      event.preventDefault();
      actions.accept(Number(key));
    } else if (handlers[key]) {
      event.preventDefault();
      handlers[key]();
    }
  };
  document.addEventListener("keydown", onKey);
  return () => {
    document.removeEventListener("keydown", onKey);
    disposeAll(main);
  };
}

async function renderTask(el, id, showError) {
  const { data, errors } = await gql(Q.TASK, { id });
  if (errors.length) showError(errors[0]);
  const task = data.stewardTask;
  const state = { task, candidate: 1 };
  const compare = h("div", { class: "compare" });
  const chartBox = h("div", { class: "chart", "data-testid": "waterfall" });
  const tabs = h("div", { class: "segmented", role: "tablist" });
  state.reason = h("input", { class: "reason", placeholder: t("steward.reason"), "data-testid": "reason" });
  const buttons = h("div", { class: "actions", "data-testid": "steward-actions" });
  let chart = null;
  const showCandidate = (rank) => {
    state.candidate = rank;
    for (const b of tabs.children) b.classList.toggle("active", Number(b.dataset.rank) === rank);
    const candidate = task.candidates[rank - 1];
    replace(compare, comparison(task, candidate));
    if (chart) chart.dispose();
    delete chartBox.dataset.rendered;
    chart = candidate ? waterfall(chartBox, candidate.explanation, { totalLabel: t("steward.total") }) : null;
  };
  for (const c of task.candidates) {
    tabs.appendChild(h("button", { role: "tab", "data-rank": c.rank, onclick: () => showCandidate(c.rank) }, `${c.rank}. ${text(c.enterprise?.name || c.enterpriseId)} · ${pct(c.probability)}`));
  }
  replace(el,
    h("header", { class: "ent-head" }, h("h2", { "data-testid": "task-name" }, text(task.name)),
      h("div", { class: "chips" }, h("span", { class: "chip" }, text(task.town)), task.datasets.map((d) => h("span", { class: "chip muted" }, d)), h("span", { class: "chip mono muted" }, task.id), h("span", { class: "chip" }, t(`taskStatus.${task.status}`)))),
    tabs, compare,
    h("h3", {}, t("steward.explanation")), chartBox,
    state.reason, buttons);
  state.checkedMentions = () => [...compare.querySelectorAll("input[data-mention]:checked")].map((box) => box.dataset.mention);
  state.bind = (actions) => {
    const open = task.status !== "resolved";
    const button = (key, label, action, testid) => h("button", { "data-testid": testid, disabled: !open && key !== "z", onclick: () => action(), title: `${t(label)} (${key})` }, t(label), " ", h("kbd", {}, key));
    replace(buttons,
      button("a", "steward.accept", actions.accept, "accept"),
      button("r", "steward.reject", actions.reject, "reject"),
      button("u", "steward.unsure", actions.unsure, "unsure"),
      button("l", "steward.link", actions.link, "link"),
      button("m", "steward.merge", actions.merge, "merge"),
      button("s", "steward.split", actions.split, "split"),
      button("z", "steward.undo", actions.undo, "undo"));
  };
  if (task.candidates.length) showCandidate(1);
  else replace(compare, comparison(task, null));
  return state;
}

// Records (one column each) beside the candidate's golden record; a record's value that differs from
// the candidate's is highlighted. Checkboxes pick the mentions a split takes.
function comparison(task, candidate) {
  const records = task.records.slice(0, 4);
  const golden = candidate?.enterprise || {};
  const same = (a, b) => norm(a) === norm(b);
  return h("table", { class: "side-by-side", "data-testid": "comparison" },
    h("tr", {}, h("th", {}, ""),
      records.map((r) => h("th", { title: `${r.file || ""} ${r.sheet || ""} #${r.row ?? ""}` },
        h("label", {}, h("input", { type: "checkbox", "data-mention": `${r.id}|${r.party || "subject"}` }), " ", text(r.dataset)), h("br"), h("small", { class: "muted" }, `${text(r.file)} #${text(r.row)}`))),
      h("th", { class: "candidate" }, candidate ? h("a", { href: `#/enterprise/${encodeURIComponent(candidate.enterpriseId)}` }, `${t("steward.candidate")} ${candidate.rank}`) : t("steward.noCandidate"))),
    COMPARED.map((field) => h("tr", { "data-field": field },
      h("th", {}, t(`taskField.${field}`)),
      records.map((r) => {
        const differs = candidate && r[field] && golden[field] !== undefined && !same(r[field], golden[field]);
        return h("td", { class: differs ? "differs" : "", "data-differs": differs ? "1" : null }, text(r[field]));
      }),
      h("td", { class: "candidate" }, text(golden[field])))),
    task.records.length > records.length ? h("tr", {}, h("td", { colspan: records.length + 2, class: "muted" }, t("steward.moreRecords", { n: task.records.length - records.length }))) : null);
}

function norm(value) {
  return String(value ?? "").replace(/\s+/g, "").replace(/[（]/g, "(").replace(/[）]/g, ")").toLowerCase();
}

// The filters; the town is chosen from the per-town queues (tasks and records each town has to verify).
function filterForm(filters, towns, apply) {
  const input = (name, placeholder, attrs = {}) => h("input", { name, value: filters[name], placeholder, "data-testid": `steward-${name}`, ...attrs });
  const named = towns.filter((q) => q.town);
  if (filters.town && !named.some((q) => q.town === filters.town)) named.push({ town: filters.town, tasks: 0, records: 0, stake: 0 });
  const all = towns.reduce((n, q) => n + q.tasks, 0);
  const town = h("select", { name: "town", "data-testid": "steward-town", title: t("steward.townQueues") },
    h("option", { value: "", selected: !filters.town }, t("steward.allTowns", { n: all })),
    named.map((q) => h("option", { value: q.town, selected: q.town === filters.town, "data-tasks": q.tasks },
      t("steward.townQueue", { town: q.town, n: q.tasks, records: q.records, stake: fmt(q.stake) }))));
  const status = h("select", { name: "status" }, ["open", "unsure", "resolved"].map((s) => h("option", { value: s, selected: s === filters.status }, t(`taskStatus.${s}`))));
  const order = h("select", { name: "order", "data-testid": "steward-order" }, ["stake", "impact"].map((o) => h("option", { value: o, selected: o === filters.order }, t(`steward.order.${o}`))));
  const fields = [town, input("dataset", t("steward.dataset")), input("minProbability", t("steward.minProbability"), { type: "number", min: 0, max: 1, step: 0.05 }), status, order];
  const form = h("form", { class: "filters" }, fields, h("button", { type: "submit" }, t("steward.filter")));
  const submit = () => apply(clean(Object.fromEntries(fields.map((f) => [f.name, f.value.trim()]))));
  town.addEventListener("change", submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  return form;
}

function clean(values) {
  return Object.fromEntries(Object.entries(values).filter(([k, v]) => v && !(k === "status" && v === "open") && !(k === "order" && v === "stake")));
}

function fmt(value) {
  return Number(value || 0).toLocaleString(undefined, { maximumFractionDigits: 1 });
}

function pct(p) {
  return `${(p * 100).toFixed(1)}%`;
}

export async function renderAudit(main, { query, go, toast, showError }) {
  const subject = query.subject || "";
  const { data } = await gql(Q.AUDIT, { subject: subject || null });
  const search = h("input", { value: subject, placeholder: t("audit.filter"), "data-testid": "audit-subject" });
  search.addEventListener("change", () => go("/audit", search.value.trim() ? { subject: search.value.trim() } : null));
  const undo = async (j) => {
    const answer = await ask(t("steward.undo"), [{ name: "reason", label: t("steward.reason"), multiline: true }]);
    if (!answer) return;
    try {
      const payload = (await gqlStrict(Q.UNDO, { id: j.id, reason: answer.reason })).undoJudgement;
      resetFacets();
      toast(`${t("steward.undo")}: ${payload.summary}`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      showError(error);
    }
  };
  replace(main,
    h("div", { class: "toolbar" }, h("h1", {}, t("audit.title")), search, h("a", { href: "#/steward", class: "button secondary" }, t("steward.title"))),
    h("table", { class: "compact", "data-testid": "audit" },
      h("tr", {}, ["at", "user", "kind", "subject", "object", "reason", ""].map((k) => h("th", {}, k ? t(`audit.${k}`) : ""))),
      data.judgements.map((j) => h("tr", { class: j.undone ? "undone" : "", "data-judgement": j.id },
        h("td", {}, text(j.at)), h("td", {}, text(j.user)), h("td", {}, t(`judgement.${j.kind}`)),
        h("td", { class: "mono" }, text(j.subject)),
        h("td", {}, h("a", { href: `#/enterprise/${encodeURIComponent(j.object)}` }, j.object)),
        h("td", {}, text(j.reason), j.undone ? h("div", { class: "muted" }, t("audit.undone", { by: j.undoneBy || "", at: j.undoneAt || "" }), j.undoReason ? ` — ${j.undoReason}` : "") : null),
        h("td", {}, j.undone ? null : h("button", { class: "secondary", onclick: () => undo(j) }, t("steward.undo")))))));
}
