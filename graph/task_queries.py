"""The stewards' review queue in Cypher: tasks read as a caller may see them, and written.

Read as one caller may see it (:func:`tasks`, :func:`task`,
:func:`town_queues`), written by resolution and stewards (:func:`upsert_tasks`, :func:`settle_tasks`).

A task (:func:`upsert_tasks`) gathers the records writing one name in one town; what it
shows comes from them: its ``datasets``, ``record_ids``, ``mention_ids``, ``stake_records`` (hence
``impact`` and ``stake``), its ``name`` (as the record ``named_by`` names it wrote it) and its ``town``
(the town its records write, which the name key ``name:<name>|<town>`` carries, or, when they write
none, the golden town of its best candidate). For a caller with datasets hidden from it (a
:class:`~entgraph.graph.visibility.Visibility`), the statements here test that themselves:

- a task is there only when one of its records belongs to a dataset the caller may see; its records,
  mentions, datasets, impact and stake are those of such records alone (record ids are
  ``<dataset>:<hex>``, mention ids ``<record id>|<party>``, stake entries ``<record id>|<category>|
  <weight>``: the dataset is the text before the first colon), and the queue is ordered by them;
- its name shows where the caller may see the record it came from (a task stored before ``named_by``
  was kept: where it may see all its records);
- its town shows where its records write it in a town column the caller may see (one of its records
  the caller may see is of a dataset whose town column it may see: a town column stricter than its
  dataset hides it), or, for records that write none, where the caller may see that candidate's
  golden town (as a warning's town); a town it may not see neither finds the task nor groups it in
  :func:`town_queues` (it counts as none).

A caller who may see everything gets the stored task unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphStore, Row, batched
from entgraph.graph.visibility import EVERYTHING, Visibility

TASK_ORDERS = {
    # what is at stake (records weighed by their datasets), then records affected
    "stake": "coalesce(t.stake, 0.0) DESC, t.impact DESC, t.id",
    "impact": "t.impact DESC, coalesce(t.stake, 0.0) DESC, t.id",
}
# The same orders over what the caller may see (the ``stake`` and ``impact`` columns of :func:`_seen`).
_SEEN_ORDERS = {
    "stake": "stake DESC, impact DESC, t.id",
    "impact": "impact DESC, stake DESC, t.id",
}
# The columns of :func:`_seen` that replace the task's own properties.
_SEEN_COLUMNS = ("datasets", "record_ids", "mention_ids", "stake_records", "impact", "stake", "name", "town")


def _restricted(sight: Visibility) -> bool:
    """Whether ``sight`` hides anything a task carries: its records' datasets or a golden town."""
    return sight.datasets is not None or "town" in sight.golden


def _seen(sight: Visibility) -> str:
    """Clauses after a ``MATCH`` of ``t``: keep the tasks the caller may see, with the columns of
    :data:`_SEEN_COLUMNS` as it may see them."""
    known = sight.datasets is not None

    def mine(items: str) -> str:
        # the items (ids or entries starting with a record id) of records the caller may see
        kept = " WHERE split(x, ':')[0] IN $known_datasets" if known else ""
        return f"[x IN coalesce(t.{items}, []){kept}]"

    datasets, keep = "t.datasets", ""
    if known:  # a task is there when a record of it is of a dataset the caller may see
        datasets = "[d IN coalesce(t.datasets, []) WHERE d IN $known_datasets]"
        keep = "WHERE size(datasets) > 0 "
    name = "t.name"
    if known:
        name = (
            "CASE WHEN (t.named_by IS NOT NULL AND split(t.named_by, ':')[0] IN $known_datasets) "
            "OR (t.named_by IS NULL AND size(datasets) = size(t.datasets)) THEN t.name END"
        )
    town, best = "t.town", ""
    if "town" in sight.golden:
        # the best candidate's id, first in the candidates' JSON (json.dumps: '"enterprise_id": "E-…"')
        best = (
            "WITH t, datasets, split(split(t.candidates, '\"enterprise_id\": \"')[1], '\"')[0] AS best "
            "OPTIONAL MATCH (c:Enterprise {id: best}) "
        )
        # The town its records write (the name key carries it) shows where one of the records the
        # caller may see is of a dataset whose town column it may see (``golden['town']``: the datasets
        # whose statement of a town it may see, column by column); one taken from the best candidate,
        # for records that write none, where it may see that golden town.
        town = (
            "CASE WHEN t.mention_key STARTS WITH 'name:' AND NOT t.mention_key ENDS WITH '|' "
            "THEN CASE WHEN any(d IN datasets WHERE d IN $golden_town) THEN t.town END "
            f"WHEN c.town = t.town AND {sight.shows('town', 'c')} THEN t.town END"
        )
    return (
        f"WITH t, {datasets} AS datasets {keep}"
        + best
        + f"WITH t, datasets, {mine('record_ids')} AS record_ids, {mine('mention_ids')} AS mention_ids, "
        f"{mine('stake_records')} AS stake_records, {name} AS name, {town} AS town "
        "WITH t, datasets, record_ids, mention_ids, stake_records, name, town, "
        "size(record_ids) AS impact, "
        "reduce(s = 0.0, x IN stake_records | s + toFloat(split(x, '|')[2])) AS stake "
    )


_RETURN_SEEN = (
    "RETURN t AS t, {" + ", ".join(f"{c}: {c}" for c in _SEEN_COLUMNS) + "} AS seen, stake, impact "
)


def _as_seen(row: Row) -> dict[str, Any]:
    """A task row of a statement here: the task's properties, with what the caller may see of them."""
    return {**dict(row["t"]), **(row.get("seen") or {})}


def tasks(
    store: GraphStore,
    status: str = "open",
    town: str | None = None,
    dataset: str | None = None,
    order: str = "stake",
    sight: Visibility = EVERYTHING,
) -> list[dict[str, Any]]:
    """Tasks ordered by stake (default) or impact (records affected), largest first: those the caller
    (``sight``) may see, as it may see them; ``town`` and ``dataset`` find them by what it may see."""
    if order not in TASK_ORDERS:
        raise ValueError(f"task order must be one of {', '.join(TASK_ORDERS)}, not {order!r}")
    params = {"status": status, "town": town, "dataset": dataset}
    if not _restricted(sight):
        where = ["t.status = $status"]
        if town:
            where.append("t.town = $town")
        if dataset:
            where.append("$dataset IN t.datasets")
        statement = (
            f"MATCH (t:StewardTask) WHERE {' AND '.join(where)} RETURN t AS t ORDER BY {TASK_ORDERS[order]}"
        )
        return [_as_seen(row) for row in store.read(statement, params)]
    rows = store.read(
        "MATCH (t:StewardTask) WHERE t.status = $status "
        + _seen(sight)
        + "WHERE ($town IS NULL OR $town = '' OR town = $town) AND ($dataset IS NULL OR $dataset = '' "
        "OR $dataset IN datasets) " + _RETURN_SEEN + f"ORDER BY {_SEEN_ORDERS[order]}",
        {**params, **sight.params()},
    )
    return [_as_seen(row) for row in rows]


def task(store: GraphStore, task_id: str, sight: Visibility = EVERYTHING) -> dict[str, Any] | None:
    """One task as the caller (``sight``) may see it; None for an unknown id, or one whose records all
    belong to datasets hidden from the caller."""
    if not _restricted(sight):
        rows = store.read("MATCH (t:StewardTask {id: $id}) RETURN t AS t", {"id": task_id})
    else:
        rows = store.read(
            "MATCH (t:StewardTask {id: $id}) " + _seen(sight) + _RETURN_SEEN,
            {"id": task_id, **sight.params()},
        )
    return _as_seen(rows[0]) if rows else None


def town_queues(
    store: GraphStore, status: str = "open", sight: Visibility = EVERYTHING
) -> list[dict[str, Any]]:
    """Per town (null: records that name none, or a town the caller may not see): its tasks of
    ``status`` the caller may see, their records and stake as it may see them; largest stake first."""
    if not _restricted(sight):
        statement = (
            "MATCH (t:StewardTask) WHERE t.status = $status "
            "RETURN t.town AS town, count(t) AS tasks, sum(t.impact) AS records, "
            "sum(coalesce(t.stake, 0.0)) AS stake ORDER BY stake DESC, records DESC, town"
        )
    else:
        statement = (
            "MATCH (t:StewardTask) WHERE t.status = $status "
            + _seen(sight)
            + "RETURN town, count(t) AS tasks, sum(impact) AS records, sum(stake) AS stake "
            "ORDER BY stake DESC, records DESC, town"
        )
    rows = store.read(statement, {"status": status, **sight.params()})
    return [
        {
            "town": row["town"],
            "tasks": int(row["tasks"]),
            "records": int(row["records"] or 0),
            "stake": row["stake"],
        }
        for row in rows
    ]


def hidden(store: GraphStore, task_ids: Sequence[str], sight: Visibility = EVERYTHING) -> list[str]:
    """Those of ``task_ids`` the caller (``sight``) may not see: unknown, or with every record of a
    dataset hidden from it; in the order given. One statement for all."""
    if sight.datasets is None:
        rows = store.read(
            "UNWIND $ids AS id MATCH (t:StewardTask {id: id}) RETURN id", {"ids": list(task_ids)}
        )
    else:
        rows = store.read(
            "UNWIND $ids AS id MATCH (t:StewardTask {id: id}) "
            "WITH id, t WHERE any(d IN coalesce(t.datasets, []) WHERE d IN $known_datasets) RETURN id",
            {"ids": list(task_ids), **sight.params()},
        )
    seen = {row["id"] for row in rows}
    return [i for i in task_ids if i not in seen]


# --- writing the queue (resolution and stewards) ---------------------------------------------


def upsert_tasks(store: GraphStore, rows: Sequence[Mapping[str, Any]]) -> None:
    """Open (or reopen) tasks; the records of a name accumulate over the runs that meet it, and so does
    what is at stake: ``stake_records`` (``<record id>|<category>|<weight>``, one per record, see
    resolution/stake.py) sum to ``stake``."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (t:StewardTask {id: row.id}) "
        "WITH t, row, [y IN coalesce(t.stake_records, []) | split(y, '|')[0]] AS staked "
        "SET t.record_ids = coalesce(t.record_ids, []) "
        "+ [x IN row.record_ids WHERE NOT x IN coalesce(t.record_ids, [])], "
        "t.mention_ids = coalesce(t.mention_ids, []) "
        "+ [x IN row.mention_ids WHERE NOT x IN coalesce(t.mention_ids, [])], "
        "t.datasets = coalesce(t.datasets, []) "
        "+ [x IN row.datasets WHERE NOT x IN coalesce(t.datasets, [])], "
        "t.stake_records = coalesce(t.stake_records, []) "
        "+ [x IN coalesce(row.stake_records, []) WHERE NOT split(x, '|')[0] IN staked], "
        # named_by: the mention whose record the name and town were taken from (the run's first), so
        # that a caller who may not see that record's dataset is not shown them (graph/task_queries.py)
        "t.mention_key = row.mention_key, t.name = row.name, t.town = row.town, "
        "t.named_by = row.mention_ids[0], "
        "t.candidates = row.candidates, t.status = row.status, "
        "t.created_at = coalesce(t.created_at, row.created_at), t.updated_at = row.created_at "
        "WITH t SET t.impact = size(t.record_ids), "
        "t.stake = reduce(s = 0.0, x IN t.stake_records | s + toFloat(split(x, '|')[2]))",
        ({"id": r["id"], **dict(r["props"])} for r in rows),
    )


def close_tasks(store: GraphStore, task_ids: Iterable[str], status: str, at: str) -> None:
    for chunk in batched(list(task_ids), 2_000):
        store.write(
            "UNWIND $ids AS id MATCH (t:StewardTask {id: id}) WHERE t.status = 'open' "
            "SET t.status = $status, t.closed_at = $at",
            {"ids": chunk, "status": status, "at": at},
        )


def open_task_ids(store: GraphStore) -> set[str]:
    """Ids of the open steward tasks (a city has tens of thousands at most: one read)."""
    return {row["id"] for row in store.read("MATCH (t:StewardTask {status: 'open'}) RETURN t.id AS id")}


def settle_tasks(store: GraphStore, rows: Sequence[Mapping[str, Any]], status: str, at: str) -> None:
    """The mentions a run decided (``rows``: task ``id`` and its ``decided`` mention ids) leave their
    open tasks: a task with none left waiting closes with ``status`` (keeping its records, as history),
    one with some left keeps only those, with their records and stakes: records of its name that a
    steward (perhaps another, who may see them) must still decide."""
    for chunk in batched(list(rows), 500):
        store.write(
            "UNWIND $rows AS row MATCH (t:StewardTask {id: row.id}) WHERE t.status = 'open' "
            "WITH t, [m IN t.mention_ids WHERE NOT m IN row.decided] AS waiting "
            "WITH t, waiting WHERE size(waiting) = 0 SET t.status = $status, t.closed_at = $at",
            {"rows": chunk, "status": status, "at": at},
        )
        store.write(
            "UNWIND $rows AS row MATCH (t:StewardTask {id: row.id}) WHERE t.status = 'open' "
            "WITH t, [m IN t.mention_ids WHERE NOT m IN row.decided] AS waiting "
            "WITH t, waiting WHERE size(waiting) < size(t.mention_ids) "
            "WITH t, waiting, "
            "[r IN t.record_ids WHERE any(m IN waiting WHERE m STARTS WITH (r + '|'))] AS kept "
            "SET t.mention_ids = waiting, t.record_ids = kept, t.impact = size(kept), "
            "t.stake_records = [x IN coalesce(t.stake_records, []) WHERE split(x, '|')[0] IN kept] "
            "WITH t SET t.stake = reduce(s = 0.0, x IN t.stake_records | s + toFloat(split(x, '|')[2]))",
            {"rows": chunk},
        )


def tasks_by_id(store: GraphStore, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = store.read(
        "UNWIND $ids AS id MATCH (t:StewardTask {id: id}) RETURN t AS t", {"ids": list(task_ids)}
    )
    return {row["t"]["id"]: dict(row["t"]) for row in rows}
