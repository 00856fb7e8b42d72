"""Enterprises as the API reads them: panoramas, listings, search, facets, related (``api/enterprise.py``).

Every function that serves a per-enterprise field takes a *list* of enterprise ids and answers for all
of them in one statement (``UNWIND $ids``): the API's DataLoaders collect the ids of one request and call
these once, so a panorama costs a fixed number of round trips however many records or facts it shows.

Merged-away enterprises (those with a ``REDIRECTS_TO``) are never listed; looking one up by id finds
its survivor (:func:`lookup_ids`).

What a caller may see is given as a :class:`~entgraph.graph.visibility.Visibility` (the API derives it
from the catalog's sharing and the caller's role): an enterprise no record of a dataset visible to the
caller is about is not found, listed, searched or counted, and a golden value a column hidden from the
caller stated neither matches a filter, counts in a facet nor orders a listing. Both are tested in the
statements themselves, so a page, a count and a facet agree and nothing is fetched only to be dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphStore, Row
from entgraph.graph.search_text import query_tokens
from entgraph.graph.visibility import EVERYTHING, Visibility

# Record -> fact-node relations the panorama shows, by the API field that lists them. The relation
# names are those of the catalog's ``[[nodes]]`` and of ``loaders/records.py::_links``.
FACT_RELATIONS: dict[str, str] = {
    "towns": "IN_TOWN",
    "parks": "IN_PARK",
    "industries": "IN_INDUSTRY",
    "chains": "IN_CHAIN",
    "honours": "AWARDS",
    "credit_events": "RECORDS_EVENT",
    "parcels": "CONCERNS_PARCEL",
    "mortgages": "SECURED_BY",
}

# Longest REDIRECTS_TO chain followed: a merge of a merged survivor adds one hop; 10 is generous.
_MAX_REDIRECT_HOPS = 10


def lookup_ids(store: GraphStore, ids: Sequence[str]) -> list[Row]:
    """For each known id: ``{id, survivor}``, the survivor being the end of its REDIRECTS_TO chain (or
    the id itself when it was never merged). Unknown ids have no row."""
    return store.read(
        "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
        f"OPTIONAL MATCH (e)-[:REDIRECTS_TO*1..{_MAX_REDIRECT_HOPS}]->(s:Enterprise) "
        "WHERE NOT (s)-[:REDIRECTS_TO]->() "
        "RETURN id, coalesce(s.id, e.id) AS survivor",
        {"ids": list(ids)},
    )


def ids_by_credit_code(store: GraphStore, codes: Sequence[str]) -> list[Row]:
    """``{code, id}`` for enterprises carrying the given credit codes (merged-away ones included:
    :func:`lookup_ids` then takes them to their survivor)."""
    return store.read(
        "UNWIND $codes AS code MATCH (e:Enterprise {credit_code: code}) RETURN code, e.id AS id ORDER BY id",
        {"codes": list(codes)},
    )


def enterprises(store: GraphStore, ids: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{id, e}``: the node properties of each enterprise known to the caller (``sight``)."""
    return store.read(
        f"UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) {sight.keep_known('e', 'id, e')}"
        "RETURN id, properties(e) AS e",
        {"ids": list(ids), **sight.params()},
    )


def source_records(
    store: GraphStore, ids: Sequence[str], limit: int, datasets: Sequence[str] | None = None
) -> list[Row]:
    """``{id, records}``: up to ``limit`` records linked to each enterprise (any party), newest load
    first, each with its provenance and the link's party, method and probability; only records of
    ``datasets`` when given (a record's dataset alone can say much: 失信被执行人名单)."""
    return store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[a:ABOUT]->(:Enterprise {id: id}) "
        "WITH id, r, a WHERE $datasets IS NULL OR r.dataset IN $datasets "
        "WITH id, r, a ORDER BY r.loaded_at DESC, r.id "
        "WITH id, collect({id: r.id, dataset: r.dataset, department: r.department, "
        "file_name: r.file_name, sheet: r.sheet, row: r.row, loaded_at: r.loaded_at, party: a.party, "
        "method: a.method, probability: a.probability}) AS records "
        "RETURN id, records[0..$limit] AS records",
        {"ids": list(ids), "limit": limit, "datasets": None if datasets is None else list(datasets)},
    )


def family(store: GraphStore, ids: Sequence[str]) -> list[Row]:
    """``{id, parent, branches}``: the BRANCH_OF neighbours of each enterprise, as ids."""
    return store.read(
        "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
        "OPTIONAL MATCH (e)-[:BRANCH_OF]->(p:Enterprise) "
        "WITH id, e, collect(p.id) AS parents "
        "OPTIONAL MATCH (b:Enterprise)-[:BRANCH_OF]->(e) WHERE NOT (b)-[:REDIRECTS_TO]->() "
        "RETURN id, parents[0] AS parent, collect(b.id) AS branches",
        {"ids": list(ids)},
    )


def facts(store: GraphStore, ids: Sequence[str]) -> list[Row]:
    """One row per (enterprise, record, fact node) for the relations of :data:`FACT_RELATIONS`:
    ``{id, relation, party, record, node}``; ``record`` carries the chain position and year, which
    the chain datasets state on the row rather than on the edge."""
    return store.read(
        "UNWIND $ids AS id MATCH (n)<-[x]-(r:SourceRecord)-[a:ABOUT]->(:Enterprise {id: id}) "
        # filtered after a WITH: in the MATCH, FalkorDB's planner would scan every SourceRecord
        "WITH id, n, x, r, a WHERE type(x) IN $relations AND r.retired IS NULL "
        "RETURN id, type(x) AS relation, a.party AS party, "
        "{id: r.id, dataset: r.dataset, position: r.chain_position, year: coalesce(r.year, r.period)} "
        "AS record, "
        "properties(n) AS node",
        {"ids": list(ids), "relations": sorted(set(FACT_RELATIONS.values()))},
    )


def related(
    store: GraphStore,
    ids: Sequence[str],
    limit: int,
    datasets: Mapping[str, Sequence[str]] | None = None,
    sight: Visibility = EVERYTHING,
) -> list[Row]:
    """``{id, other, reason}``: enterprises that share a legal representative and phone, a phone, an
    address, a land parcel or a mortgage with each of ``ids`` (at most ``limit`` per reason).

    The shared value itself is not returned: it may be personal data, and the caller can read it from
    both enterprises' (masked) fields. A shared parcel or mortgage counts only when live records state
    it on both sides of the datasets ``datasets`` gives for its relation (``CONCERNS_PARCEL``,
    ``SECURED_BY``: those whose statement of it the caller may see; all, when None); a shared golden
    value only when the caller may see it on both sides (``sight``), and the other enterprise only when
    it is known to the caller.
    """
    live = "NOT (o)-[:REDIRECTS_TO]->() AND o.id <> e.id"
    by_value = (
        # The value is projected before the second MATCH so FalkorDB looks it up in the index; compared
        # as ``o.x = e.x`` it hash-joins against a scan of every enterprise.
        "UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) WHERE e.{prop} IS NOT NULL "
        "WITH id, e WHERE {shown_e} WITH id, e, e.{prop} AS value "
        "MATCH (o:Enterprise) WHERE o.{prop} = value WITH id, e, o WHERE "
        + live
        + " AND {shown_o} "
        + sight.keep_known("o", "id, e, o")
        + "WITH id, o, {reason} AS reason ORDER BY o.id "
        "RETURN id, reason, collect(o.id)[0..$limit] AS others"
    )
    by_fact = (
        "UNWIND $ids AS id MATCH (e:Enterprise {{id: id}})<-[:ABOUT]-(r:SourceRecord)-[:{rel}]->(f)"
        "<-[:{rel}]-(s:SourceRecord)-[:ABOUT]->(o:Enterprise) "
        "WITH id, e, o, r, s WHERE " + live + " AND r.retired IS NULL AND s.retired IS NULL "
        "AND ($datasets_{rel} IS NULL OR (r.dataset IN $datasets_{rel} AND s.dataset IN $datasets_{rel})) "
        "WITH DISTINCT id, o, '{reason}' AS reason ORDER BY o.id "
        "RETURN id, reason, collect(o.id)[0..$limit] AS others"
    )
    # Same phone: LEGAL_REP_AND_PHONE when the representative's name matches too (a stronger sign of
    # one owner), else PHONE; the names count only where the caller may see both.
    phone_reason = (
        "CASE WHEN e.legal_rep IS NOT NULL AND o.legal_rep = e.legal_rep "
        f"AND {sight.shows('legal_rep', 'e')} AND {sight.shows('legal_rep', 'o')} "
        "THEN 'LEGAL_REP_AND_PHONE' ELSE 'PHONE' END"
    )

    def by(prop: str, reason: str) -> str:
        shown = {"shown_e": sight.shows(prop, "e"), "shown_o": sight.shows(prop, "o")}
        return by_value.format(prop=prop, reason=reason, **shown)

    statement = " UNION ALL ".join(
        (
            by("phone", phone_reason),
            by("address", "'ADDRESS'"),
            by_fact.format(rel="CONCERNS_PARCEL", reason="PARCEL"),
            by_fact.format(rel="SECURED_BY", reason="MORTGAGE"),
        )
    )
    params = {
        "ids": list(ids),
        "limit": limit,
        **{
            f"datasets_{rel}": None if datasets is None else list(datasets.get(rel, ()))
            for rel in ("CONCERNS_PARCEL", "SECURED_BY")
        },
        **sight.params(),
    }
    rows = store.read(statement, params)
    return [{"id": row["id"], "reason": row["reason"], "other": o} for row in rows for o in row["others"]]


# Facts an enterprise listing can be filtered by: the fact node (label, property) a subject record of
# the enterprise must point at, through which relation. Each filter starts at the fact nodes (few) and
# walks back to their enterprises, instead of testing every enterprise's records.
# What every filter and its facet require of a record linking an enterprise: the record is about it as
# its subject and is not retired, and the enterprise is live (not merged away). One fragment, so that a
# facet's count and its filter's total cannot drift apart.
_LIVE_SUBJECT = "a.party = 'subject' AND r.retired IS NULL AND NOT (e)-[:REDIRECTS_TO]->()"

FACT_FILTERS: dict[str, tuple[str, str, str]] = {
    "chain": ("IN_CHAIN", "IndustryChain", "key"),
    "honour": ("AWARDS", "Honor", "kind"),
    "credit_event": ("RECORDS_EVENT", "CreditEvent", "kind"),
}


def ids_with_fact(store: GraphStore, name: str, value: str, datasets: Sequence[str]) -> list[str]:
    """Ids of live enterprises a subject record of ``datasets`` links to a fact node of
    :data:`FACT_FILTERS` ``name`` whose property equals ``value``."""
    relation, label, prop = FACT_FILTERS[name]
    rows = store.read(
        f"MATCH (f:{label}) WHERE f.{prop} = $value WITH f "
        f"MATCH (f)<-[:{relation}]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH r, a, e WHERE {_LIVE_SUBJECT} AND r.dataset IN $datasets RETURN DISTINCT e.id AS id",
        {"value": value, "datasets": list(datasets)},
    )
    return [row["id"] for row in rows]


def ids_in_industry(
    store: GraphStore, industry: str, datasets: Sequence[str], sight: Visibility = EVERYTHING
) -> list[str]:
    """Ids of live enterprises in an industry: golden industry code starting with ``industry`` (GB/T 4754
    codes nest: C, C19, C195 ...) where the caller may see that code, or a subject record of
    ``datasets`` classing it under an industry of that name or code. (Whether the caller knows the
    enterprise is left to the listing these ids narrow.)"""
    rows = store.read(
        "MATCH (e:Enterprise) WHERE e.industry_code STARTS WITH $industry AND NOT (e)-[:REDIRECTS_TO]->() "
        f"WITH e WHERE {sight.shows('industry_code')} RETURN e.id AS id "
        "UNION "
        "MATCH (i:Industry) WHERE i.name = $industry OR i.code STARTS WITH $industry WITH i "
        "MATCH (i)<-[:IN_INDUSTRY]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH r, a, e WHERE {_LIVE_SUBJECT} AND r.dataset IN $datasets RETURN e.id AS id",
        {"industry": industry, "datasets": list(datasets), **sight.params()},
    )
    return [row["id"] for row in rows]


def ids_with_size(store: GraphStore, datasets: Sequence[str], size: str) -> list[str]:
    """Ids of live enterprises whose records in ``datasets`` (those with an ``enterprise_size`` column)
    state ``size`` (大型 / 中型 / 小型 / 微型)."""
    rows = store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE r.dataset IN $datasets "
        f"AND r.enterprise_size = $size AND {_LIVE_SUBJECT} RETURN DISTINCT e.id AS id",
        {"datasets": list(datasets), "size": size},
    )
    return [row["id"] for row in rows]


# Sort keys of the enterprise listing: a total order with the id as tie-break; nulls sort as the
# coalesced value, so keyset paging never skips or repeats them.
SORT_KEYS: dict[str, str] = {
    "id": "e.id",
    "name": "coalesce(e.name, '')",
    "registered_capital": "coalesce(toFloat(e.registered_capital), -1.0)",
    "established": "coalesce(toString(e.established), '')",
}


def sort_key(sort: str, sight: Visibility = EVERYTHING) -> str:
    """The :data:`SORT_KEYS` expression of ``sort``, over golden values as the caller may see them: a
    value hidden from it sorts (and is written in cursors) as a missing one."""
    key = SORT_KEYS[sort]
    if sort in sight.golden:
        key = key.replace(f"e.{sort}", sight.value(sort))
    return key


def _listing_filter(
    only_ids: Sequence[str] | None, town: str | None, sight: Visibility = EVERYTHING
) -> tuple[str, dict[str, Any]]:
    """The WHERE of ``MATCH (e:Enterprise)`` for a listing, then the clauses keeping enterprises known
    to the caller (``e`` carried), and the parameters."""
    clauses = ["NOT (e)-[:REDIRECTS_TO]->()"]
    params: dict[str, Any] = sight.params()
    if only_ids is not None:
        clauses.append("e.id IN $only_ids")
        params["only_ids"] = list(only_ids)
    if town is not None:
        # the indexed equality first, which narrows; then whether the caller may see that golden town
        clauses += ["e.town = $town", sight.shows("town")]
        params["town"] = town
    return " AND ".join(clauses) + " " + sight.keep_known(), params


def enterprise_page(
    store: GraphStore,
    only_ids: Sequence[str] | None,
    town: str | None,
    size: int,
    sort: str = "id",
    descending: bool = False,
    after: tuple[Any, str] | None = None,
    sight: Visibility = EVERYTHING,
) -> list[Row]:
    """``{id, key}`` of ``size`` live enterprises known to the caller in ``sort`` order (then id), after
    the ``after`` (key, id) position; optionally only among ``only_ids`` and in ``town``."""
    where, params = _listing_filter(only_ids, town, sight)
    key = sort_key(sort, sight)
    if after is not None:
        beyond = "<" if descending else ">"
        # Project first, then compare: FalkorDB mis-compares some indexed non-ASCII properties in WHERE.
        position = f"WHERE k {beyond} $after_key OR (k = $after_key AND id > $after_id) "
        params |= {"after_key": after[0], "after_id": after[1]}
    else:
        position = ""
    rows = store.read(
        f"MATCH (e:Enterprise) WHERE {where}WITH e.id AS id, {key} AS k {position}"
        f"RETURN id, k AS key ORDER BY k {'DESC' if descending else 'ASC'}, id LIMIT $size",
        {**params, "size": size},
    )
    return rows


def enterprise_count(
    store: GraphStore, only_ids: Sequence[str] | None, town: str | None, sight: Visibility = EVERYTHING
) -> int:
    where, params = _listing_filter(only_ids, town, sight)
    return store.read(f"MATCH (e:Enterprise) WHERE {where}RETURN count(e) AS n", params)[0]["n"]


def search_ids(store: GraphStore, text: str, limit: int) -> list[str]:
    """Ids of enterprises whose name matches ``text``: the full-text index over ``name_tokens``
    (bigrams, so partial names match), else — for text the index cannot tokenise into a match, such as
    a single character — a CONTAINS scan of names and former names."""
    wanted = set(query_tokens(text))  # the tokens the index is asked for (a bounded number)
    hits = store.fulltext_search("Enterprise", text, limit)
    # The index ORs the bigrams, so "晋江市某某" would also find every "晋江..." name: keep hits that share
    # at least half of the query's tokens (a partial or reordered name still does).
    enough = (len(wanted) + 1) // 2
    ids = [
        hit.properties["id"]
        for hit in hits
        if hit.properties.get("id")
        and len(wanted & set(str(hit.properties.get("name_tokens", "")).split())) >= enough
    ]
    if ids:
        return ids
    rows = store.read(
        "MATCH (e:Enterprise) WHERE e.name CONTAINS $text "
        "OR any(n IN coalesce(e.former_names, []) WHERE n CONTAINS $text) "
        "RETURN e.id AS id ORDER BY id LIMIT $limit",
        {"text": text, "limit": limit},
    )
    return [row["id"] for row in rows]


# --- facets of the listing's filters ---------------------------------------------------------------
# Each facet counts live enterprises with the predicates of the filter it feeds (the listing's
# ``NOT (e)-[:REDIRECTS_TO]->()``, subject links of active records), so a value used as that filter
# finds exactly its count.


def town_facet(store: GraphStore, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{value, count}``: live enterprises known to the caller per golden town it may see."""
    return store.read(
        "MATCH (e:Enterprise) WITH e WHERE e.town IS NOT NULL AND NOT (e)-[:REDIRECTS_TO]->() "
        f"AND {sight.shows('town')} {sight.keep_known()}"
        "RETURN e.town AS value, count(e) AS count",
        sight.params(),
    )


def fact_facet(store: GraphStore, name: str, datasets: Sequence[str]) -> list[Row]:
    """``{value, label, count}``: live enterprises per value of the :data:`FACT_FILTERS` ``name``
    property, counted as :func:`ids_with_fact` finds them; ``label`` is a node's ``name``, if any."""
    relation, label, prop = FACT_FILTERS[name]
    return store.read(
        f"MATCH (f:{label})<-[:{relation}]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH f, r, a, e WHERE f.{prop} IS NOT NULL AND {_LIVE_SUBJECT} AND r.dataset IN $datasets "
        f"RETURN f.{prop} AS value, min(f.name) AS label, count(DISTINCT e.id) AS count",
        {"datasets": list(datasets)},
    )


def industry_codes(store: GraphStore, datasets: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{id, code, name}``: every industry code a live enterprise known to the caller is in, as
    :func:`ids_in_industry` matches them: its golden code where the caller may see it (name null), and
    the code and name of each industry a subject record of ``datasets`` classes it under (such a record
    makes the enterprise known). One row per (enterprise, code): the caller groups the codes (by
    division) and counts distinct enterprises, which one aggregate cannot do over a prefix match on two
    sources."""
    return store.read(
        "MATCH (e:Enterprise) WITH e WHERE e.industry_code IS NOT NULL AND NOT (e)-[:REDIRECTS_TO]->() "
        f"AND {sight.shows('industry_code')} {sight.keep_known()}"
        "RETURN e.id AS id, e.industry_code AS code, null AS name "
        "UNION "
        "MATCH (i:Industry)<-[:IN_INDUSTRY]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) "
        f"WITH i, r, a, e WHERE i.code IS NOT NULL AND {_LIVE_SUBJECT} AND r.dataset IN $datasets "
        "RETURN e.id AS id, i.code AS code, i.name AS name",
        {"datasets": list(datasets), **sight.params()},
    )


def size_facet(store: GraphStore, datasets: Sequence[str]) -> list[Row]:
    """``{value, count}``: live enterprises per size stated by their subject records in ``datasets``
    (those with an ``enterprise_size`` column), counted as :func:`ids_with_size` finds them."""
    return store.read(
        # From the dataset index: only the few datasets with a size column are read.
        "MATCH (r:SourceRecord) WHERE r.dataset IN $datasets "
        "WITH r WHERE r.enterprise_size IS NOT NULL AND r.retired IS NULL "
        "MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        f"WITH r, a, e WHERE {_LIVE_SUBJECT} "
        "RETURN r.enterprise_size AS value, count(DISTINCT e.id) AS count",
        {"datasets": list(datasets)},
    )
