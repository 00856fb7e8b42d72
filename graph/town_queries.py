"""Cypher for a town's dashboard: its enterprises, which lists they are on, and how warnings were handled.

Each read is bounded by the town (the ``Enterprise.town`` index) or by the datasets named, as a caller
may see them (a :class:`~entgraph.graph.visibility.Visibility`): an enterprise only datasets hidden
from the caller know is not counted, and a golden value it may not see counts as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

from entgraph.graph.port import GraphStore, Row
from entgraph.graph.visibility import EVERYTHING, Visibility


def enterprises(store: GraphStore, town: str, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{id, name, credit_code, status, industry_code, industry_name, provisional}``: the town's live
    enterprises known to the caller (a golden value it may not see is null)."""
    return store.read(
        "MATCH (e:Enterprise {town: $town}) WITH e WHERE e.merged_into IS NULL "
        f"AND {sight.shows('town')} {sight.keep_known()}"
        "RETURN e.id AS id, e.name AS name, e.credit_code AS credit_code, "
        f"{sight.value('status')} AS status, {sight.value('industry_code')} AS industry_code, "
        f"{sight.value('industry_name')} AS industry_name, "
        "e.provisional AS provisional ORDER BY id",
        {"town": town, **sight.params()},
    )


def listed(store: GraphStore, ids: Sequence[str], datasets: Sequence[str]) -> list[Row]:
    """``{id, dataset}``: which of ``ids`` a live record of ``datasets`` is about (the above-scale
    register, the key-enterprise lists)."""
    if not ids or not datasets:
        return []
    return store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise {id: id}) "
        "WITH id, r, a WHERE a.party = 'subject' AND r.retired IS NULL AND r.dataset IN $datasets "
        "RETURN DISTINCT id, r.dataset AS dataset",
        {"ids": list(ids), "datasets": list(datasets)},
    )


def towns(store: GraphStore, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{town, enterprises}``: every town with live enterprises known to the caller, largest first."""
    return store.read(
        "MATCH (e:Enterprise) WITH e WHERE e.town IS NOT NULL AND e.merged_into IS NULL "
        f"AND {sight.shows('town')} {sight.keep_known()}"
        "RETURN e.town AS town, count(e) AS enterprises ORDER BY enterprises DESC, town",
        sight.params(),
    )


def warning_handling(store: GraphStore, since_ms: int) -> list[Row]:
    """``{id, town, status, opened_at, resolved_at}`` (epoch ms) of every warning opened since
    ``since_ms``: what each town received and when it closed the loop."""
    return store.read(
        "MATCH (w:Warning) WHERE w.opened_at >= $since "
        "OPTIONAL MATCH (w)-[:HAS_ACTION]->(a:WarningAction) WHERE a.to_status = 'resolved' "
        "RETURN w.id AS id, w.town AS town, w.status AS status, w.opened_at AS opened_at, "
        "min(a.at) AS resolved_at",
        {"since": since_ms},
    )
