"""The panorama's per-request DataLoaders, keyed by enterprise id (or chain segment page).

Each loader reads a whole batch in one ``UNWIND $ids`` statement (Cypher in ``graph/enterprise_queries.py``,
``fact_queries.py``, ``land_credit_queries.py``, ``chain_queries.py``), as the caller may see the graph
(``api/visibility.py``), and is cached for the request (``Context.loader``), so a page of 20 enterprises
costs the same round trips as one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.types import Info

from entgraph.api.context import Context
from entgraph.api.masking import Decision, policy
from entgraph.api.visibility import UNKNOWN_PERSONAL, fact_datasets, visibility
from entgraph.graph import chain_queries, enterprise_queries, fact_queries, land_credit_queries

K = TypeVar("K", bound=Hashable)

_PHONE_REASONS = {"PHONE", "LEGAL_REP_AND_PHONE"}


# --- loaders ---------------------------------------------------------------------------------------


def batched_loader(
    info: Info[Context, None], name: str, fetch: Callable[[list[K]], dict[K, Any]], default: Any = None
) -> Any:
    """This request's loader ``name``: keys batched into one ``fetch`` call, run off the event loop."""
    context = info.context

    async def load(keys: list[K]) -> Sequence[Any]:
        found = await context.in_thread(fetch, keys)
        return [found.get(key, default) for key in keys]

    return context.loader(name, load)


def _by_id(rows: list[dict[str, Any]], column: str) -> dict[str, Any]:
    return {row["id"]: row[column] for row in rows}


def _grouped(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["id"], []).append(row)
    return out


def _limited(
    fetch: Callable[[list[str], int], dict[str, list[Any]]],
) -> Callable[[list[tuple[str, int]]], dict[tuple[str, int], list[Any]]]:
    """Turn a fetch by (ids, limit) into one keyed by (id, first): one read with the largest limit."""

    def run(keys: list[tuple[str, int]]) -> dict[tuple[str, int], list[Any]]:
        found = fetch(sorted({k[0] for k in keys}), max(k[1] for k in keys))
        return {(eid, first): found.get(eid, [])[:first] for eid, first in keys}

    return run


def node_loader(info: Info[Context, None]) -> Any:
    """Enterprise nodes by id; None for an id unknown, or unknown to the caller (only datasets hidden
    from it know of the enterprise). Every Enterprise the API returns is loaded here."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info, "enterprise.node", lambda ids: _by_id(enterprise_queries.enterprises(store, ids, sight), "e")
    )


def survivor_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.survivor", lambda ids: _by_id(enterprise_queries.lookup_ids(store, ids), "survivor")
    )


def code_loader(info: Info[Context, None]) -> Any:
    store = info.context.store

    def fetch(codes: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in enterprise_queries.ids_by_credit_code(store, codes):
            found.setdefault(row["code"], row["id"])  # ordered by id: a stable pick among duplicates
        return found

    return batched_loader(info, "enterprise.by_code", fetch)


def records_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def fetch(ids: list[str], n: int) -> dict[str, list[Any]]:
        # Records of datasets the caller may see: that a 失信 list names it is credit data itself.
        rows = enterprise_queries.source_records(context.store, ids, n, context.visible_datasets())
        return _by_id(rows, "records")

    return batched_loader(info, "enterprise.records", _limited(fetch), [])


def family_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.family", lambda ids: {r["id"]: r for r in enterprise_queries.family(store, ids)}
    )


def facts_loader(info: Info[Context, None]) -> Any:
    store = info.context.store
    return batched_loader(
        info, "enterprise.facts", lambda ids: _grouped(enterprise_queries.facts(store, ids)), []
    )


def event_loader(info: Info[Context, None]) -> Any:
    """Credit events by key, with their properties as the caller may see them: a property some record
    of a dataset hidden from it wrote onto the shared node is left out (``land_credit_queries``)."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info,
        "enterprise.credit_events",
        lambda keys: _by_key(land_credit_queries.credit_events(store, keys, sight)),
    )


def fact_props_loader(info: Info[Context, None], relation: str) -> Any:
    """Fact nodes of ``relation`` (honours, mortgages) by key, with their properties as the caller may
    see them: what records of datasets hidden from it, or columns it may not see, wrote onto the
    shared node is left out (``fact_queries.fact_props``)."""
    store, sight = info.context.store, visibility(info.context)
    label = _FACT_LABELS[relation]
    identity = fact_queries.KIND_IN_KEY if label == "Honor" else ""
    return batched_loader(
        info,
        f"enterprise.{relation}",
        lambda keys: _by_key(fact_queries.fact_props(store, label, relation, keys, sight, identity)),
    )


# The node label of each fact relation whose properties the panorama shows beyond the node's key.
_FACT_LABELS = {"AWARDS": "Honor", "SECURED_BY": "Mortgage"}


def parcel_props_loader(info: Info[Context, None]) -> Any:
    """Land parcels by key, with their properties as the caller may see them: a number, location or
    area only a record of a dataset hidden from it wrote onto the shared node is left out
    (``land_credit_queries.parcels``)."""
    store, sight = info.context.store, visibility(info.context)
    return batched_loader(
        info,
        "enterprise.parcels",
        lambda keys: {row["key"]: row["p"] for row in land_credit_queries.parcels(store, keys, sight)},
    )


def _by_key(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {row["key"]: row["props"] for row in rows}


def related_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def fetch(ids: list[str], n: int) -> dict[str, list[dict[str, Any]]]:
        # Relations come from what the caller may see: a parcel or mortgage shared in records of
        # datasets open to its role (in columns it may see), and a shared phone (personal data) only
        # for roles that see phones.
        phones = policy(UNKNOWN_PERSONAL, context.principal.role) is not Decision.NULL
        datasets = {rel: fact_datasets(context, rel) for rel in ("CONCERNS_PARCEL", "SECURED_BY")}
        rows = enterprise_queries.related(context.store, ids, n, datasets, visibility(context))
        return _grouped([r for r in rows if phones or r["reason"] not in _PHONE_REASONS])

    return batched_loader(info, "enterprise.related", _limited(fetch), [])


def segment_loader(info: Info[Context, None]) -> Any:
    """Keys ``(chain, year, position | None, after, size)`` -> enterprise ids, one read per batch."""
    context = info.context

    async def load(keys: list[tuple[str, int, str | None, str, int]]) -> list[list[str]]:
        wants = [
            {"want": i, "chain": c, "year": y, "position": p, "after": a, "size": n}
            for i, (c, y, p, a, n) in enumerate(keys)
        ]
        rows = await context.in_thread(chain_queries.segment_pages, context.store, wants, visibility(context))
        found = {row["want"]: row["ids"] for row in rows}
        return [found.get(i, []) for i in range(len(keys))]

    return context.loader("chain.segment", load)
