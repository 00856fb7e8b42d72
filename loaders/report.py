"""The upload report a department clerk receives: what loaded, which rows were refused and why.

An ``.xlsx`` with three sheets:
- 汇总 Summary: file, dataset, counts;
- 问题 Issues: row, column, value, reason in Chinese and English, severity (refused / warning);
- 待修正 To fix: the refused rows with their original cells under the original headers, so the clerk
  can correct them there and upload that sheet again.

Written with openpyxl in write-only mode (streams, constant memory). Every text that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) is written as plain text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from entgraph.loaders.parsing import RowIssue

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_BOLD = Font(bold=True)
_REFUSED = PatternFill("solid", fgColor="F8D7DA")
_WARNED = PatternFill("solid", fgColor="FFF3CD")


def write_report(
    path: Path,
    summary: Mapping[str, Any],
    issues: Iterable[RowIssue],
    refused_rows: Iterable[tuple[str, int, Sequence[Any]]],
    headers_by_sheet: Mapping[str, Sequence[str]],
    omitted_issues: int = 0,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)

    sheet = book.create_sheet("汇总 Summary")
    sheet.append(_row(sheet, ["项目 Item", "值 Value"], bold=True))
    for key, value in summary.items():
        sheet.append(_row(sheet, [key, value]))

    sheet = book.create_sheet("问题 Issues")
    sheet.column_dimensions["E"].width = 40
    sheet.column_dimensions["F"].width = 40
    sheet.append(
        _row(
            sheet,
            ["工作表 Sheet", "行号 Row", "列 Column", "值 Value", "原因", "Reason", "处理 Outcome"],
            bold=True,
        )
    )
    for issue in issues:
        outcome = "拒收 refused" if issue.severity == "error" else "警告 loaded with warning"
        fill = _REFUSED if issue.severity == "error" else _WARNED
        sheet.append(
            _row(
                sheet,
                [
                    issue.sheet,
                    issue.row,
                    issue.column,
                    issue.value,
                    issue.reason_zh,
                    issue.reason_en,
                    outcome,
                ],
                fill=fill,
            )
        )
    if omitted_issues:
        sheet.append(
            _row(sheet, [f"另有 {omitted_issues} 条问题未列出 / {omitted_issues} more issues not listed"])
        )

    sheet = book.create_sheet("待修正 To fix")
    current = None
    for sheet_name, row, cells in refused_rows:
        if sheet_name != current:
            current = sheet_name
            sheet.append(
                _row(sheet, ["工作表 Sheet", "原行号 Row", *headers_by_sheet.get(sheet_name, ())], bold=True)
            )
        sheet.append(_row(sheet, [sheet_name, row, *cells]))

    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)  # a reader never sees half a report
    return path


def _row(
    sheet: Any, values: Sequence[Any], bold: bool = False, fill: PatternFill | None = None
) -> list[WriteOnlyCell]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=_plain(value))
        if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_STARTS):
            cell.data_type = "s"  # stored as text: a spreadsheet shows it, never runs it
        if bold:
            cell.font = _BOLD
        if fill is not None:
            cell.fill = fill
        cells.append(cell)
    return cells


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, int | float | bool | str):
        return value
    return str(value)
