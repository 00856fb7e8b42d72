"""Cypher for the closed-loop warnings (预警闭环): the monthly figures the rules read, and the warnings.

Model::

    (w:Warning {id, rule, severity, period, status, message_zh, message_en, evidence, town, enterprise,
                meter, opened_at, updated_at, feedback, figure_sources, figures, masked_zh, masked_en})
        -[:CONCERNS]->(e:Enterprise)
    (w)-[:HAS_ACTION]->(a:WarningAction {id, warning, actor, at, from_status, to_status, note})

A warning's id is ``rule:subject:period`` (see ``telemetry/warnings.py``), so evaluating the same data
again finds the same node: :func:`upsert_warnings` is idempotent, never reopens a resolved warning, and a
condition that comes back in a later period is a new warning. ``evidence`` is a JSON string: its keys
differ by rule and nobody queries inside it.

Reading takes what the caller may see (a :class:`~entgraph.graph.visibility.Visibility`; the CLI and
the rules see everything): a warning about an enterprise only datasets hidden from the caller know is
not there for it, and a warning's town is the golden town of its enterprise, so it is shown, filtered
by and counted only where the caller may see that golden value (a town the rules took from records,
the enterprise having none, only for callers who may see every dataset's towns). Likewise the industry
peer group a warning names (``evidence.peer_group``, and in its messages) is the enterprise's golden
industry: hidden (null, ``***``) where the caller may not see that. And the departments' figures a
warning states (tax, kWh, their ratios, means and medians, and the counts derived from them: the
evidence keys in ``figures``, and in its messages) show only to a caller who may see every metric source
they were computed from (``figure_sources``, ``<dataset>:<metric>``, the peers' too for a comparison
with peers); to others they are null in the evidence and ``***`` in the messages (``masked_zh`` /
``masked_en``, rendered by the rule with the figures left out). A warning stored before its sources
were recorded has none to go by: such a caller gets no evidence and no messages.

Which status may follow which is ``telemetry/warning_lifecycle.py``'s to say. Every transition, and
the opening, is a ``WarningAction`` node rather than a JSON list on the warning: appending a node is one
conditional statement (no read-modify-write of a list two stewards could race on), its deterministic id
makes a retried write harmless (the port may retry any write), and the audit trail stays queryable by
actor or time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, Row, UniqueKey
from entgraph.graph.visibility import EVERYTHING, Visibility
from entgraph.graph.write_versions import touching

WARNING_SCHEMA = GraphSchema(
    unique=(UniqueKey("Warning", "id"), UniqueKey("WarningAction", "id")),
    # by_town starts from the town's warnings; Enterprise.id (for_enterprises) is resolution's key
    indexes=(PropertyIndex("Warning", "town"),),
)

STATUSES = ("open", "acknowledged", "resolved")  # which may follow which: telemetry/warning_lifecycle.py


def enterprise_profiles(store: GraphStore, ids: Sequence[str]) -> list[Row]:
    """``{id, name, town, industry}`` from each enterprise's golden record (missing ones have no row)."""
    return store.read(
        "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
        "RETURN id, e.name AS name, e.town AS town, e.industry_code AS industry",
        {"ids": list(ids)},
    )


def record_classifications(store: GraphStore, ids: Sequence[str]) -> list[Row]:
    """``{id, relation, value, records}``: the towns (IN_TOWN) and industry codes (IN_INDUSTRY) the
    enterprises' subject records state, with how many records state each; for golden gaps."""
    if not ids:
        return []
    return store.read(
        "UNWIND $ids AS id MATCH (n)<-[x]-(r:SourceRecord)-[a:ABOUT]->(:Enterprise {id: id}) "
        # filtered after a WITH: in the MATCH, FalkorDB's planner would scan every SourceRecord
        "WITH id, n, x, r, a WHERE type(x) IN ['IN_TOWN', 'IN_INDUSTRY'] AND a.party = 'subject' "
        "AND r.retired IS NULL "
        "RETURN id, type(x) AS relation, coalesce(n.code, n.name, n.key) AS value, count(r) AS records",
        {"ids": list(ids)},
    )


# --- storing findings -------------------------------------------------------------------------------

_UPSERT = (
    "UNWIND $rows AS row "
    "MERGE (w:Warning {id: row.id}) "
    "ON CREATE SET w.rule = row.rule, w.period = row.period, w.status = 'open', w.opened_at = row.now, "
    "w.enterprise = row.enterprise, w.meter = row.meter "
    # a resolved warning is left as its feedback closed it: re-evaluation must not reopen or rewrite it
    "WITH w, row WHERE w.status <> 'resolved' "
    "SET w.severity = row.severity, w.message_zh = row.message_zh, w.message_en = row.message_en, "
    "w.evidence = row.evidence, w.town = row.town, w.updated_at = row.now, "
    "w.figure_sources = row.figure_sources, w.figures = row.figures, w.masked_zh = row.masked_zh, "
    "w.masked_en = row.masked_en "
    "MERGE (a:WarningAction {id: row.id + '#opened'}) "
    "ON CREATE SET a.warning = row.id, a.actor = $actor, a.at = row.now, a.to_status = 'open' "
    "MERGE (w)-[:HAS_ACTION]->(a) "
    "WITH w, row WHERE row.enterprise IS NOT NULL "
    "MATCH (e:Enterprise {id: row.enterprise}) "
    "MERGE (w)-[:CONCERNS]->(e)"
)


def upsert_warnings(store: GraphStore, rows: list[dict[str, Any]], now_ms: int, actor: str) -> dict[str, int]:
    """Store warnings (``rows`` of the properties in the model above, one per id): ``{created, refreshed,
    kept_resolved}``. New ids open a warning (its opening action by ``actor``); open and acknowledged
    ones get the new properties; resolved ones are not touched."""
    counts = {"created": 0, "refreshed": 0, "kept_resolved": 0}
    for start in range(0, len(rows), store.batch_size):
        batch = rows[start : start + store.batch_size]
        known = {
            row["id"]: row["status"]
            for row in store.read(
                "UNWIND $ids AS id MATCH (w:Warning {id: id}) RETURN id, w.status AS status",
                {"ids": [r["id"] for r in batch]},
            )
        }
        for row in batch:
            status = known.get(row["id"])
            key = "created" if status is None else "kept_resolved" if status == "resolved" else "refreshed"
            counts[key] += 1
        fresh = [{**r, "now": now_ms} for r in batch if known.get(r["id"]) != "resolved"]
        if fresh:
            with touching(names=["warnings"], enterprises=[r.get("enterprise") for r in fresh]):
                store.write(_UPSERT, {"rows": fresh, "actor": actor})
    return counts


# --- the lifecycle ----------------------------------------------------------------------------------

_TRANSITION = (
    "MATCH (w:Warning {id: $id}) WITH w WHERE w.status = $old "
    "SET w.status = $new, w.updated_at = $now, w.feedback = coalesce($feedback, w.feedback) "
    "MERGE (a:WarningAction {id: $action}) "
    "ON CREATE SET a.warning = $id, a.actor = $actor, a.at = $now, a.from_status = $old, "
    "a.to_status = $new, a.note = $note "
    "MERGE (w)-[:HAS_ACTION]->(a) "
    "RETURN w.status AS status"
)


def move_status(
    store: GraphStore, warning_id: str, old: str, new: str, now_ms: int, *,
    note: str | None, feedback: str | None, actor: str, action: str,
) -> bool:  # fmt: skip
    """Move the warning from ``old`` to ``new`` with its action node ``action``; False when it was no
    longer ``old`` (or is unknown)."""
    concerned = store.read(
        "MATCH (:Warning {id: $id})-[:CONCERNS]->(e:Enterprise) RETURN e.id AS id", {"id": warning_id}
    )
    with touching(names=["warnings"], enterprises=[row["id"] for row in concerned]):
        rows = store.write(
            _TRANSITION,
            {
                "id": warning_id, "old": old, "new": new, "now": now_ms, "note": note,
                "feedback": feedback, "actor": actor, "action": action,
            },
        )  # fmt: skip
    return bool(rows)


def action_recorded(store: GraphStore, action: str) -> bool:
    """Whether the action node ``action`` exists (a retried write may have made it)."""
    return bool(store.read("MATCH (a:WarningAction {id: $a}) RETURN a.id AS id", {"a": action}))


def status_of(store: GraphStore, warning_id: str, sight: Visibility = EVERYTHING) -> str | None:
    """The warning's status; None for an unknown id or one the caller (``sight``) may not see."""
    rows = store.read(
        f"MATCH (w:Warning {{id: $id}}) {_concerning(sight, 'w')}RETURN w.status AS status",
        {"id": warning_id, **sight.params()},
    )
    return str(rows[0]["status"]) if rows else None


# --- reading ----------------------------------------------------------------------------------------


def _restricted(sight: Visibility) -> bool:
    """Whether ``sight`` hides anything a warning carries: its enterprise, town, industry or figures."""
    return (
        sight.datasets is not None
        or "town" in sight.golden
        or "industry_code" in sight.golden
        or sight.figures is not None
    )


def _concerning(sight: Visibility, carry: str) -> str:
    """Clauses binding ``e``, the enterprise a warning ``w`` concerns (null for a meter's of nobody),
    and keeping the warnings whose enterprise the caller knows, with ``carry`` and ``e``; empty for a
    caller who may see everything."""
    if not _restricted(sight):
        return ""
    return f"OPTIONAL MATCH (w)-[:CONCERNS]->(e:Enterprise) {sight.keep_known('e', f'{carry}, e')}"


def _as_seen(sight: Visibility) -> str:
    """Columns ``town``, ``peers`` and ``figures`` (after :func:`_concerning`) for :func:`_warning`: the
    warning's town where it is its enterprise's golden town and the caller may see that, whether the
    caller may see the enterprise's golden industry (the warning's peer group), and whether it may see
    every metric source the warning's figures came from (none recorded: unknown, so not); empty for a
    caller who sees all."""
    if not _restricted(sight):
        return ""
    town = "w.town"
    if "town" in sight.golden:
        town = f"CASE WHEN e.town = w.town AND {sight.shows('town')} THEN w.town END"
    peers = "true"
    if "industry_code" in sight.golden:
        peers = f"CASE WHEN {sight.shows('industry_code')} THEN true ELSE false END"
    figures = "true"
    if sight.figures is not None:
        figures = (
            "CASE WHEN w.figure_sources IS NOT NULL "
            "AND all(s IN w.figure_sources WHERE s IN $figure_sources) THEN true ELSE false END"
        )
    return f", {town} AS town, {peers} AS peers, {figures} AS figures"


# Properties that say how to show a warning to callers who may not see all of it: not the warning's.
_HOW_TO_SHOW = ("figure_sources", "figures", "masked_zh", "masked_en")


def _without_figures(out: dict[str, Any], props: dict[str, Any]) -> None:
    """Leave out of ``out`` the figures a caller may not see: their evidence keys null, the messages as
    the rule rendered them without figures. A warning that does not say which keys are figures (stored
    before it did) keeps neither evidence nor messages."""
    keys = props.get("figures")
    if keys is None:
        out["evidence"], out["message_zh"], out["message_en"] = {}, None, None
        return
    if keys:
        out["evidence"] = {k: None if k in keys else v for k, v in out["evidence"].items()}
        out["message_zh"], out["message_en"] = props.get("masked_zh"), props.get("masked_en")


def _warning(props: dict[str, Any], seen: Row | None = None) -> dict[str, Any]:
    """A warning's properties (evidence as a dict), as the caller may see them when ``seen`` holds the
    ``town``, ``peers`` and ``figures`` columns of :func:`_as_seen`."""
    out = {k: v for k, v in props.items() if k not in _HOW_TO_SHOW}
    out["evidence"] = json.loads(props["evidence"]) if props.get("evidence") else {}
    if seen is not None and "town" in seen:
        out["town"] = seen["town"]
        if not seen["figures"]:
            _without_figures(out, props)
        key = out["evidence"].get("peer_group")
        if not seen["peers"] and key is not None:
            # The peer group is the enterprise's industry (industry:1951, division:19, or city when it
            # has none the rules could use): hidden with it, in the evidence and in the messages.
            out["evidence"] = {**out["evidence"], "peer_group": None}
            # the key (ASCII) where it stands alone: 'city' is also in 'electricity'
            named = re.compile(rf"(?<![A-Za-z0-9_:]){re.escape(str(key))}(?![A-Za-z0-9_:])")
            for field in ("message_zh", "message_en"):
                if isinstance(out.get(field), str):
                    out[field] = named.sub("***", out[field])
    return out


def histories(store: GraphStore, warning_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The history of each warning (as :func:`get` gives it), in one statement for a whole page."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (w:Warning {id: id})-[:HAS_ACTION]->(a:WarningAction) "
        "RETURN id AS warning, a.id AS id, a.actor AS actor, a.at AS at, a.from_status AS from_status, "
        "a.to_status AS to_status, a.note AS note",
        {"ids": list(warning_ids)},
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in warning_ids}
    for row in rows:
        found[row["warning"]].append(
            {k: row[k] for k in ("id", "actor", "at", "from_status", "to_status", "note")}
        )
    return {i: _in_order(h) for i, h in found.items()}


def _in_order(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the opening first, then by time (an opening and a change in the same millisecond stay in order)
    history = [h for h in history if h.get("id") is not None]
    history.sort(key=lambda h: (h["from_status"] is not None, h["at"], h["id"]))
    return [{k: v for k, v in h.items() if k != "id"} for h in history]


def get(store: GraphStore, warning_id: str, sight: Visibility = EVERYTHING) -> dict[str, Any] | None:
    """The warning's properties (evidence as a dict) with ``history``: its actions, oldest first, each
    ``{actor, at, from_status, to_status, note}``; ``None`` for an unknown id, or one about an enterprise
    the caller (``sight``) may not see."""
    rows = store.read(
        f"MATCH (w:Warning {{id: $id}}) {_concerning(sight, 'w')}"
        "OPTIONAL MATCH (w)-[:HAS_ACTION]->(a:WarningAction) "
        "RETURN properties(w) AS w, collect({id: a.id, actor: a.actor, at: a.at, "
        f"from_status: a.from_status, to_status: a.to_status, note: a.note}}) AS history{_as_seen(sight)}",
        {"id": warning_id, **sight.params()},
    )
    if not rows:
        return None
    warning = _warning(rows[0]["w"], rows[0])
    warning["history"] = _in_order(rows[0]["history"])
    return warning


def _statuses(statuses: Sequence[str] | None) -> list[str] | None:
    if statuses is None:
        return None
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown warning status {', '.join(unknown)}: use {', '.join(STATUSES)}")
    return list(statuses)


def for_enterprises(
    store: GraphStore,
    ids: Sequence[str],
    statuses: Sequence[str] | None = None,
    sight: Visibility = EVERYTHING,
) -> dict[str, list[dict[str, Any]]]:
    """Each enterprise's warnings (all statuses when ``statuses`` is None), newest first, in one round
    trip for all ``ids``; every id is a key, with an empty list when it has none. ``ids`` are
    enterprises the caller (``sight``) may see; their warnings are as it may see them."""
    enterprise = "(e:Enterprise {id: id})" if _restricted(sight) else "(:Enterprise {id: id})"
    carry = "id, w, e" if _restricted(sight) else "id, w"
    rows = store.read(
        f"UNWIND $ids AS id MATCH (w:Warning)-[:CONCERNS]->{enterprise} "
        f"WITH {carry} WHERE $statuses IS NULL OR w.status IN $statuses "
        f"RETURN id, properties(w) AS w{_as_seen(sight)}",
        {"ids": list(ids), "statuses": _statuses(statuses), **sight.params()},
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in rows:
        found[row["id"]].append(_warning(row["w"], row))
    for warnings in found.values():
        warnings.sort(key=lambda w: (-w["opened_at"], w["id"]))
    return found


def by_town(
    store: GraphStore,
    town: str,
    statuses: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
    first: int = 20,
    after: tuple[int, str] | None = None,
    sight: Visibility = EVERYTHING,
) -> dict[str, Any]:
    """A page of a town's warnings, newest first (then by id): ``{total, items, last, has_next}``.

    ``total`` counts every warning matching the filters, not just this page; ``after`` is the previous
    page's ``last`` (its last warning's ``(opened_at, id)``: keyset pagination, a page costs the same
    however deep it is). Only warnings the caller (``sight``) may see whose town it may see (see the
    module docstring) are in a town."""
    if first < 1:
        raise ValueError("first must be at least 1")
    at, wid = after if after is not None else (None, None)
    params = {
        "town": town,
        "statuses": _statuses(statuses),
        "rules": list(rules) if rules is not None else None,
        "at": at,
        "wid": wid,
        "limit": first + 1,  # one more than asked tells whether there is a next page
    }
    match = (
        "MATCH (w:Warning {town: $town}) "
        "WITH w WHERE ($statuses IS NULL OR w.status IN $statuses) AND ($rules IS NULL OR w.rule IN $rules) "
    )
    carry = "w"
    if _restricted(sight):
        carry = "w, e"
        match += _concerning(sight, "w")
        if "town" in sight.golden:  # in the town as the caller sees it: its enterprise's golden town
            match += f"WITH w, e WHERE e.town = w.town AND {sight.shows('town')} "
        match += "WITH w, e WHERE true "
        params |= sight.params()
    total = store.read(match + "RETURN count(w) AS total", params)[0]["total"]
    rows = store.read(
        match + "AND ($at IS NULL OR w.opened_at < $at OR (w.opened_at = $at AND w.id > $wid)) "
        f"WITH {carry} ORDER BY w.opened_at DESC, w.id LIMIT $limit RETURN properties(w) AS w"
        + _as_seen(sight),
        params,
    )
    items = [_warning(row["w"], row) for row in rows[:first]]
    return {
        "total": int(total),
        "items": items,
        "last": (items[-1]["opened_at"], items[-1]["id"]) if items else None,
        "has_next": len(rows) > first,
    }
