"""The one engine that loads any department file described by a dataset spec.

    file -> detect dataset -> find header per sheet -> parse rows -> records with provenance
         -> compare with the graph (new / changed / unchanged) -> batched MERGE -> upload report

Idempotent by construction: a record's id comes from where it sits (dataset, file name, sheet, row)
or, when the spec declares ``record_key``, from its natural key; rows are MERGEd by id and only new or
changed ones are written. Loading a file twice changes nothing; a corrected file updates what changed
and retires rows it no longer has; a load killed half-way and rerun ends with exactly one clean load.
Memory stays bounded: rows stream through in batches; only the ids seen (8 bytes each) and the first
issues are held.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entgraph.catalog.registry import Catalog, Feed
from entgraph.catalog.spec import DatasetSpec
from entgraph.catalog.timeliness import last_ended_period, period_from_file_name
from entgraph.graph import record_queries, upload_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.columns import BoundColumn, bind_columns, is_blank, is_totals
from entgraph.loaders.normalise import header_unit, normalise_header
from entgraph.loaders.parsing import RowIssue
from entgraph.loaders.readers import (
    FileRejected,
    HeaderMatch,
    Sheet,
    cell_text,
    find_header,
    nearest_headers,
    open_table,
)
from entgraph.loaders.records import BuiltRow, RecordRow, build_row
from entgraph.loaders.report import write_report

MAX_ISSUES_KEPT = 50_000  # past this the report says how many more there were
MAX_REFUSED_ROWS_KEPT = 50_000
HEADER_SCAN_ROWS = 30  # rows looked at for a header (find_header's default), also to name a wrong one
MAX_HEADERS_SHOWN = 20  # of a refused file's header row, in the refusal message
WRITER_SWITCH_INTERVAL = 0.0005  # seconds; see Loader.load


@dataclass
class LoadResult:
    """What one file's load did with each of its rows.

    Every row below a data sheet's header, down to the sheet's last non-empty row, is counted once in
    ``rows_read`` and once in exactly one of: ``new``, ``updated``, ``unchanged``, ``rejected``,
    ``duplicates`` (its record key repeats a later row, which wins) or ``skipped`` (blank, totals, or on
    a hidden sheet); see ``accounted``. ``warnings`` counts loaded rows that carry a warning.
    """

    path: Path
    dataset: str
    title: str
    upload_id: str
    sha256: str
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0  # rows whose record_key repeats an earlier row of the file: the later one wins
    skipped_blank: int = 0  # empty rows between the header and the last row
    skipped_totals: int = 0  # 合计 / 总计 / 小计 rows
    skipped_hidden: int = 0  # rows of hidden sheets whose header matches the dataset
    warnings: int = 0
    retired: int = 0
    sheets_loaded: list[str] = field(default_factory=list)
    sheets_skipped: list[str] = field(default_factory=list)
    sheets_hidden: list[str] = field(default_factory=list)  # hidden sheets (also in sheets_skipped)
    header_rows: dict[str, int] = field(default_factory=dict)  # sheet -> row of its header (data sheets)
    periods: set[str] = field(default_factory=set)
    issues: list[RowIssue] = field(default_factory=list)
    omitted_issues: int = 0
    report_path: Path | None = None

    @property
    def loaded(self) -> int:
        return self.new + self.updated

    @property
    def skipped(self) -> int:
        return self.skipped_blank + self.skipped_totals + self.skipped_hidden

    @property
    def accounted(self) -> int:
        """The rows the outcomes add up to; equals ``rows_read`` once a load has finished."""
        return self.loaded + self.unchanged + self.rejected + self.duplicates + self.skipped


@dataclass
class _Run:
    """Mutable state of one file's load."""

    result: LoadResult
    spec: DatasetSpec
    store: GraphStore
    batch_size: int
    loaded_at: str
    seen: set[int] = field(default_factory=set)
    flushed: set[int] = field(default_factory=set)
    pending: list[tuple[RecordRow, str | None]] = field(default_factory=list)
    refused: list[tuple[str, int, list[Any]]] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)
    # The batch being written while the next is parsed (see ``Loader._flush``).
    writer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "entgraph-load-writer"))
    writing: Future[None] | None = None


class Loader:
    """Loads files into one store with one catalog. Reuse it across files of a session."""

    def __init__(
        self,
        store: GraphStore,
        catalog: Catalog,
        report_dir: Path,
        batch_size: int | Callable[[], int] | None = None,
        progress: Callable[[LoadResult], None] | None = None,
    ) -> None:
        self.store = store
        # told after each batch is written (from the writer thread): a 200,000-row file takes a minute
        self.progress = progress
        self.catalog = catalog
        self.report_dir = report_dir
        # a callable is asked again after each batch (the upload worker writes smaller batches while
        # the API is answering people: FalkorDB's reads wait for a write to finish)
        self._batch_size = batch_size if callable(batch_size) else lambda: batch_size or store.batch_size
        self.batch_size = self._batch_size()
        labels = {node.label for spec in catalog.specs for node in spec.nodes}
        store.ensure_schema(record_queries.source_schema(labels))

    # -- public -----------------------------------------------------------------------------------

    def load(self, path: Path, dataset: str | None = None) -> LoadResult:
        path = Path(path)
        if not path.is_file():
            raise FileRejected(f"{path}: no such file")
        sha = file_sha256(path)
        feed = self.catalog.get(dataset) if dataset else self.detect(path)
        spec = feed.spec
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        result = LoadResult(path, spec.key, spec.title, f"{spec.key}:{sha[:24]}", sha)
        run = _Run(result, spec, self.store, self._batch_size(), now)

        upload_queries.record_dataset(self.store, _dataset_props(spec))
        upload_queries.record_upload(self.store, self._upload_props(run, status="running"))
        # This thread parses (pure Python) while the writer thread mostly waits on the store's socket.
        # At Python's default 5 ms switch interval each of the writer's wake-ups waits for the parser
        # to let go of the GIL, and the writer falls behind: 2.3k rows/s at 5 ms, 2.9k at 0.5 ms
        # (docs/benchmarks.md). Restored after the load.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, WRITER_SWITCH_INTERVAL))
        try:
            for sheet, row, cells, columns in self._rows(feed, path, run):
                built = build_row(spec, path.name, sheet, row, cells, columns)
                self._take(run, sheet, row, cells, built)
            self._flush(run)
            self._written(run)
        finally:
            run.writer.shutdown(wait=True)
            sys.setswitchinterval(switch)
        if not result.periods and result.loaded + result.unchanged:
            # A register without a period column: the file's name says which period, else the upload
            # reports the period that had just ended (so timeliness still works for it).
            result.periods = {
                period_from_file_name(path.name, spec.frequency)
                or last_ended_period(dt.datetime.fromisoformat(now), spec.frequency)
            }
        # Only another version of this file can hold records this one lacks; the first upload of a
        # file name (the common case, and every 1M-row first load) skips the pass over its records.
        if upload_queries.has_other_version(self.store, spec.key, path.name, result.upload_id):
            result.retired = record_queries.retire_missing(
                self.store,
                spec.key,
                path.name,
                lambda record_id: _id_digest(record_id) in run.seen,
                result.upload_id,
            )
        result.report_path = self._report(run)
        upload_queries.record_upload(self.store, self._upload_props(run, status="done"))
        return result

    def detect(self, path: Path) -> Feed:
        """Which dataset a file is: by file name first, then by the headers it carries."""
        by_name = self.catalog.by_file_name(path)
        if len(by_name) == 1:
            return by_name[0]
        sheets = open_table(path)
        visible = [s for s in sheets if not getattr(s, "hidden", False)] or sheets
        candidates = by_name or list(self.catalog)
        scored: list[tuple[float, int, Feed]] = []
        for feed in candidates:
            if feed.loader is not None:
                continue
            for sheet in visible[:3]:
                match = _match(feed.spec, sheet)
                if match and not match.missing:
                    scored.append((match.score, len(match.mapping), feed))
                    break
        if not scored:
            found = _header_row(visible[0])
            holds = f"; its first sheet's header row {_holds(*found)}" if found else ""
            raise FileRejected(
                f"{path.name}: cannot tell which dataset this is from its name or headers{holds}; "
                "pass --dataset KEY (see `entgraph feeds list`)"
            )
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        return scored[0][2]

    # -- reading ----------------------------------------------------------------------------------

    def _rows(
        self, feed: Feed, path: Path, run: _Run
    ) -> Iterator[tuple[str, int, list[Any], list[BoundColumn]]]:
        spec = feed.spec
        if feed.loader is not None:
            yield from self._custom_rows(feed, path, run)
            return
        sheets = open_table(path)
        result = run.result
        problems: list[Callable[[], str]] = []  # why each sheet was skipped, said if none is loaded
        for sheet in sheets:
            match = _match(spec, sheet)
            if match is None or match.missing or getattr(sheet, "hidden", False):
                problems.append(_skip_sheet(spec, sheet, match, result))
                continue
            units = {i: header_unit(h) for i, h in enumerate(match.headers) if h}
            columns = bind_columns(spec, match.mapping, match.headers, units)
            run.headers[sheet.name] = [str(h or "") for h in match.headers]
            result.sheets_loaded.append(sheet.name)
            result.header_rows[sheet.name] = match.row
            yield from _data_rows(sheet, match.row, columns, result)
        if not result.sheets_loaded:
            detail = "; ".join(problem() for problem in problems) or "no sheet has a header row matching it"
            raise FileRejected(
                f"{path.name} is not a valid “{spec.title}” file: {detail}. "
                "Fix the header row (or pass the right --dataset) and upload again"
            )

    def _custom_rows(
        self, feed: Feed, path: Path, run: _Run
    ) -> Iterator[tuple[str, int, list[Any], list[BoundColumn]]]:
        spec = feed.spec
        by_header = {normalise_header(c.header): c for c in spec.columns}
        for column in spec.columns:
            for alias in column.aliases:
                by_header.setdefault(normalise_header(alias), column)
        columns = [BoundColumn(c, i, c.header, c.unit) for i, c in enumerate(spec.columns)]
        index = {c.field: i for i, c in enumerate(spec.columns)}
        for sheet_name, row, values in feed.loader.rows(path):  # type: ignore[union-attr]
            if sheet_name not in run.headers:
                run.headers[sheet_name] = [c.header for c in spec.columns]
                run.result.sheets_loaded.append(sheet_name)
            cells: list[Any] = [None] * len(columns)
            for header, value in values.items():
                column = by_header.get(normalise_header(header))
                if column is not None:
                    cells[index[column.field]] = value
            yield sheet_name, row, cells, columns

    # -- rows -> records --------------------------------------------------------------------------

    def _take(self, run: _Run, sheet: str, row: int, cells: list[Any], built: BuiltRow) -> None:
        result = run.result
        result.rows_read += 1
        if built.record_id is None:
            self._note_issues(run, built.issues)
            result.rejected += 1
            if len(run.refused) < MAX_REFUSED_ROWS_KEPT:
                run.refused.append((sheet, row, list(cells)))
            return
        digest_of_id = _id_digest(built.record_id)
        issues = built.issues
        if digest_of_id in run.seen:
            result.duplicates += 1
            key_headers = "、".join(run.spec.column(f).header for f in run.spec.record_key)
            issues = [
                *issues,
                RowIssue(
                    sheet,
                    row,
                    key_headers,
                    None,
                    "与前面某行的记录键重复，以本行为准",
                    "same record key as an earlier row; this row wins",
                    "warning",
                ),
            ]
        run.seen.add(digest_of_id)
        if issues:
            result.warnings += 1
            self._note_issues(run, issues)
        props = built.props | {
            "dataset": run.spec.key,
            "department": run.spec.department,
            "city": run.spec.city,
            "file_name": result.path.name,
            "file_sha256": result.sha256,
            "sheet": sheet,
            "row": row,
            "upload_id": result.upload_id,
            "loaded_at": run.loaded_at,
        }
        result.periods.update(built.periods)
        run.pending.append((RecordRow(built.record_id, built.digest, props, built.links), None))
        if len(run.pending) >= run.batch_size:
            self._flush(run)

    def _note_issues(self, run: _Run, issues: list[RowIssue]) -> None:
        for issue in issues:
            if len(run.result.issues) < MAX_ISSUES_KEPT:
                run.result.issues.append(issue)
            else:
                run.result.omitted_issues += 1

    def _flush(self, run: _Run) -> None:
        """Hand the pending batch to the writer thread, after the previous batch is written.

        Parsing a batch (Python) and writing the one before (the store's server) then run at the same
        time on two cores. Batches are still written one at a time and in order, so a load killed
        mid-way leaves what a sequential load would: whole batches, the last one possibly without its
        content hashes, which the rerun rewrites.
        """
        if not run.pending:
            return
        batch, run.pending = run.pending, []
        run.batch_size = self._batch_size()
        self._written(run)
        run.writing = run.writer.submit(self._write, run, batch)

    def _written(self, run: _Run) -> None:
        """Wait for the batch being written; its failure is raised here, in the loading thread."""
        if run.writing is not None:
            writing, run.writing = run.writing, None
            writing.result()

    def _write(self, run: _Run, batch: list[tuple[RecordRow, str | None]]) -> None:
        rows: dict[str, RecordRow] = {}
        for record, _ in batch:
            rows[record.id] = record  # a natural key repeated in one batch: the later row wins
        known = record_queries.existing_hashes(run.store, list(rows))
        fresh = [r for r in rows.values() if r.id not in known]
        changed = [r for r in rows.values() if r.id in known and known[r.id] != r.content_hash]
        # A record already written by this run came back under a repeated key: counted as a duplicate.
        repeated = {r.id for r in rows.values() if _id_digest(r.id) in run.flushed}
        run.result.new += len(fresh)
        run.result.updated += len([r for r in changed if r.id not in repeated])
        run.result.unchanged += (
            len(rows) - len(fresh) - len(changed) - len(repeated - {r.id for r in changed})
        )
        run.flushed.update(_id_digest(r) for r in rows)
        record_queries.write_records(
            run.store,
            run.spec.record_label,
            [r.as_graph_row() for r in fresh + changed],
            replaced={r.id for r in changed},
            to_resolve=run.spec.names_enterprises,
        )
        if self.progress is not None:
            self.progress(run.result)

    # -- results ----------------------------------------------------------------------------------

    def _report(self, run: _Run) -> Path:
        result = run.result
        name = f"{result.path.stem}.{result.sha256[:8]}.report.xlsx"
        summary = {
            "文件 File": result.path.name,
            "SHA-256": result.sha256,
            "数据集 Dataset": f"{run.spec.department} / {run.spec.title} ({run.spec.key})",
            "读取行数 Rows read": result.rows_read,
            "新增 New": result.new,
            "更新 Updated": result.updated,
            "未变化 Unchanged": result.unchanged,
            "拒收 Refused": result.rejected,
            "重复键 Duplicate keys (later row kept)": result.duplicates,
            "跳过：空行 Skipped: blank rows": result.skipped_blank,
            "跳过：合计行 Skipped: totals rows": result.skipped_totals,
            "跳过：隐藏工作表中的行 Skipped: rows on hidden sheets": result.skipped_hidden,
            "警告 Warnings": result.warnings,
            "已撤销 Retired (no longer in the file)": result.retired,
            "工作表 Sheets loaded": ", ".join(result.sheets_loaded),
            "跳过的工作表 Sheets skipped": ", ".join(
                f"{name}（隐藏 hidden）" if name in result.sheets_hidden else name
                for name in result.sheets_skipped
            ),
            "装载时间 Loaded at": run.loaded_at,
        }
        return write_report(
            self.report_dir / run.spec.key / name,
            summary,
            result.issues,
            run.refused,
            run.headers,
            result.omitted_issues,
        )

    def _upload_props(self, run: _Run, status: str) -> dict[str, Any]:
        r = run.result
        props: dict[str, Any] = {
            "id": r.upload_id,
            "dataset": run.spec.key,
            "file_name": r.path.name,
            "file_sha256": r.sha256,
            "status": status,
            "started_at": run.loaded_at,
        }
        if status == "done":
            props |= {
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "rows_read": r.rows_read,
                "new": r.new,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "rejected": r.rejected,
                "duplicates": r.duplicates,
                "skipped_blank": r.skipped_blank,
                "skipped_totals": r.skipped_totals,
                "skipped_hidden": r.skipped_hidden,
                "warnings": r.warnings,
                "retired": r.retired,
                "periods": sorted(r.periods),
                "report_path": str(r.report_path) if r.report_path else None,
            }
        return props


def _match(spec: DatasetSpec, sheet: Sheet) -> HeaderMatch | None:
    expected = {c.header: list(c.aliases) for c in spec.columns}
    required = [c.header for c in spec.columns if c.required]
    return find_header(sheet, expected, required, normalise_header)


def _missing_message(spec: DatasetSpec, sheet: Sheet, match: HeaderMatch | None) -> str:
    """Why a sheet is not the dataset's table: the required columns it lacks and what its header row
    (the matched one, else the likeliest) holds, so a clerk sees a wrong file or a wrong --dataset."""
    if match is not None:
        missing, row, headers = match.missing, match.row, match.headers
    else:
        missing = [c.header for c in spec.columns if c.required]
        found = _header_row(sheet)
        row, headers = found if found else (0, [])
    nearest = nearest_headers(headers, missing)
    parts = [
        f"“{m}”" + (f" (nearest header found: “{nearest[m]}”)" if nearest.get(m) else "") for m in missing
    ]
    lacks = f"lacks required columns {', '.join(parts)}" if parts else "has no header row of this dataset"
    holds = f"; its header row {_holds(row, headers)}" if row else "; it has no row that looks like a header"
    return f"sheet “{sheet.name}” {lacks}{holds}"


def _header_row(sheet: Sheet) -> tuple[int, list[str]] | None:
    """The likeliest header row of a sheet no spec matched: of its first rows, the one with the most
    text cells (the earliest on a tie), as (row number, cell texts)."""
    best: tuple[int, int, list[str]] | None = None
    rows = sheet.rows()
    try:
        for count, (number, cells) in enumerate(rows):
            if count >= HEADER_SCAN_ROWS:
                break
            texts = [cell_text(c).strip() for c in cells]
            score = sum(1 for c in cells if isinstance(c, str) and c.strip())
            if score and (best is None or score > best[0]):
                best = (score, number, texts)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return (best[1], best[2]) if best else None


def _holds(row: int, headers: list[str]) -> str:
    shown = [" ".join(h.split()) for h in headers if h and h.strip()]
    more = f" and {len(shown) - MAX_HEADERS_SHOWN} more" if len(shown) > MAX_HEADERS_SHOWN else ""
    listed = ", ".join(f"“{h}”" for h in shown[:MAX_HEADERS_SHOWN]) + more
    return f"(row {row}) holds {listed}" if shown else f"(row {row}) is empty"


def _data_rows(
    sheet: Sheet, header_row: int, columns: list[BoundColumn], result: LoadResult
) -> Iterator[tuple[str, int, list[Any], list[BoundColumn]]]:
    """The rows of a data sheet to parse. Every row below the header is accounted for: rows a reader
    does not hand (empty ones: row numbers jump) and rows of empty cells are skipped as blank, 合计
    rows as totals; the rest are yielded (and counted by the engine as they are taken)."""
    last = header_row
    for row, cells in sheet.rows():
        if row <= header_row:
            continue
        gap = row - last - 1
        last = row
        if gap > 0:
            result.rows_read += gap
            result.skipped_blank += gap
        if is_blank(cells):
            result.rows_read += 1
            result.skipped_blank += 1
        elif is_totals(cells, columns):
            result.rows_read += 1
            result.skipped_totals += 1
        else:
            yield sheet.name, row, cells, columns


def _skip_sheet(
    spec: DatasetSpec, sheet: Sheet, match: HeaderMatch | None, result: LoadResult
) -> Callable[[], str]:
    """Note a sheet that is not loaded; returns how to say why, for the refusal of a file no sheet of
    which is (worked out only then).

    A hidden sheet is one the clerk does not see (old months, lookups): it is never loaded, and its
    rows count as skipped (hidden sheet) when it holds the dataset's table.
    """
    result.sheets_skipped.append(sheet.name)
    if not getattr(sheet, "hidden", False):
        return lambda: _missing_message(spec, sheet, match)
    result.sheets_hidden.append(sheet.name)
    if match is not None and not match.missing:
        result.header_rows[sheet.name] = match.row
        last = max((number for number, _ in sheet.rows()), default=match.row)
        skipped = max(0, last - match.row)
        result.rows_read += skipped
        result.skipped_hidden += skipped
    return lambda: f"sheet “{sheet.name}” is hidden (unhide it if it holds the data)"


def _id_digest(record_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=8).digest(), "big")


def _dataset_props(spec: DatasetSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "title": spec.title,
        "department": spec.department,
        "city": spec.city,
        "frequency": spec.frequency.value,
        "subject": spec.subject.value,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
