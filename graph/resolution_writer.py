"""All Cypher of entity resolution: enterprises, links, remembered identifiers, judgements, tasks.

Graph shape (see docs/graph-model.md):
    (:SourceRecord)-[:ABOUT {party, method, probability, resolved_at}]->(:Enterprise {id, ...golden})
    (:Enterprise)-[:REDIRECTS_TO]->(:Enterprise)     a merged-away id, forever
    (:Enterprise)-[:BRANCH_OF]->(:Enterprise)        a 分公司 and its parent
    (:Identifier {key})-[:IDENTIFIES]->(:Enterprise) a taxpayer id / utility account seen with a code
    (:Judgement {id, kind, subject, object, user, at, reason, undone})
    (:StewardTask {id, mention_key, status, candidates, ...})

A record is pending for resolution while it carries ``to_resolve = 1`` (set by the loader when it is new
or changed, and by steward operations; removed when its links are written); every write
here is an idempotent MERGE/SET, so a resolution killed half-way and rerun converges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from entgraph.graph import task_queries
from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey, batched

RESOLUTION_SCHEMA = GraphSchema(
    unique=(
        UniqueKey("Enterprise", "id"),
        UniqueKey("Identifier", "key"),
        UniqueKey("Judgement", "id"),
        UniqueKey("StewardTask", "id"),
        UniqueKey("Person", "key"),
        UniqueKey("ResolutionRun", "id"),
    ),
    indexes=(
        PropertyIndex("Enterprise", "credit_code"),
        PropertyIndex("Enterprise", "org_code"),
        # the API's related-by-phone / by-address lookups and its town filter
        PropertyIndex("Enterprise", "phone"),
        PropertyIndex("Enterprise", "address"),
        PropertyIndex("Enterprise", "town"),
        PropertyIndex("StewardTask", "status"),
        PropertyIndex("Judgement", "subject"),
        PropertyIndex("Enterprise", "created_run"),
        PropertyIndex("ResolutionRun", "status"),
    ),
)


# --- reading what to resolve ---------------------------------------------------------------------


def pending_records(store: GraphStore, dataset: str, page: int = 5_000) -> Iterator[dict[str, Any]]:
    """Active records of ``dataset`` not yet resolved in their current content, in id order.

    The pending ids come first (one indexed query, ids only), then the records in pages by id. Paging
    with ``r.id > $after`` instead made every page scan the dataset's pending records again (FalkorDB
    intersects the id range with the index), so a dataset cost pages x records: quadratic in its size.
    """
    ids = [
        row["id"]
        for row in store.read(
            "MATCH (r:SourceRecord {to_resolve: 1}) WHERE r.dataset = $dataset AND r.retired IS NULL "
            "RETURN r.id AS id ORDER BY id",
            {"dataset": dataset},
        )
    ]
    for chunk in _chunks(ids, page):
        rows = store.read(
            "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) "
            "WHERE r.to_resolve = 1 AND r.retired IS NULL RETURN r AS r",
            {"ids": chunk},
        )
        # still pending (a record may have been resolved meanwhile), in id order
        yield from sorted((dict(row["r"]) for row in rows), key=lambda r: r["id"])


def records_by_id(store: GraphStore, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = store.read("UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) RETURN r AS r", {"ids": list(ids)})
    return [dict(row["r"]) for row in rows]


# What a resolve run matches on and looks enterprises up by. Not their golden sources (JSON of about
# 1.7 KB an enterprise, four fifths of its bytes), search tokens or business scope: an enterprise a run
# updates is read whole first (``enterprises_by_id``), the others are only matched against.
MATCH_PROPERTIES = (
    "id", "name", "names", "former_names", "credit_code", "org_code", "division", "code_entity_type",
    "entity_type", "legal_rep", "phone", "address", "town", "industry_code", "provisional", "merged_into",
)  # fmt: skip


def all_enterprises(
    store: GraphStore, page: int = 10_000, properties: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every enterprise, merged-away ones included (their names still find their survivor): whole, or
    only ``properties`` (those it has)."""
    columns = (
        "e AS e"
        if properties is None
        else ", ".join(f"e.{_property(name)} AS {_property(name)}" for name in properties)
    )
    after = ""
    while True:
        rows = store.read(
            f"MATCH (e:Enterprise) WHERE e.id > $after RETURN {columns} ORDER BY e.id LIMIT $page",
            {"after": after, "page": page},
        )
        if not rows:
            return
        for row in rows:
            yield dict(row["e"]) if properties is None else {k: v for k, v in row.items() if v is not None}
        after = rows[-1]["e"]["id"] if properties is None else rows[-1]["id"]


def enterprises_by_id(store: GraphStore, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The given enterprises, whole (those that exist)."""
    rows = store.read("UNWIND $ids AS id MATCH (e:Enterprise {id: id}) RETURN e AS e", {"ids": list(ids)})
    return [dict(row["e"]) for row in rows]


def _property(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a property name: {name!r}")
    return name


def enterprise(store: GraphStore, enterprise_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (e:Enterprise {id: $id}) RETURN e AS e", {"id": enterprise_id})
    return dict(rows[0]["e"]) if rows else None


def anything_pending(store: GraphStore) -> bool:
    """Whether any active record waits to be resolved (one indexed lookup)."""
    rows = store.read(
        "MATCH (r:SourceRecord {to_resolve: 1}) WHERE r.retired IS NULL RETURN r.id AS id LIMIT 1", {}
    )
    return bool(rows)


def redirects(store: GraphStore) -> dict[str, str]:
    rows = store.read("MATCH (a:Enterprise)-[:REDIRECTS_TO]->(b:Enterprise) RETURN a.id AS a, b.id AS b")
    return {row["a"]: row["b"] for row in rows}


def identifier_links(store: GraphStore, keys: Sequence[str]) -> dict[str, str]:
    rows = store.read(
        "UNWIND $keys AS key MATCH (i:Identifier {key: key})-[:IDENTIFIES]->(e:Enterprise) "
        "RETURN i.key AS key, e.id AS id",
        {"keys": list(keys)},
    )
    return {row["key"]: row["id"] for row in rows}


def linked_mentions(store: GraphStore, enterprise_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Records linked to the given enterprises, with the party of each link."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise {id: id}) "
        "RETURN e.id AS enterprise_id, a.party AS party, a.method AS method, r AS r",
        {"ids": list(enterprise_ids)},
    )
    return [{**row, "r": dict(row["r"])} for row in rows]


def record_links(store: GraphStore, record_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The links of the given records: one row per (record, party)."""
    return store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS record_id, a.party AS party, e.id AS enterprise_id, a.method AS method",
        {"ids": list(record_ids)},
    )


def describe_records(store: GraphStore, record_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Records with the explanation of each of their links (for evaluation reports)."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) OPTIONAL MATCH (r)-[a:ABOUT]->() "
        "RETURN r AS r, collect([a.party, a.explanation]) AS links",
        {"ids": list(record_ids)},
    )
    return [{"r": dict(row["r"]), "links": row["links"]} for row in rows]


def links_page(store: GraphStore, dataset: str, after: str, page: int) -> list[dict[str, Any]]:
    """Rows of a dataset with their links (for export), in id order. Records derived by the platform
    (telemetry's monthly totals: ``derived`` set) are no department's row and are left out."""
    return store.read(
        "MATCH (r:SourceRecord) WHERE r.dataset = $dataset AND r.retired IS NULL AND r.id > $after "
        "AND r.derived IS NULL "
        "WITH r ORDER BY r.id LIMIT $page "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS id, r.file_name AS file, r.sheet AS sheet, r.row AS row, "
        "collect([a.party, e.id, a.method, a.probability]) AS links ORDER BY id",
        {"dataset": dataset, "after": after, "page": page},
    )


# --- writing results -----------------------------------------------------------------------------


def upsert_enterprises(store: GraphStore, rows: Iterable[Mapping[str, Any]]) -> int:
    """MERGE enterprises by id and set the given properties (``props`` maps name -> value)."""
    return store.write_batches(
        "UNWIND $rows AS row MERGE (e:Enterprise {id: row.id}) SET e += row.props",
        ({"id": row["id"], "props": dict(row["props"])} for row in rows),
    )


def write_links(store: GraphStore, rows: Iterable[Mapping[str, Any]], resolved_at: str) -> None:
    """Replace each (record, party)'s link. ``enterprise_id`` None: awaiting a steward (no link).

    ``rows`` is read once, a batch at a time (the batch's old links deleted, then its new ones
    created), so a caller can stream a run's links instead of holding them all. Each (record, party)
    appears once, so the end state is the one of deleting every old link before creating any."""
    for batch in batched(rows, store.batch_size):
        store.write(
            "UNWIND $rows AS row MATCH (r:SourceRecord {id: row.record_id})-[a:ABOUT]->() "
            "WHERE a.party = row.party DELETE a",
            {"rows": [{"record_id": r["record_id"], "party": r["party"]} for r in batch]},
        )
        linked = [{"explanation": None, "relation": None, **r} for r in batch if r["enterprise_id"]]
        if linked:
            store.write(
                "UNWIND $rows AS row MATCH (r:SourceRecord {id: row.record_id}) "
                "MATCH (e:Enterprise {id: row.enterprise_id}) "
                "CREATE (r)-[:ABOUT {party: row.party, relation: row.relation, method: row.method, "
                "probability: row.probability, explanation: row.explanation, resolved_at: $at}]->(e)",
                {"rows": linked, "at": resolved_at},
            )


def mark_resolved(store: GraphStore, record_ids: Iterable[str]) -> None:
    store.write_batches(
        "UNWIND $rows AS id MATCH (r:SourceRecord {id: id}) "
        "SET r.resolved_hash = r.content_hash REMOVE r.to_resolve",
        record_ids,
    )


def mark_pending(store: GraphStore, record_ids: Iterable[str]) -> None:
    store.write_batches("UNWIND $rows AS id MATCH (r:SourceRecord {id: id}) SET r.to_resolve = 1", record_ids)


def records_of_enterprises(store: GraphStore, enterprise_ids: Sequence[str]) -> list[str]:
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[:ABOUT]->(:Enterprise {id: id}) "
        "RETURN DISTINCT r.id AS id",
        {"ids": list(enterprise_ids)},
    )
    return [row["id"] for row in rows]


def remember_identifiers(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """Identifier keys seen on a deterministically linked record point at that enterprise."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (i:Identifier {key: row.key}) "
        "WITH i, row OPTIONAL MATCH (i)-[old:IDENTIFIES]->() DELETE old "
        "WITH i, row MATCH (e:Enterprise {id: row.enterprise_id}) MERGE (i)-[:IDENTIFIES]->(e)",
        (dict(r) for r in rows),
    )


def set_legal_representatives(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """(Enterprise)-[:LEGAL_REP]->(Person): the golden record's representative, replacing the old one.

    A Person is keyed per enterprise (name + enterprise id): the feeds carry no identity numbers for
    people (and should not), so two 张伟 of two enterprises are not claimed to be one person.
    """
    store.write_batches(
        "UNWIND $rows AS row MATCH (e:Enterprise {id: row.enterprise}) "
        "OPTIONAL MATCH (e)-[old:LEGAL_REP]->() DELETE old "
        "WITH e, row MERGE (p:Person {key: row.key}) SET p.name = row.name "
        "MERGE (e)-[:LEGAL_REP]->(p)",
        (dict(r) for r in rows),
    )


def set_registration_regions(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """(Enterprise)-[:REGISTERED_IN]->(Region): the division a credit code's authority sits in."""
    store.write_batches(
        "UNWIND $rows AS row MATCH (e:Enterprise {id: row.enterprise}) "
        "MERGE (g:Region {key: row.region}) ON CREATE SET g.name = row.region, g.division = row.division "
        "MERGE (e)-[:REGISTERED_IN]->(g)",
        (dict(r) for r in rows),
    )


def set_branch_links(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    store.write_batches(
        "UNWIND $rows AS row MATCH (b:Enterprise {id: row.branch}) MATCH (p:Enterprise {id: row.parent}) "
        "MERGE (b)-[:BRANCH_OF]->(p)",
        (dict(r) for r in rows),
    )


def reset_profiles(store: GraphStore, enterprise_ids: Sequence[str], fields: Sequence[str]) -> None:
    """Forget what enterprises learned from their records (names, golden values), to relearn it."""
    cleared = ", ".join(f"e.{name} = null" for name in fields)
    store.write(
        f"UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) SET e.names = [], e.former_names = [], "
        f"e.golden_sources = '{{}}', {cleared}",
        {"ids": list(enterprise_ids)},
    )


def set_redirect(store: GraphStore, loser: str, survivor: str) -> None:
    store.write(
        "MATCH (a:Enterprise {id: $loser}) MATCH (b:Enterprise {id: $survivor}) "
        "SET a.merged_into = $survivor MERGE (a)-[:REDIRECTS_TO]->(b)",
        {"loser": loser, "survivor": survivor},
    )


def remove_redirect(store: GraphStore, loser: str) -> None:
    store.write(
        "MATCH (a:Enterprise {id: $loser}) SET a.merged_into = null "
        "WITH a OPTIONAL MATCH (a)-[x:REDIRECTS_TO]->() DELETE x",
        {"loser": loser},
    )


# --- stewardship ---------------------------------------------------------------------------------


def save_judgement(store: GraphStore, judgement: Mapping[str, Any]) -> None:
    store.write("MERGE (j:Judgement {id: $j.id}) SET j += $j", {"j": dict(judgement)})


def save_judgements(store: GraphStore, judgements: Iterable[Mapping[str, Any]]) -> None:
    """Several judgements in batched round trips (a bulk accept)."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (j:Judgement {id: row.id}) SET j += row", (dict(j) for j in judgements)
    )


def judgements(store: GraphStore, include_undone: bool = False) -> list[dict[str, Any]]:
    where = "" if include_undone else "WHERE j.undone IS NULL "
    return [dict(row["j"]) for row in store.read(f"MATCH (j:Judgement) {where}RETURN j AS j ORDER BY j.at")]


def judgement(store: GraphStore, judgement_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (j:Judgement {id: $id}) RETURN j AS j", {"id": judgement_id})
    return dict(rows[0]["j"]) if rows else None


def judgements_by_id(store: GraphStore, judgement_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = store.read(
        "UNWIND $ids AS id MATCH (j:Judgement {id: id}) RETURN j AS j", {"ids": list(judgement_ids)}
    )
    return [dict(row["j"]) for row in rows]


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


# The queue's reads live with what a caller may see of them (the API's); resolution, the CLI and the
# demo see everything and read them from here.
TASK_ORDERS = task_queries.TASK_ORDERS
tasks = task_queries.tasks
task = task_queries.task
town_queues = task_queries.town_queues


def close_tasks(store: GraphStore, task_ids: Iterable[str], status: str, at: str) -> None:
    for chunk in _chunks(list(task_ids), 2_000):
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
    for chunk in _chunks(list(rows), 500):
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


def start_run(store: GraphStore, run: Mapping[str, Any]) -> None:
    store.write("CREATE (x:ResolutionRun) SET x = $run", {"run": dict(run)})


def unfinished_runs(store: GraphStore) -> list[dict[str, Any]]:
    return [dict(row["x"]) for row in store.read("MATCH (x:ResolutionRun {status: 'running'}) RETURN x AS x")]


def finish_run(store: GraphStore, run_id: str, props: Mapping[str, Any]) -> None:
    store.write("MATCH (x:ResolutionRun {id: $id}) SET x += $props", {"id": run_id, "props": dict(props)})


def roll_back_run(store: GraphStore, run_id: str) -> None:
    """Undo what a killed run created: its new enterprises go, and every record linked to them is
    pending again. (Changes to older enterprises need no undo: the rerun offers the same records.)"""
    store.write(
        "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise {created_run: $id}) SET r.to_resolve = 1",
        {"id": run_id},
    )
    store.write("MATCH (e:Enterprise {created_run: $id}) DETACH DELETE e", {"id": run_id})
    store.write("MATCH (x:ResolutionRun {id: $id}) SET x.status = 'rolled_back'", {"id": run_id})


def reset_resolution(store: GraphStore) -> None:
    """Forget every result of resolution (not the judgements): for a rerun from scratch."""
    store.write("MATCH ()-[a:ABOUT]->() DELETE a")
    for label in ("Enterprise", "Identifier", "StewardTask", "Person"):
        store.write(f"MATCH (n:{label}) DETACH DELETE n")
    store.write(
        "MATCH (r:SourceRecord) WHERE r.resolved_hash IS NOT NULL SET r.to_resolve = 1 REMOVE r.resolved_hash"
    )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- reads for the API's stewardship fields ------------------------------------------------------


def audit_trail(store: GraphStore, first: int, about: str | None = None) -> list[dict[str, Any]]:
    """Judgements newest first, undone ones included; ``about``: only those naming it on either side."""
    where = "WHERE j.subject = $about OR j.object = $about " if about else ""
    return [
        dict(row["j"])
        for row in store.read(
            f"MATCH (j:Judgement) {where}RETURN j AS j ORDER BY j.at DESC LIMIT $first",
            {"about": about, "first": first},
        )
    ]
