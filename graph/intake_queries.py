"""Submitted files waiting to be loaded: the upload queue's jobs, their per-dataset leases and reads.

Graph shape (see docs/graph-model.md):
    (:UploadJob {id, status, dataset, file_name, path, submitted_by, scope, submitted_at, worker,
                 heartbeat_at, attempts, upload_id, message, ...counts})
    (:IntakeLease {dataset, holder, expires_at})  one per dataset: one load at a time per dataset

A job is ``queued`` -> ``running`` -> ``done`` | ``refused`` (the file cannot be this dataset's, or is
not one the submitter may send) | ``failed`` (an error of ours; an admin may requeue it). A worker that
dies leaves its job ``running`` with a heartbeat that stops; :func:`requeue_stale` puts it back, and
the load, idempotent, runs again from the start without doubling anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey
from entgraph.graph.write_versions import touches

INTAKE_SCHEMA = GraphSchema(
    unique=(UniqueKey("UploadJob", "id"), UniqueKey("IntakeLease", "dataset")),
    indexes=(PropertyIndex("UploadJob", "status"), PropertyIndex("UploadJob", "scope")),
)
ACTIVE = ("queued", "running")


@touches("intake")
def submit(store: GraphStore, job: Mapping[str, Any], status: str = "queued") -> dict[str, Any]:
    """Record a job (its file is already on disk), ``queued`` unless said (a sync's batch is only
    ``received``: it loads with its sync); a job id submitted again is the same job."""
    rows = store.write(
        "MERGE (j:UploadJob {id: $job.id}) ON CREATE SET j += $job, j.status = $status, j.attempts = 0 "
        "RETURN j AS j",
        {"job": dict(job), "status": status},
    )
    return dict(rows[0]["j"])


@touches("intake")
def claim_next(store: GraphStore, worker: str, now: str, expires_at: str) -> dict[str, Any] | None:
    """The oldest queued job whose dataset no other worker holds, now ``running`` under ``worker``.

    The dataset's lease is written before it is checked (``SET l.claiming``), so on Neo4j two workers
    racing for one dataset take its lock in turn and the second sees the first's hold; FalkorDB runs
    writes one at a time anyway."""
    queued = store.read(
        "MATCH (j:UploadJob {status: 'queued'}) RETURN j.id AS id, j.dataset AS dataset "
        "ORDER BY j.submitted_at, j.id LIMIT 50"
    )
    for row in queued:
        dataset = row["dataset"] or f"detect:{row['id']}"  # a file to be recognised: its own lease
        taken = store.write(
            "MERGE (l:IntakeLease {dataset: $dataset}) SET l.claiming = $worker "
            "WITH l WHERE l.holder IS NULL OR l.holder = $worker OR l.expires_at < $now "
            "MATCH (j:UploadJob {id: $id, status: 'queued'}) "
            "SET l.holder = $worker, l.expires_at = $expires, j.status = 'running', j.worker = $worker, "
            "j.started_at = $now, j.heartbeat_at = $now, j.attempts = coalesce(j.attempts, 0) + 1 "
            "RETURN j AS j",
            {"dataset": dataset, "worker": worker, "now": now, "expires": expires_at, "id": row["id"]},
        )
        if taken:
            return dict(taken[0]["j"])
    return None


@touches("intake")
def heartbeat(
    store: GraphStore, job_id: str, worker: str, now: str, expires_at: str, **progress: Any
) -> None:
    """The worker is alive and holds the job's dataset a while longer; ``progress`` (rows read) is shown."""
    store.write(
        "MATCH (j:UploadJob {id: $id, worker: $worker, status: 'running'}) "
        "SET j.heartbeat_at = $now, j += $progress "
        "WITH j MATCH (l:IntakeLease {holder: $worker}) SET l.expires_at = $expires",
        {"id": job_id, "worker": worker, "now": now, "expires": expires_at, "progress": progress},
    )


@touches("intake")
def finish(store: GraphStore, job_id: str, worker: str, props: Mapping[str, Any]) -> None:
    """Close the job (``props`` has its status and outcome) and free the worker's leases."""
    store.write(
        "MATCH (j:UploadJob {id: $id, worker: $worker}) SET j += $props",
        {"id": job_id, "worker": worker, "props": dict(props)},
    )
    release(store, worker)


@touches("intake")
def release(store: GraphStore, worker: str) -> None:
    store.write(
        "MATCH (l:IntakeLease {holder: $worker}) SET l.holder = null, l.expires_at = null", {"worker": worker}
    )


@touches("intake")
def requeue_stale(store: GraphStore, stale_before: str, dead_workers: list[str]) -> list[str]:
    """Put back jobs whose worker stopped: its heartbeat is older than ``stale_before``, or it is one of
    ``dead_workers`` (known dead: a pid on this host that is gone). Their leases are freed."""
    rows = store.write(
        "MATCH (j:UploadJob {status: 'running'}) "
        "WHERE j.heartbeat_at < $stale OR j.worker IN $dead "
        "SET j.status = 'queued', j.requeued_from = j.worker, j.worker = null "
        "RETURN j.id AS id, j.requeued_from AS worker",
        {"stale": stale_before, "dead": dead_workers},
    )
    for worker in {row["worker"] for row in rows}:
        release(store, worker)
    return [row["id"] for row in rows]


def running_workers(store: GraphStore) -> list[str]:
    return [
        row["w"]
        for row in store.read("MATCH (j:UploadJob {status: 'running'}) RETURN DISTINCT j.worker AS w")
    ]


def job(store: GraphStore, job_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (j:UploadJob {id: $id}) RETURN j AS j", {"id": job_id})
    return dict(rows[0]["j"]) if rows else None


def jobs(store: GraphStore, scope: str | None, first: int) -> list[dict[str, Any]]:
    """The ``first`` newest jobs, of one submitter's scope (a department) or of all (None)."""
    where = "WHERE j.scope = $scope " if scope is not None else ""
    return [
        dict(row["j"])
        for row in store.read(
            f"MATCH (j:UploadJob) {where}RETURN j AS j ORDER BY j.submitted_at DESC, j.id DESC LIMIT $first",
            {"scope": scope, "first": first},
        )
    ]


def docking_jobs(
    store: GraphStore, dataset: str, scope: str | None, since: str, first: int
) -> list[dict[str, Any]]:
    """Docking jobs of ``dataset`` (of one department's scope, or all) after the cursor ``since``
    (``submitted_at|id``), oldest first."""
    scoped = "AND j.scope = $scope " if scope is not None else ""
    return [
        dict(row["j"])
        for row in store.read(
            "MATCH (j:UploadJob) WHERE j.dataset = $dataset AND j.kind STARTS WITH 'docking' "
            f"{scoped}AND (j.submitted_at + '|' + j.id) > $since "
            "RETURN j AS j ORDER BY j.submitted_at, j.id LIMIT $first",
            {"dataset": dataset, "scope": scope, "since": since, "first": first},
        )
    ]


@touches("intake")
def retry(store: GraphStore, job_id: str) -> bool:
    """A failed job queued again (an admin's decision once the cause is fixed)."""
    rows = store.write(
        "MATCH (j:UploadJob {id: $id, status: 'failed'}) SET j.status = 'queued', j.worker = null "
        "RETURN j.id AS id",
        {"id": job_id},
    )
    return bool(rows)
