"""Upload reports over HTTP: ``GET /reports/{upload id}`` serves the row-error report of an upload.

The loader writes one ``.xlsx`` per upload under ``settings.report_dir`` (summary, issues, and the
refused rows under their original headers, ready to fix and upload again) and stores its path on the
``Upload`` node. ``UploadSummary.errorReport`` links here. A report names files and rows, so it is for
analysts and above, exactly as upload history is; callers authenticate as for ``/graphql`` (the same
:class:`~entgraph.api.auth.Authenticator`, so a bad key or token is a 401 with the API's error body).

The stored path is trusted only inside the report directory: both are resolved (symlinks and ``..``
followed) before comparing, so a tampered or stale ``report_path`` never serves another file.

A report holds the refused rows' cells as the department sent them, so it goes through the same
masking as GraphQL (:mod:`entgraph.api.masking`). Admins get the file as stored. For every other role
the workbook is rebuilt in memory from the stored file (:func:`masked_report`), with each cell judged by
the dataset column its header names (the spec's header or an alias, compared as the loader compares
them, with :func:`~entgraph.loaders.normalise.normalise_header`) and the caller's role:

- ``show``: the cell as stored;
- ``mask``: :func:`~entgraph.api.masking.mask_value` with the column's :func:`~entgraph.api.masking.mask_kind`
  (138****5678, 张*, ************1234), as GraphQL shows the same column;
- ``null`` (不予共享 for non-admins) and columns the spec does not describe (no rule says who may see
  them, and the loader ignores them anyway): the column is left out of 待修正 To fix, header and all.

In 问题 Issues a row about a masked or hidden column has its value masked or emptied, and the value its
reasons quote (``电话号码无法识别：13812345678``) replaced the same way, so no raw value leaks there either.
The summary has no cell values and is copied as is.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zipfile import BadZipFile

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException

from entgraph.api.auth import Authenticator, Role, role_required
from entgraph.api.client_errors import NotFound
from entgraph.api.masking import Decision, MaskKind, mask_kind, mask_value, policy
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import ColumnSpec, DatasetSpec
from entgraph.errors import ConfigurationError
from entgraph.graph import upload_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.normalise import normalise_header
from entgraph.settings import Settings

REPORT_ROLE = Role.ANALYST
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The sheets and headers loaders/report.py writes.
SUMMARY_SHEET = "汇总 Summary"
ISSUES_SHEET = "问题 Issues"
TO_FIX_SHEET = "待修正 To fix"
_ISSUE_COLUMN, _ISSUE_VALUE, _ISSUE_REASON_ZH, _ISSUE_REASON_EN = "列 Column", "值 Value", "原因", "Reason"
_TO_FIX_LEAD = ("工作表 Sheet", "原行号 Row")  # before the row's own cells, on each header row
# What a hidden value's place in a reason says instead.
_HIDDEN_ZH, _HIDDEN_EN = "〔已隐藏〕", "[hidden]"


def report_file(settings: Settings, upload: Mapping[str, Any]) -> Path | None:
    """The upload's report file when it exists inside the report directory, else None."""
    stored = upload.get("report_path")
    if not stored:
        return None
    root = settings.report_dir.resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def report_url(upload_id: str) -> str:
    """The path ``GET /reports/{upload_id}`` answers at (ids are ``<dataset>:<digest>``)."""
    return "/reports/" + quote(upload_id, safe=":")


# --- masking ---------------------------------------------------------------------------------------


class UnreadableReport(ValueError):
    """The stored report is not a workbook, so no masked copy can be made of it."""


@dataclass(frozen=True)
class CellRule:
    """What a role sees of one report column: ``decision`` as :func:`masking.policy` says, and the
    mask ``kind`` when it is ``mask``."""

    decision: Decision
    kind: MaskKind | None = None

    def shown(self, value: Any) -> Any:
        if self.decision is Decision.SHOW:
            return value
        if self.decision is Decision.MASK and self.kind is not None:
            return mask_value(self.kind, value)
        return None


_HIDDEN = CellRule(Decision.NULL)


class ReportRules:
    """The rule of each report column header for ``role``: the spec column the header names (its
    ``header`` or an alias, normalised as the loader matches them; the first column naming it wins, as
    in :func:`~entgraph.loaders.readers.find_header`) under the masking policy. A header no column
    names, and every header when the dataset has no spec, is hidden: nothing says who may see it."""

    def __init__(self, spec: DatasetSpec | None, role: Role) -> None:
        self.role = Role.parse(role)
        self._columns: dict[str, ColumnSpec] = {}
        for column in spec.columns if spec else ():
            for text in (column.header, *column.aliases):
                key = normalise_header(text)
                if key:
                    self._columns.setdefault(key, column)
        self._spec = spec
        self._rules: dict[str, CellRule] = {}

    def rule(self, header: Any) -> CellRule:
        text = "" if header is None else str(header)
        if text not in self._rules:
            column = self._columns.get(normalise_header(text))
            if column is None or self._spec is None:
                self._rules[text] = _HIDDEN
            else:
                decision = policy(self._spec.sharing_of(column), self.role)
                kind = mask_kind(column) if decision is Decision.MASK else None
                self._rules[text] = CellRule(decision, kind)
        return self._rules[text]


def masked_report(path: Path, spec: DatasetSpec | None, role: Role) -> bytes:
    """The report at ``path`` as ``role`` may see it, as ``.xlsx`` bytes: same sheets, same order,
    masked as the module docstring says. Streams both workbooks (read-only in, write-only out)."""
    rules = ReportRules(spec, role)
    try:
        source = load_workbook(path, read_only=True)
    except (BadZipFile, InvalidFileException, KeyError) as exc:  # not a workbook: nothing to mask
        raise UnreadableReport(f"{path.name} is not a readable workbook") from exc
    try:
        book = Workbook(write_only=True)
        for sheet in source.worksheets:
            out = book.create_sheet(sheet.title)
            rows = (_pairs(row) for row in sheet.iter_rows())
            if sheet.title == SUMMARY_SHEET:
                masked: Iterable[list[tuple[Any, Any]]] = rows
            elif sheet.title == ISSUES_SHEET:
                # Read-only mode does not read column widths: the reasons' widths as the loader sets them.
                out.column_dimensions["E"].width = out.column_dimensions["F"].width = 40
                masked = _masked_issues(rows, rules)
            elif sheet.title == TO_FIX_SHEET:
                masked = _masked_to_fix(rows, rules)
            else:  # a sheet this code does not know: nothing says what it may show
                masked = ()
            for cells in masked:
                out.append([_cell(out, value, style) for value, style in cells])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    finally:
        source.close()


def _pairs(row: Sequence[Any]) -> list[tuple[Any, Any]]:
    """A read-only row as (value, source cell) pairs."""
    return [(cell.value, cell) for cell in row]


def _masked_issues(
    rows: Iterable[list[tuple[Any, Any]]], rules: ReportRules
) -> Iterable[list[tuple[Any, Any]]]:
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        return
    yield header
    names = [value for value, _ in header]
    try:
        col, val = names.index(_ISSUE_COLUMN), names.index(_ISSUE_VALUE)
        zh, en = names.index(_ISSUE_REASON_ZH), names.index(_ISSUE_REASON_EN)
    except ValueError:
        raise RuntimeError(f"report sheet {ISSUES_SHEET!r} lacks its headers: {names}") from None
    for cells in rows:
        value = cells[val][0] if val < len(cells) else None
        if value is None:  # nothing to leak (identity, duplicate key, 'more issues' rows)
            yield cells
            continue
        rule = rules.rule(cells[col][0] if col < len(cells) else None)
        if rule.decision is Decision.SHOW:
            yield cells
            continue
        shown = rule.shown(value)
        cells[val] = (shown, cells[val][1])
        for index, hidden in ((zh, _HIDDEN_ZH), (en, _HIDDEN_EN)):
            if index < len(cells) and isinstance(cells[index][0], str):
                text = _without_value(cells[index][0], value, hidden if shown is None else str(shown))
                cells[index] = (text, cells[index][1])
        yield cells


def _without_value(reason: str, value: Any, instead: str) -> str:
    """``reason`` with the value it quotes replaced by ``instead``.

    The loader's cell errors end in the value after a colon (``what：value`` / ``what: value``, the
    value whitespace-collapsed and cut at 40 characters): everything after the first colon goes.
    Other reasons have each spelling of the value replaced wherever it occurs.
    """
    colons = [(at, sep) for sep in ("：", ": ") if (at := reason.find(sep)) >= 0]
    if colons:
        at, sep = min(colons)
        return reason[: at + len(sep)] + instead
    text = str(value)
    collapsed = " ".join(text.split())
    spellings = {text, collapsed, collapsed[:39] + "…"} - {""}
    for spelling in sorted(spellings, key=len, reverse=True):
        reason = reason.replace(spelling, instead)
    return reason


def _masked_to_fix(
    rows: Iterable[list[tuple[Any, Any]]], rules: ReportRules
) -> Iterable[list[tuple[Any, Any]]]:
    """Each source sheet's refused rows come under a header row of their own; a cell is judged by the
    header above it (a cell past the last header, or before any header row, is hidden)."""
    lead = len(_TO_FIX_LEAD)
    plan: list[CellRule] = []
    for cells in rows:
        is_header = tuple(value for value, _ in cells[:lead]) == _TO_FIX_LEAD
        if is_header:
            plan = [rules.rule(value) for value, _ in cells[lead:]]
        out = list(cells[:lead])
        for index, (value, style) in enumerate(cells[lead:]):
            rule = plan[index] if index < len(plan) else _HIDDEN
            if rule.decision is not Decision.NULL:
                out.append((value if is_header else rule.shown(value), style))
        yield out


def _cell(sheet: Any, value: Any, source: Any) -> WriteOnlyCell:
    """A cell for the masked copy, styled as its source cell (bold headers, refused/warned fills)."""
    if value is None and getattr(source, "data_type", None) in {"s", "inlineStr"}:
        value = ""  # an empty text cell the loader wrote (it reads back as None): kept, as a cell
    cell = WriteOnlyCell(sheet, value=value)
    if cell.data_type == "f":
        cell.data_type = "s"  # the loader writes no formulas: text that looks like one stays text
    if source is not None and getattr(source, "has_style", False):
        cell.font = copy(source.font)
        cell.fill = copy(source.fill)
    return cell


# --- the route -------------------------------------------------------------------------------------


# upload ids are ``<dataset>:<digest>``: anything with control characters or far longer is no id (and
# NUL would cut the store's text parameter)
_SANE_UPLOAD_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,300}$")


def register_reports(
    app: FastAPI,
    settings: Settings,
    authenticator: Authenticator,
    store: Callable[[], GraphStore],
    catalog: Callable[[], Catalog] | None = None,
) -> None:
    """Add ``GET /reports/{upload_id}`` to ``app``; ``store`` gives the open graph store per request and
    ``catalog`` the app's catalog, whose specs say how to mask (default: the catalog of
    ``settings.spec_dirs``, as the app loads it when none is passed in)."""
    specs = catalog or cache(lambda: Catalog.load(settings.spec_dirs))

    def spec_of(dataset: str | None) -> DatasetSpec | None:
        if not dataset:
            return None
        try:
            return specs().get(dataset).spec
        except ConfigurationError:  # a dataset since removed from the catalog: no rules, all hidden
            return None

    # A plain ``def``: FastAPI runs it in its thread pool, off the event loop, as the store is blocking.
    @app.get("/reports/{upload_id}", include_in_schema=False)
    def upload_report(upload_id: str, request: Request) -> Response:
        principal = authenticator.authenticate(request.headers)  # Unauthenticated -> the app's 401
        request.state.principal = principal  # for the access log, as /graphql does
        department = principal.role is Role.DEPARTMENT
        if not department and not principal.role.covers(REPORT_ROLE):
            raise role_required(REPORT_ROLE)  # -> the app's 403, with the API's error body
        if not _SANE_UPLOAD_ID.match(upload_id):  # NUL or control characters, or no id's length
            raise NotFound("no such upload")
        upload = upload_queries.upload(store(), upload_id)
        spec = spec_of(upload.get("dataset")) if upload else None
        # a department reads the reports of its own datasets, as sent (the rows are its own); another
        # department's upload answers as a missing one
        own = department and spec is not None and spec.owner == principal.scope
        if upload is None or (department and not own):
            raise NotFound(f"no upload {upload_id}")
        path = report_file(settings, upload)
        if path is None:
            raise NotFound(f"upload {upload_id} has no report to download")
        if principal.role is Role.ADMIN or own:
            return FileResponse(path, media_type=XLSX, filename=path.name)
        try:
            content = masked_report(path, spec, principal.role)
        except UnreadableReport:
            raise NotFound(f"upload {upload_id} has no readable report to download") from None
        return Response(content, media_type=XLSX, headers={"Content-Disposition": _attachment(path.name)})


def _attachment(filename: str) -> str:
    """``Content-Disposition`` as Starlette's FileResponse writes it."""
    quoted = quote(filename)
    return (
        f"attachment; filename*=utf-8''{quoted}"
        if quoted != filename
        else f'attachment; filename="{filename}"'
    )
