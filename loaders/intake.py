"""The upload queue: files departments submit are kept in an inbox and loaded by a worker, never in a request.

    submit (HTTP, console) -> Inbox.accept: file to $ENTGRAPH_HOME/inbox/<job>/<name>, then a queued job
    entgraph worker        -> Worker: claim the oldest job whose dataset is free, load it as
                              `entgraph load` does, record the outcome on the job

The file is on disk (flushed) before its job exists, so a job never points at nothing; the job is a node
in the graph, so the API, the console and every worker see one queue. One load at a time per dataset
(a lease per dataset); a worker that dies leaves a job whose heartbeat stops, and the next worker to
look puts it back. A load run twice is the same load (``Loader`` is idempotent), so a rerun after a
crash neither loses nor doubles a row. Files stay in the inbox as the record of what was received.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import psutil

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec
from entgraph.errors import EntgraphError
from entgraph.graph import intake_queries, record_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader, LoadResult
from entgraph.loaders.readers import FileRejected

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DELETIONS = "deletions.json"  # beside a docking batch's rows: record ids it retires
PIPELINED_BATCHES = 4  # a job of known size is written in about this many batches ...
MIN_PIPELINED_BATCH = 100  # ... of at least this many rows
# spreadsheets and text exports, and GIS layers as GeoJSON (the town boundaries: docs/towns.md, Map)
ACCEPTED_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".csv", ".txt", ".tsv", ".et", ".ods", ".geojson", ".json")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class SubmissionRefused(EntgraphError):
    """A submission the inbox will not take: the sentence says why and what to send instead."""


def owned_datasets(catalog: Catalog, scope: str) -> list[DatasetSpec]:
    """The datasets the department ``scope`` (``city:department``) owns in the catalog."""
    return [feed.spec for feed in catalog if feed.spec.owner == scope]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def now_iso() -> str:
    """Now, as jobs record their times (UTC, milliseconds: ISO strings that sort as times do)."""
    return _iso(_now())


class Inbox:
    """Takes files in: writes each to disk, then queues its job."""

    def __init__(self, store: GraphStore, catalog: Catalog, root: Path) -> None:
        self.store = store
        self.catalog = catalog
        self.root = root
        store.ensure_schema(intake_queries.INTAKE_SCHEMA)

    def accept(
        self,
        source: BinaryIO,
        file_name: str,
        *,
        submitted_by: str,
        scope: str | None,
        dataset: str | None = None,
    ) -> dict[str, Any]:
        """Queue ``source`` (read to its end) as ``file_name``. ``scope``: the submitting department
        (``city:department``), which must own ``dataset``; None for an admin."""
        name = self._safe_name(file_name)
        spec = self.dataset(dataset, scope) if dataset else self._any_owned(scope)
        job_id = f"J-{_now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:10]}"
        return self._queue(job_id, source, name, spec, submitted_by, scope, {})

    def accept_bytes(
        self,
        job_id: str,
        body: bytes,
        file_name: str,
        *,
        dataset: str,
        submitted_by: str,
        scope: str | None,
        deletions: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Queue a body made here (a docking batch) under ``job_id``; ``deletions``: record ids to
        retire once its rows are loaded."""
        spec = self.dataset(dataset, scope)
        props = dict(extra)
        if deletions:
            props["deletions"] = len(deletions)
        return self._queue(
            job_id, io.BytesIO(body), self._safe_name(file_name), spec, submitted_by, scope, props, deletions
        )

    def _queue(
        self,
        job_id: str,
        source: BinaryIO,
        name: str,
        spec: DatasetSpec | None,
        submitted_by: str,
        scope: str | None,
        extra: dict[str, Any],
        deletions: list[str] | None = None,
    ) -> dict[str, Any]:
        folder = self.root / job_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        digest = hashlib.sha256()
        size = 0
        with path.open("wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if deletions:
            (folder / DELETIONS).write_text(json.dumps(deletions), encoding="utf-8")
        elif size == 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise SubmissionRefused(f"{name} is empty: send the file with its rows")
        return intake_queries.submit(
            self.store,
            {
                "id": job_id,
                "dataset": spec.key if spec else None,
                "file_name": name,
                "path": str(path),
                "bytes": size,
                "file_sha256": digest.hexdigest(),
                "submitted_by": submitted_by,
                "scope": scope,
                "submitted_at": now_iso(),
                **extra,
            },
        )

    def _safe_name(self, file_name: str) -> str:
        name = Path((file_name or "").replace("\\", "/")).name.strip()
        if not name or _UNSAFE.search(name) or name in {".", ".."} or len(name) > 200:
            raise SubmissionRefused(
                f"{file_name!r} is not a usable file name; name the file as the clerk saved it"
            )
        if not name.lower().endswith(ACCEPTED_SUFFIXES):
            raise SubmissionRefused(
                f"{name}: only spreadsheets, text exports and GeoJSON layers are loaded "
                f"({', '.join(ACCEPTED_SUFFIXES)})"
            )
        return name

    def _any_owned(self, scope: str | None) -> None:
        """A file to be recognised by the worker: its department must own something to be."""
        if scope is not None and not owned_datasets(self.catalog, scope):
            raise SubmissionRefused(f"{scope} owns no dataset in the catalog")

    def dataset(self, dataset: str, scope: str | None) -> DatasetSpec:
        """The catalog's ``dataset`` (key or title), if ``scope`` (a department; None: admin) owns it."""
        try:
            spec = self.catalog.get(dataset).spec
        except EntgraphError:
            raise SubmissionRefused(f"no dataset {dataset!r} in the catalog") from None
        if scope is not None and spec.owner != scope:
            raise SubmissionRefused(
                f"{spec.key} ({spec.title}) belongs to {spec.owner}, not to {scope}; "
                f"{scope} submits: {', '.join(s.key for s in owned_datasets(self.catalog, scope))}"
            )
        return spec


class Worker:
    """Loads queued files one at a time (a dataset at a time across workers), crash-safe."""

    def __init__(
        self,
        store: GraphStore,
        catalog: Catalog,
        report_dir: Path,
        *,
        lease_seconds: float = 60.0,
        heartbeat_seconds: float = 5.0,
        batch_size: int | Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.report_dir = report_dir
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.heartbeat_seconds = heartbeat_seconds
        self._base_size = batch_size if callable(batch_size) else lambda: batch_size or store.batch_size
        self._job_rows = 0  # rows of the job being loaded, when known (docking batches, direct reports)
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._loader: Loader | None = None
        store.ensure_schema(intake_queries.INTAKE_SCHEMA)

    def recover(self) -> list[str]:
        """Requeue the jobs of workers that stopped: on this host, a pid that is gone; anywhere, a
        heartbeat older than the lease."""
        dead = [w for w in intake_queries.running_workers(self.store) if self._dead(w)]
        requeued = intake_queries.requeue_stale(self.store, _iso(_now() - self.lease), dead)
        for job_id in requeued:
            log.warning("requeued upload job %s: its worker stopped before finishing", job_id)
        return requeued

    def _dead(self, worker: str | None) -> bool:
        host, _, rest = (worker or "").partition(":")
        pid = rest.partition(":")[0]
        return (
            host == self.host
            and pid.isdigit()
            and int(pid) != os.getpid()
            and not psutil.pid_exists(int(pid))
        )

    def run_once(self) -> dict[str, Any] | None:
        """Handle the next job, if any; the job as it ended."""
        self.recover()
        now = _now()
        job = intake_queries.claim_next(self.store, self.id, _iso(now), _iso(now + self.lease))
        if job is None:
            return None
        log.info("loading upload job %s (%s)", job["id"], job["file_name"])
        beating = threading.Event()
        progress: dict[str, Any] = {}
        beat = threading.Thread(target=self._beat, args=(job["id"], beating, progress), daemon=True)
        beat.start()
        try:
            outcome = self._load(job, progress)
        finally:
            beating.set()
            beat.join()
        intake_queries.finish(self.store, job["id"], self.id, outcome | {"finished_at": _iso(_now())})
        return intake_queries.job(self.store, job["id"])

    def run(
        self,
        stop: threading.Event,
        poll_seconds: float = 1.0,
        on_job: Callable[[dict], None] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """Until ``stop`` is set: handle jobs, waiting ``poll_seconds`` when there are none.
        ``on_idle`` runs once each time the queue empties after loading something (the worker's
        command resolves then: what was loaded is linked before anyone asks)."""
        loaded = False
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the store went away for a moment: keep the worker alive, try again
                log.exception("upload worker: could not take the next job")
                handled = None
            if handled is not None:
                loaded = loaded or handled["status"] == "done"
                if on_job:
                    on_job(handled)
                continue
            if loaded and on_idle is not None:
                loaded = False
                try:
                    on_idle()
                except Exception:  # a failed resolve is logged; the next idle moment tries again
                    log.exception("upload worker: the work after loading failed")
                    loaded = True
            stop.wait(poll_seconds)

    def _beat(self, job_id: str, stop: threading.Event, progress: dict[str, Any]) -> None:
        while not stop.wait(self.heartbeat_seconds):
            now = _now()
            try:
                intake_queries.heartbeat(
                    self.store, job_id, self.id, _iso(now), _iso(now + self.lease), **progress
                )
            except Exception as exc:  # a missed beat is retried at the next; the lease covers several
                log.warning("upload job %s: heartbeat failed: %s", job_id, exc)

    def _batch_size(self) -> int:
        """The base size, cut so a job of known size writes in a few batches: the loader parses one batch
        while the store writes the one before, and a job in one batch would do neither at once."""
        base = self._base_size()
        if not self._job_rows:
            return base
        return min(base, max(MIN_PIPELINED_BATCH, -(-self._job_rows // PIPELINED_BATCHES)))

    def _load(self, job: dict[str, Any], progress: dict[str, Any]) -> dict[str, Any]:
        path = Path(job["path"])
        self._job_rows = int(job.get("rows") or 0)

        def note(result: LoadResult) -> None:
            progress["rows_read"] = result.rows_read

        if self._loader is None:  # one per worker: its schema check is paid once, not per small batch
            self._loader = Loader(self.store, self.catalog, self.report_dir, self._batch_size)
        loader = self._loader
        loader.progress = note
        try:
            spec = self.catalog.get(job["dataset"]).spec if job.get("dataset") else loader.detect(path).spec
            scope = job.get("scope")
            if scope is not None and spec.owner != scope:
                return {
                    "status": "refused",
                    "dataset": spec.key,
                    "message": f"{path.name} is {spec.key} ({spec.title}), which belongs to "
                    f"{spec.owner}, not to {scope}",
                }
            result = loader.load(path, dataset=spec.key) if path.stat().st_size else None
            deleted = self._delete(path.parent / DELETIONS, result.upload_id if result else job["id"])
        except FileRejected as exc:
            return {"status": "refused", "message": str(exc)}
        except Exception as exc:
            log.exception("upload job %s failed", job["id"])
            return {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
        if result is None:  # a docking batch of deletions only
            return {"status": "done", "dataset": spec.key, "deleted": deleted, "message": None}
        return {
            "status": "done",
            "deleted": deleted,
            "dataset": result.dataset,
            "upload_id": result.upload_id,
            "rows_read": result.rows_read,
            "new": result.new,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "duplicates": result.duplicates,
            "retired": result.retired,
            "warnings": result.warnings,
            "message": None,
        }

    def _delete(self, listing: Path, upload_id: str) -> int:
        """Retire the records a docking batch deletes (after its rows: a batch that upserts and deletes
        one key ends with it deleted)."""
        if not listing.is_file():
            return 0
        return record_queries.retire(self.store, json.loads(listing.read_text(encoding="utf-8")), upload_id)


def api_activity_mark(home: Path) -> Path:
    """The file the API touches while it answers people (api/activity.py) and the worker looks at."""
    return home / "run" / "api-activity"


def busy_aware_batch_size(
    mark: Path, quiet: int, busy: int, within_seconds: float = 2.0
) -> Callable[[], int]:
    """Rows per write: ``busy`` while the API answered a query in the last ``within_seconds``, else
    ``quiet``. On FalkorDB a read waits for the write in progress, so while people are reading, short
    writes keep their answers quick; with no one reading, long writes load fastest."""

    def size() -> int:
        try:
            recent = time.time() - mark.stat().st_mtime < within_seconds
        except OSError:
            recent = False
        return busy if recent else quiet

    return size
