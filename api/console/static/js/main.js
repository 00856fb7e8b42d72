// The console's shell: navigation, login state, language, and a hash router (#/search, #/enterprise/E-…,
// #/check/E-… (a field check), #/chains/…, #/steward, #/audit, #/feeds, #/warnings, #/login). Each page is
// a module exporting render(main, route) that may return a cleanup function (charts to dispose, keys to
// release).

import { can, gql, principalOf, session } from "./api.js";
import { h, params, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import * as Q from "./queries.js";
import { renderAudit, renderSteward } from "./pages/steward.js";
import { renderChains } from "./pages/chains.js";
import { renderEnterprise } from "./pages/enterprise.js";
import { renderFeeds } from "./pages/feeds.js";
import { renderFieldCheck } from "./pages/fieldcheck.js";
import { renderHonours } from "./pages/honours.js";
import { renderKeys } from "./pages/keys.js";
import { renderMap } from "./pages/map.js";
import { renderReport } from "./pages/report.js";
import { renderUpload } from "./pages/upload.js";
import { renderLogin } from "./pages/login.js";
import { renderSearch } from "./pages/search.js";
import { renderTowns } from "./pages/towns.js";
import { renderWarnings } from "./pages/warnings.js";

const ROUTES = [
  { pattern: /^\/search$/, render: renderSearch, nav: "search" },
  { pattern: /^\/enterprise\/(.+)$/, render: renderEnterprise, nav: "search" },
  { pattern: /^\/check\/(.+)$/, render: renderFieldCheck, nav: "search", role: "steward" },
  { pattern: /^\/chains(?:\/(.+))?$/, render: renderChains, nav: "chains", role: "analyst" },
  { pattern: /^\/steward(?:\/(.+))?$/, render: renderSteward, nav: "steward", role: "steward" },
  { pattern: /^\/audit$/, render: renderAudit, nav: "steward", role: "steward" },
  { pattern: /^\/feeds$/, render: renderFeeds, nav: "feeds" },
  { pattern: /^\/upload$/, render: renderUpload, nav: "upload", role: "department" },
  { pattern: /^\/report$/, render: renderReport, nav: "report", role: "enterprise" },
  { pattern: /^\/honours$/, render: renderHonours, nav: "honours" },
  { pattern: /^\/keys$/, render: renderKeys, nav: "keys", role: "admin" },
  { pattern: /^\/warnings$/, render: renderWarnings, nav: "warnings", role: "analyst" },
  { pattern: /^\/towns$/, render: renderTowns, nav: "towns", role: "analyst" },
  { pattern: /^\/map$/, render: renderMap, nav: "map" },
  { pattern: /^\/login$/, render: renderLogin, nav: "login" },
];

const NAV = [
  { key: "search", href: "#/search" },
  { key: "chains", href: "#/chains", role: "analyst" },
  { key: "steward", href: "#/steward", role: "steward" },
  { key: "feeds", href: "#/feeds" },
  { key: "upload", href: "#/upload", role: "department" },
  { key: "report", href: "#/report", role: "enterprise" },
  { key: "honours", href: "#/honours" },
  { key: "keys", href: "#/keys", role: "admin" },
  { key: "warnings", href: "#/warnings", role: "analyst" },
  { key: "towns", href: "#/towns", role: "analyst" },
  { key: "map", href: "#/map" },
];

let cleanup = null;
let renderId = 0;

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/search";
  const [path, query] = raw.split("?");
  return { path, query: params(query) };
}

export function go(path, query) {
  const search = query ? new URLSearchParams(query).toString() : "";
  location.hash = `#${path}${search ? `?${search}` : ""}`;
}

export function showError(error) {
  const banner = document.getElementById("error");
  if (!error) {
    banner.hidden = true;
    return;
  }
  const code = error.code ? `[${error.code}] ` : "";
  replace(banner, `${code}${error.message || error}`, h("button", { class: "link", onclick: () => showError(null) }, "×"));
  banner.hidden = false;
}

export function toast(message) {
  const box = document.getElementById("toast");
  replace(box, message);
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

function renderHeader(active) {
  const links = NAV.filter((item) => !item.role || can(item.role)).map((item) =>
    h("a", { href: item.href, class: item.key === active ? "active" : "", "data-nav": item.key }, t(`nav.${item.key}`)),
  );
  const who = session.principal;
  const account = session.credential()
    ? [
        h("span", { class: `role role-${who.role}`, "data-testid": "role" }, `${t(`role.${who.role}`)} · ${who.subject || ""}`),
        h("button", { class: "link", "data-testid": "logout", onclick: logout }, t("login.logout")),
      ]
    : [
        h("span", { class: "role role-public", "data-testid": "role" }, t("role.public")),
        h("a", { href: "#/login", "data-testid": "login-link" }, t("login.title")),
      ];
  const toggle = h(
    "button",
    { class: "lang", "data-testid": "lang-toggle", title: "中文 / English", onclick: () => setLang(lang() === "zh" ? "en" : "zh") },
    lang() === "zh" ? "EN" : "中文",
  );
  replace(
    document.getElementById("header"),
    h("a", { class: "brand", href: "#/search" }, t("app.title")),
    h("nav", {}, links),
    h("div", { class: "account" }, account, toggle),
  );
}

async function logout() {
  session.logout();
  await refreshPrincipal();
  go("/search");
}

async function refreshPrincipal() {
  try {
    const { data } = await gql(Q.ME);
    session.principal = principalOf(data.me);
  } catch (error) {
    // A key the server no longer accepts (revoked, expired): drop it and carry on as the public.
    if (error.status === 401) {
      session.logout();
      session.principal = { role: "public", subject: null };
      showError({ message: t("login.expired"), code: "UNAUTHENTICATED" });
    } else {
      showError(error);
    }
  }
}

async function route() {
  const mine = ++renderId;
  if (cleanup) {
    try {
      cleanup();
    } catch {}
    cleanup = null;
  }
  showError(null);
  const { path, query } = parseHash();
  const found = ROUTES.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m);
  const main = document.getElementById("main");
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
  if (!found) {
    renderHeader(null);
    replace(main, h("p", { class: "empty" }, t("app.notFound")));
    return;
  }
  renderHeader(found.r.nav);
  if (found.r.role && !can(found.r.role)) {
    replace(main, h("div", { class: "empty", "data-testid": "forbidden" }, t("app.needsRole", { role: t(`role.${found.r.role}`) }), " ", h("a", { href: "#/login" }, t("login.title"))));
    return;
  }
  replace(main, h("p", { class: "loading" }, t("app.loading")));
  try {
    const result = await found.r.render(main, { args: found.m.slice(1), query, go, toast, showError, refreshPrincipal });
    if (mine === renderId) cleanup = typeof result === "function" ? result : null;
    else if (typeof result === "function") result();
  } catch (error) {
    if (mine !== renderId) return;
    replace(main, h("p", { class: "empty" }, t("app.failed")));
    showError(error);
  }
}

async function start() {
  await refreshPrincipal();
  window.addEventListener("hashchange", route);
  window.addEventListener("entgraph:lang", route);
  window.addEventListener("entgraph:expired", async () => {
    await route();
    showError({ message: t("login.expired"), code: "UNAUTHENTICATED" });
  });
  await route();
  document.body.dataset.ready = "1";
}

start();
