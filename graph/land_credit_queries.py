"""All Cypher the land-and-credit API needs (``api/land_credit.py``).

Parcels, credit events and mortgages are fact nodes that department records point at (see
``docs/graph-model.md``): ``(:SourceRecord)-[:CONCERNS_PARCEL | SUPERSEDES_TITLE | REGISTERS_TITLE ...]->
(:LandParcel)``, ``-[:RECORDS_EVENT]->(:CreditEvent)``, ``-[:SECURED_BY]->(:Mortgage)``; the enterprises
on a record hang off it by ``ABOUT {party}``. Every function that serves a list takes a *list* of keys
and answers for all of them in one statement (``UNWIND``), so a page of parcels or events costs the
same few round trips whatever its size. Retired records (``r.retired``) are ignored throughout.

Labels and relation names are constants of this module; every value travels as a parameter. The
statements use the openCypher subset both FalkorDB and Neo4j run (no APOC, no subqueries).

What a caller may see is a :class:`~entgraph.graph.visibility.Visibility`: the listings here count only
records of datasets the caller may see (a parcel placed in a town, a credit event reported) whose
columns making the link it may see, and an enterprise's golden town only where the caller may see it.
A credit event node holds what the records reporting it wrote onto it (each load ``SET n += props``, so
the last record written wins a property): a caller sees a property only where a record it may see
states that value in a column it may see (:func:`_event_props`), and the event's date is worked out
from those alone. A land parcel likewise (:func:`parcels`): its number, location and area are what the
records the caller may see state; and a mortgage's amount, date and type (:func:`mortgage_links`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from entgraph.graph.fact_queries import KIND_IN_KEY, as_props, fact_props
from entgraph.graph.port import GraphStore, Row
from entgraph.graph.visibility import EVERYTHING, Visibility, also

# The two parties of a mortgage record (jj_real_estate_mortgages): the mortgagor is the record's
# subject, the mortgagee the spec party ``mortgagee``.
MORTGAGOR_PARTY = "subject"
MORTGAGEE_PARTY = "mortgagee"

# The date a credit event was decided on: the node's own date when its spec put one there, else the
# earliest such date on the records that report it (wh_miit_recognitions keeps it on the record only).
EVENT_DATE_FIELDS = ("decided_on", "occurred_on")


def _event_props(sight: Visibility) -> str:
    """The properties of credit event ``n`` as the caller may see them, given ``rs`` (its live records
    the caller may see): :meth:`Visibility.stated_props`, its ``kind`` shown where its key carries it."""
    return sight.stated_props("n", "rs", KIND_IN_KEY)


def _event_date(sight: Visibility, field: str) -> str:
    """Cypher for the date ``field`` of credit event ``n`` where the caller may see it (as
    :func:`_event_props`), given ``rs``."""
    return sight.stated(field, "n", "rs")


# --- land parcels ----------------------------------------------------------------------------------


def parcels(store: GraphStore, keys: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{key, p}``: the node properties of each known parcel as the caller (``sight``) may see them:
    those a live record it may see states (``Visibility.stated_props``; a parcel node holds what every
    record about it wrote, a 不予共享 transfer's area and location among them). A parcel no such
    record concerns has no row."""
    if not sight.sifts_facts:
        return store.read(
            "UNWIND $keys AS k MATCH (p:LandParcel {key: k}) RETURN k AS key, properties(p) AS p",
            {"keys": list(keys)},
        )
    rows = store.read(
        "UNWIND $keys AS k MATCH (p:LandParcel {key: k})<--(r:SourceRecord) "
        f"WITH k, p, r WHERE r.retired IS NULL{also(sight.sees_record('r'))} "
        f"WITH k, p, collect(r) AS rs RETURN k AS key, {sight.stated_props('p', 'rs')} AS p",
        {"keys": list(keys), **sight.params()},
    )
    return [{"key": row["key"], "p": as_props(row["p"])} for row in rows]


def parcel_records(store: GraphStore, keys: Sequence[str]) -> list[Row]:
    """One row per (parcel, live record pointing at it): ``{key, relation, id, dataset, department,
    props, parties}``; ``props`` are the record's fields (the API picks the dated, priced ones by the
    catalog), ``parties`` a list of ``{id, party}`` for the enterprises the record is linked to (entries
    with a null id when it is linked to none)."""
    return store.read(
        "UNWIND $keys AS k MATCH (p:LandParcel {key: k})<-[x]-(r:SourceRecord) "
        "WITH k, x, r WHERE r.retired IS NULL "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "WITH k, type(x) AS relation, r, collect({id: e.id, party: a.party}) AS parties "
        "RETURN k AS key, relation, r.id AS id, r.dataset AS dataset, r.department AS department, "
        "properties(r) AS props, parties",
        {"keys": list(keys)},
    )


def parcel_keys_of(store: GraphStore, enterprise_id: str, limit: int) -> list[str]:
    """Keys of parcels that a live record with ``enterprise_id`` as its subject points at (the
    candidates for "parcels it holds"), in key order, at most ``limit``."""
    rows = store.read(
        "MATCH (:Enterprise {id: $id})<-[a:ABOUT]-(r:SourceRecord)-->(p:LandParcel) "
        "WITH a, r, p WHERE a.party = 'subject' AND r.retired IS NULL "
        "RETURN DISTINCT p.key AS key ORDER BY key LIMIT $limit",
        {"id": enterprise_id, "limit": limit},
    )
    return [row["key"] for row in rows]


def parcel_page(
    store: GraphStore,
    among: Sequence[str] | None,
    town: str | None,
    after: str,
    size: int,
    sight: Visibility = EVERYTHING,
) -> list[str]:
    """Keys of parcels after ``after`` in key order (``size`` of them), optionally only among
    ``among`` and only those a live record (of a dataset the caller may see) places in the town named
    ``town``."""
    params: dict[str, Any] = {"after": after, "size": size}
    where = ["true"]
    if among is not None:
        where.append("p.key IN $among")
        params["among"] = list(among)
    if town is None:
        match = "MATCH (p:LandParcel)"
    else:
        match = "MATCH (t:Town {key: $town})<-[:IN_TOWN]-(r:SourceRecord)-->(p:LandParcel) WITH r, p"
        where += ["r.retired IS NULL" + also(sight.sees_fact("r", "IN_TOWN"))]
        params |= {"town": town, **sight.params()}
    # ``key > $after`` on the projected value, not on ``p.key``: FalkorDB answers a range predicate on an
    # indexed property from the index, which compares non-ASCII keys (晋国用..., 闽(2022)...) wrongly and
    # would end the listing early.
    rows = store.read(
        f"{match} WHERE {' AND '.join(where)} "
        "WITH DISTINCT p.key AS key WHERE key > $after RETURN key ORDER BY key LIMIT $size",
        params,
    )
    return [row["key"] for row in rows]


# --- credit events ---------------------------------------------------------------------------------


def _event_filter(
    kind: str | None,
    date_from: str | None,
    date_to: str | None,
    town: str | None,
    sight: Visibility = EVERYTHING,
) -> tuple[str, dict[str, Any]]:
    """The statement head that yields ``n`` (a CreditEvent with a live record of a dataset the caller
    may see), ``decided`` (its date, as those records give it) and ``props`` (its properties as the
    caller may see them, :func:`_event_props`), filtered; the caller adds its own ``WHERE``/``RETURN``."""
    params: dict[str, Any] = sight.params()
    node_where = ["r.retired IS NULL" + also(sight.sees_fact("r", "RECORDS_EVENT"))]
    if kind is not None:
        node_where.append("n.kind = $kind")
        params["kind"] = kind
    # r unlabelled (only records point at events) and filtered after WITH: otherwise FalkorDB's planner
    # starts from a scan of every SourceRecord.
    head = "MATCH (n:CreditEvent)<-[:RECORDS_EVENT]-(r) WITH n, r WHERE " + " AND ".join(node_where) + " "
    node_date = ", ".join(_event_date(sight, f) for f in EVENT_DATE_FIELDS)
    record_date = "coalesce(" + ", ".join(sight.column_value(f, "r") for f in EVENT_DATE_FIELDS) + ")"
    head += (
        f"WITH n, r, {record_date} AS rd ORDER BY rd "
        "WITH n, collect(rd) AS rds, collect(r) AS rs "
        f"WITH n, coalesce({node_date}, rds[0]) AS decided, {_event_props(sight)} AS props "
    )
    if town is not None:
        # An event is in a town when an enterprise a live record of it is about has that golden town,
        # where the caller may see the record (which makes the enterprise known to it) and the town.
        shown = also(sight.sees_fact("tr", "RECORDS_EVENT"), sight.shows("town"))
        head += (
            "MATCH (n)<-[:RECORDS_EVENT]-(tr)-[:ABOUT]->(e:Enterprise) "
            f"WITH n, decided, props, tr, e WHERE tr.retired IS NULL AND e.town = $town{shown} "
            "WITH DISTINCT n, decided, props "
        )
        params["town"] = town
    period = []
    if date_from is not None:
        period.append("decided >= $date_from")
        params["date_from"] = date_from
    if date_to is not None:
        period.append("decided <= $date_to")
        params["date_to"] = date_to
    if period:
        head += "WITH n, decided, props WHERE decided IS NOT NULL AND " + " AND ".join(period) + " "
    return head, params


def credit_event_page(
    store: GraphStore,
    kind: str | None,
    date_from: str | None,
    date_to: str | None,
    town: str | None,
    after: str,
    size: int,
    sight: Visibility = EVERYTHING,
) -> list[Row]:
    """``{key, props, decided}`` for the filtered credit events after ``after`` in key order (``size`` of
    them): the node's properties as the caller may see them and its decided-on date. ``date_from``/
    ``date_to`` are ISO dates and bound the date inclusively (events without a date never match a
    period)."""
    head, params = _event_filter(kind, date_from, date_to, town, sight)
    rows = store.read(
        # the key compared once projected, never through the index (see :func:`parcel_page`)
        head + "WITH n, decided, props, n.key AS key WHERE key > $after "
        "RETURN key, props, decided ORDER BY key LIMIT $size",
        {**params, "after": after, "size": size},
    )
    return [{**row, "props": as_props(row["props"])} for row in rows]


def credit_events(store: GraphStore, keys: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{key, props}``: each known event's properties as the caller may see them (events no live
    record the caller may see reports have no row)."""
    return fact_props(store, "CreditEvent", "RECORDS_EVENT", keys, sight, KIND_IN_KEY)


def credit_event_count(
    store: GraphStore,
    kind: str | None,
    date_from: str | None,
    date_to: str | None,
    town: str | None,
    sight: Visibility = EVERYTHING,
) -> int:
    head, params = _event_filter(kind, date_from, date_to, town, sight)
    return store.read(head + "RETURN count(n) AS n", params)[0]["n"]


def credit_event_kinds(
    store: GraphStore,
    date_from: str | None,
    date_to: str | None,
    town: str | None,
    sight: Visibility = EVERYTHING,
) -> list[Row]:
    """``{kind, events}`` of the filtered credit events, by kind."""
    head, params = _event_filter(None, date_from, date_to, town, sight)
    return store.read(head + "RETURN n.kind AS kind, count(n) AS events ORDER BY kind", params)


def credit_event_records(store: GraphStore, keys: Sequence[str]) -> list[Row]:
    """One row per (event, live record reporting it): ``{key, id, dataset, department, parties}``,
    ``parties`` as in :func:`parcel_records`."""
    return store.read(
        "UNWIND $keys AS k MATCH (n:CreditEvent {key: k})<-[:RECORDS_EVENT]-(r:SourceRecord) "
        "WITH k, r WHERE r.retired IS NULL "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "WITH k, r, collect({id: e.id, party: a.party}) AS parties "
        "RETURN k AS key, r.id AS id, r.dataset AS dataset, r.department AS department, parties",
        {"keys": list(keys)},
    )


# --- mortgages -------------------------------------------------------------------------------------


def mortgage_links(
    store: GraphStore, ids: Sequence[str], limit: int, sight: Visibility = EVERYTHING
) -> list[Row]:
    """Mortgage links touching any of ``ids`` as mortgagor or mortgagee: ``{key, mortgagor,
    mortgagee, amount, registered_on, registration_type, dataset}``, one per (mortgage, mortgagor,
    mortgagee, dataset of the record stating it), in that order, at most ``limit``. The mortgage's
    amount, date and type are the node's where the record stating the link states them in a column the
    caller (``sight``) may see, else null (whether the caller may see the link at all, by its dataset,
    is the API's to check)."""
    record = "[r]"  # each link's own record: the node's value shows where it states it
    return store.read(
        "UNWIND $ids AS id "
        "MATCH (:Enterprise {id: id})<-[a:ABOUT]-(r:SourceRecord)-[:SECURED_BY]->(m:Mortgage) "
        "WITH a, r, m WHERE r.retired IS NULL AND a.party IN [$mortgagor, $mortgagee] "
        "WITH DISTINCT r, m "
        "MATCH (g:Enterprise)<-[s:ABOUT]-(r)-[t:ABOUT]->(h:Enterprise) "
        "WHERE s.party = $mortgagor AND t.party = $mortgagee "
        "RETURN DISTINCT m.key AS key, g.id AS mortgagor, h.id AS mortgagee, "
        f"{sight.stated('mortgage_amount', 'm', record)} AS amount, "
        f"{sight.stated('registered_on', 'm', record)} AS registered_on, "
        f"{sight.stated('registration_type', 'm', record)} AS registration_type, r.dataset AS dataset "
        "ORDER BY key, mortgagor, mortgagee LIMIT $limit",
        {
            "ids": list(ids),
            "limit": limit,
            "mortgagor": MORTGAGOR_PARTY,
            "mortgagee": MORTGAGEE_PARTY,
            **sight.params(),
        },
    )
