// Search → results: name search (full-text over bigrams plus fuzzy, done by the API), filters from the
// facets, relay-style pages ("more" follows the cursor).

import { gql } from "../api.js";
import { debounce, h, money, replace, text } from "../dom.js";
import { lang, t } from "../i18n.js";
import * as Q from "../queries.js";

const FILTERS = ["town", "industry", "chain", "honour", "size"];
const FACET_OF = { town: "towns", industry: "industries", chain: "chains", honour: "honours", size: "sizes" };
const PAGE = 20;
let facetCache = null;

async function facets() {
  if (!facetCache) {
    const { data } = await gql(Q.FACETS);
    facetCache = data.enterpriseFacets;
  }
  return facetCache;
}

// Forget the cached facets (the steward page calls this after a judgement or an undo: merges and
// links change the counts), so the next search page fetches them again.
export function resetFacets() {
  facetCache = null;
}

export async function renderSearch(main, { query, go, showError }) {
  const state = { q: query.q || "", sort: query.sort || "" };
  for (const key of FILTERS) state[key] = query[key] || "";
  const options = await facets();

  const input = h("input", {
    type: "search",
    class: "search-box",
    placeholder: t("search.placeholder"),
    value: state.q,
    "data-testid": "search-input",
  });
  const apply = () => go("/search", Object.fromEntries(Object.entries(state).filter(([, v]) => v)));
  const typed = debounce(() => ((state.q = input.value.trim()), apply()), 350);
  input.addEventListener("input", typed);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      typed.cancel();
      state.q = input.value.trim();
      apply();
    }
  });

  const selects = FILTERS.map((key) => {
    const select = h(
      "select",
      { "data-testid": `filter-${key}`, "aria-label": t(`search.filter.${key}`) },
      h("option", { value: "" }, `${t(`search.filter.${key}`)}: ${t("search.any")}`),
      options[FACET_OF[key]].map((f) =>
        h("option", { value: f.value, selected: f.value === state[key] }, `${f.label || f.value} (${f.count})`),
      ),
    );
    select.addEventListener("change", () => ((state[key] = select.value), apply()));
    return select;
  });
  const sort = h(
    "select",
    { "data-testid": "sort", "aria-label": t("search.sort") },
    ["", "NAME", "REGISTERED_CAPITAL:DESC", "ESTABLISHED:DESC"].map((value) =>
      h("option", { value, selected: value === state.sort }, t(`search.sort.${value || "relevance"}`)),
    ),
  );
  sort.addEventListener("change", () => ((state.sort = sort.value), apply()));

  const summary = h("p", { class: "summary", "data-testid": "result-count" });
  const list = h("table", { class: "results", "data-testid": "results" });
  const more = h("button", { class: "more", hidden: true }, t("search.more"));
  replace(
    main,
    h("section", { class: "search" }, h("h1", {}, t("search.title")), input, h("div", { class: "filters" }, selects, sort)),
    summary,
    list,
    more,
  );
  input.focus();

  const filter = Object.fromEntries(FILTERS.filter((k) => state[k]).map((k) => [k, state[k]]));
  const [field, direction] = state.sort.split(":");
  const variables = {
    search: state.q || null,
    filter: Object.keys(filter).length ? filter : null,
    sort: field ? { field, direction: direction || "ASC" } : null,
    first: PAGE,
    after: null,
  };
  replace(list, header());
  const loadPage = async () => {
    try {
      const { data } = await gql(Q.SEARCH, variables);
      const page = data.enterprises;
      replace(summary, t("search.count", { count: page.totalCount }));
      for (const edge of page.edges) list.appendChild(row(edge.node));
      variables.after = page.pageInfo.endCursor;
      list.dataset.query = state.q; // loaded: for tests and for people, which search these rows answer
      more.hidden = !page.pageInfo.hasNextPage;
    } catch (error) {
      showError(error);
    }
  };
  more.addEventListener("click", loadPage);
  await loadPage();
  return () => typed.cancel();
}

function header() {
  return h(
    "tr",
    {},
    ["name", "creditCode", "town", "industry", "capital", "status"].map((k) => h("th", {}, t(`search.col.${k}`))),
  );
}

function row(node) {
  return h(
    "tr",
    { "data-testid": "result", "data-id": node.id },
    h("td", {}, h("a", { href: `#/enterprise/${encodeURIComponent(node.id)}` }, text(node.name)), node.provisional ? h("span", { class: "badge", title: t("enterprise.provisionalHint") }, t("enterprise.provisional")) : null),
    h("td", { class: "mono" }, text(node.creditCode)),
    h("td", {}, text(node.town)),
    h("td", {}, text(node.industryCode)),
    h("td", { class: "num" }, money(node.registeredCapital, lang())),
    h("td", {}, text(node.status)),
  );
}
