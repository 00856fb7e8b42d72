// Field checks (现场核查, seed 001 三(1)): town staff, on a phone at the enterprise's gate, see its key
// facts, record what they saw (operating / stopped / moved / closed, employees seen, a note, a photo from
// the camera, where they stand) and find the visit on the panorama. The rules live in the server
// (resolution/field_checks.py); stewards record (POST /field-checks, multipart for the photo), analysts
// read, the public sees no checks at all.

import { can, fetchBlob, gql, postForm } from "../api.js";
import { h, replace, text } from "../dom.js";
import { t } from "../i18n.js";
import * as Q from "../queries.js";

const STATUSES = ["operating", "stopped", "moved", "closed"];
const ALARMING = new Set(["stopped", "moved", "closed"]);
// Photos are sent at most this many pixels on their long side: a phone's 12-megapixel JPEG (4 MB)
// becomes a few hundred KB, which a town's mobile signal sends in seconds.
const PHOTO_EDGE = 1600;

const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "—");
const statusOf = (check) => String(check.statusSeen).toLowerCase();

// -- on the panorama ------------------------------------------------------------------------------

// The panorama's part: a notice under the header when the latest check found the enterprise stopped,
// moved or closed, and the list of checks with the way to record one. load() fills both; nothing shows
// for roles that may not read checks.
export function fieldCheckBlock(e, { highlight } = {}) {
  const notice = h("p", { class: "notice", hidden: true, "data-testid": "check-notice" });
  const list = h("div", {}, h("p", { class: "loading" }, t("app.loading")));
  const start = can("steward")
    ? h("a", { class: "button", href: `#/check/${encodeURIComponent(e.id)}`, "data-testid": "check-start" }, t("check.start"))
    : null;
  const section = can("analyst")
    ? h("section", { class: "card field-checks", "data-testid": "field-checks" },
        h("div", { class: "toolbar" }, h("h2", {}, t("check.title")), start), list)
    : null;
  async function load() {
    if (!section) return;
    const { data } = await gql(Q.FIELD_CHECKS, { id: e.id });
    const checks = data.enterprise.fieldChecks || [];
    const latest = checks[0];
    if (latest && ALARMING.has(statusOf(latest))) {
      replace(notice, t("check.latestNotice", { status: t(`check.status.${statusOf(latest)}`), at: when(latest.checkedAt) }),
        latest.note ? ` — ${latest.note}` : "");
      notice.hidden = false;
    }
    replace(list, checks.length ? checkList(checks) : h("p", { class: "muted" }, t("check.none")));
    section.dataset.count = String(checks.length);
    const mine = highlight && list.querySelector(`[data-check="${CSS.escape(highlight)}"]`);
    if (mine) {
      mine.classList.add("fresh");
      mine.scrollIntoView({ block: "center" });
    }
  }
  return { notice, section, load };
}

function checkList(checks) {
  return h("ul", { class: "check-list", "data-testid": "check-list" }, checks.map((c) => {
    const status = statusOf(c);
    const photo = h("div", { class: "check-photo" });
    const showPhoto = c.photo
      ? h("button", { class: "secondary", "data-testid": "check-photo-show", onclick: async (event) => {
          const button = event.target;
          button.disabled = true;
          try {
            const url = URL.createObjectURL(await fetchBlob(c.photo.url));
            replace(photo, h("img", { src: url, alt: t("check.photo"), "data-testid": "check-photo-img", title: `SHA-256 ${c.photo.sha256}` }));
            button.hidden = true;
          } catch {
            button.disabled = false;
            button.textContent = t("app.failed");
          }
        } }, t("check.showPhoto"))
      : c.hasPhoto ? h("span", { class: "muted" }, t("check.photoHidden")) : null;
    return h("li", { "data-check": c.id, "data-status": status },
      h("div", { class: "check-line" },
        h("span", { class: `chip ${ALARMING.has(status) ? "warn" : "good"}` }, t(`check.status.${status}`)),
        h("span", {}, when(c.checkedAt)),
        c.employeesSeen !== null ? h("span", {}, t("check.employeesCount", { n: c.employeesSeen })) : null,
        h("span", { class: "muted" }, text(c.checkedBy))),
      c.note ? h("p", { class: "check-note" }, c.note) : null,
      showPhoto, photo);
  }));
}

// -- the check form (#/check/<id>) ------------------------------------------------------------------

export async function renderFieldCheck(main, { args, go, toast, showError }) {
  const { data } = await gql(Q.CHECK_SUMMARY, { id: args[0] });
  const e = data.enterprise;
  const key = visitKey(); // one per form: a submission retried after a lost answer is recorded once
  const radios = STATUSES.map((s) => h("label", { class: "status-choice", "data-status": s },
    h("input", { type: "radio", name: "status", value: s, required: true }), h("span", {}, t(`check.status.${s}`))));
  const employees = h("input", { type: "number", name: "employeesSeen", min: 0, step: 1, inputmode: "numeric", "data-testid": "check-employees" });
  const note = h("textarea", { name: "note", rows: 3, maxlength: 500, placeholder: t("check.noteHint"), "data-testid": "check-note" });
  const photo = h("input", { type: "file", name: "photo", accept: "image/*", capture: "environment", "data-testid": "check-photo" });
  const preview = h("img", { class: "check-preview", hidden: true, alt: "" });
  photo.addEventListener("change", () => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    const file = photo.files[0];
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  });
  const located = h("input", { type: "checkbox", "data-testid": "check-locate" });
  const problem = h("p", { class: "field-error", hidden: true, "data-testid": "check-error" });
  const submit = h("button", { class: "primary", type: "submit", "data-testid": "check-submit" }, t("check.submit"));

  const form = h("form", { class: "report-form check-form", "data-testid": "check-form", novalidate: true },
    h("fieldset", { class: "status-choices" }, h("legend", {}, t("check.statusSeen"), h("b", { class: "required" }, " *")), radios),
    h("label", { class: "field" }, t("check.employeesSeen"), employees),
    h("label", { class: "field" }, t("check.note"), note),
    h("label", { class: "field" }, t("check.photoOptional"), photo, preview),
    h("label", { class: "check" }, located, " ", t("check.locate")),
    problem,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    const status = form.querySelector("input[name=status]:checked")?.value;
    if (!status) return say(problem, t("check.pickStatus"));
    if (status === "moved" && !note.value.trim()) return say(problem, t("check.movedWhere"));
    submit.disabled = true;
    try {
      const body = new FormData();
      body.append("enterpriseId", e.id);
      body.append("status", status);
      body.append("employeesSeen", employees.value.trim());
      body.append("note", note.value.trim());
      body.append("key", key);
      if (photo.files[0]) {
        const sent = await smaller(photo.files[0]);
        body.append("photo", sent, sent.name);
      }
      const where = located.checked ? await position() : null;
      if (where) {
        body.append("lng", String(where.longitude));
        body.append("lat", String(where.latitude));
      } else if (located.checked) toast(t("check.noLocation"));
      const check = await postForm("/field-checks", body);
      toast(t("check.recorded"));
      go(`/enterprise/${e.id}`, { checked: check.id });
    } catch (error) {
      say(problem, error.message);
      showError(error);
    } finally {
      submit.disabled = false;
    }
  });

  replace(main, h("div", { class: "field-check", "data-testid": "check-page", "data-id": e.id },
    h("div", { class: "toolbar" }, h("h1", {}, t("check.title")),
      h("a", { href: `#/enterprise/${encodeURIComponent(e.id)}`, "data-testid": "check-panorama" }, t("check.toPanorama"))),
    summary(e), form));
}

// The facts a checker compares with what is in front of them, first.
function summary(e) {
  const last = e.fieldChecks?.[0];
  const rows = [["field.address", e.address], ["field.town", e.town], ["field.status", e.status], ["field.legal_rep", e.legalRep], ["field.phone", e.phone], ["field.industry_code", e.industryCode]];
  return h("section", { class: "card check-summary", "data-testid": "check-summary" },
    h("h2", { "data-testid": "check-name" }, text(e.name)),
    h("div", { class: "chips" }, e.creditCode ? h("span", { class: "chip mono" }, e.creditCode) : null, e.kind ? h("span", { class: "chip" }, t(`kind.${e.kind}`)) : null),
    h("table", { class: "kv" }, rows.map(([label, value]) => h("tr", {}, h("th", {}, t(label)), h("td", {}, text(value))))),
    h("p", { class: "muted", "data-testid": "check-last" }, last
      ? t("check.last", { status: t(`check.status.${statusOf(last)}`), at: when(last.checkedAt) })
      : t("check.never")));
}

function say(box, message) {
  box.textContent = message;
  box.hidden = false;
}

function visitKey() {
  // crypto.randomUUID needs a secure context; a town's server on plain http still has getRandomValues
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `v-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// The photo re-drawn at most PHOTO_EDGE pixels wide or high, as a JPEG; the original when it is small
// already or the browser cannot draw it (HEIC on most browsers: the server takes it as it is).
async function smaller(file) {
  try {
    const image = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_EDGE / Math.max(image.width, image.height));
    if (scale === 1 && file.size < 1_000_000) return file;
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(image.width * scale);
    canvas.height = Math.round(image.height * scale);
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    return blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file;
  } catch {
    return file;
  }
}

// Where the phone is, or null (no permission, no fix within 8 s, no geolocation on plain http).
function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => navigator.geolocation.getCurrentPosition(
    (p) => resolve(p.coords), () => resolve(null), { enableHighAccuracy: true, timeout: 8000, maximumAge: 60_000 }));
}
