"""System docking (系统对接): department systems and front-end processors (前置机) push records, not files.

A batch is JSON records (keyed by the seed's headers or by our field names) or a CSV body, for one
dataset that declares a ``record_key``: records are upserts by that key, and ``deletions`` (key values)
retire records. Each batch becomes a CSV file in the inbox and an upload job, so it gets exactly what a
file gets: the same validation, provenance, row report, one load at a time per dataset and crash
safety. A batch's ``Idempotency-Key`` names its job: the same key sent again is the same batch (and a
different body under a used key is refused).

A **full-volume** docking (信用乌海, the 安全生产 platform) is a *sync*: its batches are kept apart and,
when the sync is completed, loaded as one new version of the channel's file, so records the sync
omits are retired, as a new version of a file retires the rows it lost.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from entgraph.catalog.spec import DatasetSpec
from entgraph.graph import intake_queries
from entgraph.loaders.intake import Inbox, SubmissionRefused, now_iso
from entgraph.loaders.normalise import CellError, parse_cell
from entgraph.loaders.records import keyed_record_id

MAX_BATCH_RECORDS = 10_000
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class DockingConflict(SubmissionRefused):
    """An idempotency key already used for a different batch."""


def _name(value: str, what: str) -> str:
    if not _SAFE.match(value or ""):
        raise SubmissionRefused(f"{what} {value!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return value


def _headers(spec: DatasetSpec) -> dict[str, str]:
    """Every name a record's key may use -> the seed's header: the header, our field name, aliases."""
    names: dict[str, str] = {}
    for column in spec.columns:
        for name in (column.header, column.field, *column.aliases):
            names.setdefault(name, column.header)
    return names


def records_csv(spec: DatasetSpec, records: Sequence[Mapping[str, Any]]) -> bytes:
    """JSON records as the CSV a clerk's export would be (UTF-8, the seed's headers)."""
    names = _headers(spec)
    unknown = sorted({k for r in records for k in r if k not in names})
    if unknown:
        raise SubmissionRefused(
            f"{spec.key} has no field {', '.join(map(repr, unknown[:5]))}; use the seed's headers or "
            f"field names: {', '.join(c.field for c in spec.columns)}"
        )
    columns = list(dict.fromkeys(names[k] for r in records for k in r))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for record in records:
        by_header = {names[k]: v for k, v in record.items()}
        writer.writerow(["" if by_header.get(c) is None else _cell(by_header[c]) for c in columns])
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict | list):
        raise SubmissionRefused(f"a field holds {type(value).__name__}; send plain values")
    return str(value)


def deletion_ids(spec: DatasetSpec, deletions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Record ids of ``deletions`` (each the record key's fields), parsed as a file's cells are."""
    names = _headers(spec)
    by_header = {c.header: c for c in spec.columns}
    ids = []
    for number, deletion in enumerate(deletions, 1):
        fields = {by_header[names[k]].field: v for k, v in deletion.items() if k in names}
        values = []
        for field in spec.record_key:
            column = spec.column(field)
            try:
                value, _ = parse_cell(fields.get(field), column, None)
            except CellError as exc:
                raise SubmissionRefused(f"deletion {number}: {column.header}: {exc}") from None
            if value is None:
                key = ", ".join(spec.column(f).header for f in spec.record_key)
                raise SubmissionRefused(f"deletion {number} needs the record key: {key}")
            values.append(value)
        ids.append(keyed_record_id(spec, values))
    return ids


class Docking:
    """Batches into upload jobs; full-volume syncs assembled and loaded as one file version."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.store = inbox.store

    def _spec(self, dataset: str, scope: str | None) -> DatasetSpec:
        spec = self.inbox.dataset(dataset, scope)
        if not spec.record_key:
            raise SubmissionRefused(
                f"{spec.key} ({spec.title}) declares no record key, so its records cannot be upserted "
                "one by one; send it as a file (POST /uploads)"
            )
        return spec

    def batch(
        self,
        dataset: str,
        *,
        key: str,
        channel: str,
        submitted_by: str,
        scope: str | None,
        records: Sequence[Mapping[str, Any]] = (),
        csv_body: bytes | None = None,
        deletions: Sequence[Mapping[str, Any]] = (),
        sync: str | None = None,
    ) -> dict[str, Any]:
        """Accept one batch; the job that loads it (or, within a sync, the sync's state)."""
        spec = self._spec(dataset, scope)
        key, channel = _name(key, "Idempotency-Key"), _name(channel, "channel")
        if len(records) > MAX_BATCH_RECORDS:
            raise SubmissionRefused(f"{len(records)} records in one batch; send at most {MAX_BATCH_RECORDS}")
        body = csv_body if csv_body is not None else (records_csv(spec, records) if records else b"")
        ids = deletion_ids(spec, deletions)
        if not body and not ids:
            raise SubmissionRefused("the batch has no records and no deletions")
        digest = hashlib.sha256(body + json.dumps(ids).encode()).hexdigest()
        job_id = "D-" + hashlib.sha256(f"{spec.key}|{channel}|{sync or ''}|{key}".encode()).hexdigest()[:24]
        existing = intake_queries.job(self.store, job_id)
        if existing is not None:
            if existing.get("body_sha256") != digest:
                raise DockingConflict(f"Idempotency-Key {key!r} was used for another batch of {spec.key}")
            return existing
        if sync is not None:
            return self._add_to_sync(
                spec, channel, _name(sync, "sync"), job_id, key, body, ids, digest, submitted_by, scope
            )
        file_name = f"{spec.key}_{channel}_{key}.csv"
        extra = {"kind": "docking", "channel": channel, "idempotency_key": key, "body_sha256": digest}
        if records:
            extra["rows"] = len(records)
        return self.inbox.accept_bytes(
            job_id,
            body,
            file_name,
            dataset=spec.key,
            submitted_by=submitted_by,
            scope=scope,
            deletions=ids,
            **extra,
        )

    def _sync_dir(self, spec: DatasetSpec, channel: str, sync: str) -> Path:
        return self.inbox.root / "syncs" / spec.key / channel / sync

    def _add_to_sync(
        self,
        spec: DatasetSpec,
        channel: str,
        sync: str,
        job_id: str,
        key: str,
        body: bytes,
        ids: list[str],
        digest: str,
        submitted_by: str,
        scope: str | None,
    ) -> dict[str, Any]:
        if ids:
            raise SubmissionRefused("a full-volume sync retires what it omits: send no deletions in it")
        folder = self._sync_dir(spec, channel, sync)
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f"{key}.csv"
        tmp = part.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(part)
        # the batch is recorded as a job that is already done: its rows load with the sync
        return intake_queries.submit(
            self.store,
            {
                "id": job_id,
                "kind": "docking-part",
                "dataset": spec.key,
                "channel": channel,
                "sync": sync,
                "idempotency_key": key,
                "body_sha256": digest,
                "file_name": part.name,
                "submitted_by": submitted_by,
                "scope": scope,
                "submitted_at": now_iso(),
            },
            status="received",
        )

    def complete(
        self, dataset: str, sync: str, *, channel: str, submitted_by: str, scope: str | None
    ) -> dict[str, Any]:
        """Load a full-volume sync: its batches as one new version of the channel's file."""
        spec = self._spec(dataset, scope)
        channel, sync = _name(channel, "channel"), _name(sync, "sync")
        job_id = "D-" + hashlib.sha256(f"{spec.key}|{channel}|{sync}|complete".encode()).hexdigest()[:24]
        existing = intake_queries.job(self.store, job_id)
        if existing is not None:
            return existing
        folder = self._sync_dir(spec, channel, sync)
        parts = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if not parts:
            raise SubmissionRefused(f"sync {sync!r} of {spec.key} received no batch")
        merged = io.BytesIO()
        header: list[str] | None = None
        writer = None
        text = io.TextIOWrapper(merged, encoding="utf-8", newline="", write_through=True)
        for part in parts:
            rows = list(csv.reader(io.StringIO(part.read_text(encoding="utf-8-sig"))))
            if not rows:
                continue
            if header is None:
                header, writer = rows[0], csv.writer(text)
                writer.writerow(header)
            index = {name: i for i, name in enumerate(rows[0])}
            assert writer is not None
            for row in rows[1:]:
                writer.writerow([row[index[h]] if h in index and index[h] < len(row) else "" for h in header])
        text.flush()
        # one file name per channel: each sync is a new version of it, and loading it retires what it lost
        file_name = f"{spec.key}_{channel}_全量.csv"
        job = self.inbox.accept_bytes(
            job_id,
            merged.getvalue(),
            file_name,
            dataset=spec.key,
            submitted_by=submitted_by,
            scope=scope,
            kind="docking-sync",
            channel=channel,
            sync=sync,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return job


def batches_since(
    store: Any, dataset: str, scope: str | None, since: str | None, first: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Docking jobs of ``dataset`` accepted after the cursor ``since``, oldest first, and the cursor
    to resume from (a front-end processor keeps it between runs)."""
    rows = intake_queries.docking_jobs(store, dataset, scope, since or "", first)
    cursor = f"{rows[-1]['submitted_at']}|{rows[-1]['id']}" if rows else since
    return rows, cursor
