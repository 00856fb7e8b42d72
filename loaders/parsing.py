"""One sheet row's cells -> validated field values, flags and the row's issues (or why it is refused).

Pure functions of (spec, bound columns, cells): no I/O. ``records.py`` turns a parsed row into the
record the engine writes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from entgraph.catalog.per_spec import planned
from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType, Role, Subject
from entgraph.loaders.columns import BoundColumn
from entgraph.loaders.normalise import CellError, FormulaCellError, parse_cell, to_simplified

Severity = Literal["error", "warning"]

# Codes that fail validation, and numbers a spreadsheet rounded in a code column, are kept under
# "<field>_invalid" and never used to link.
_CODE_FLAGS = {
    "invalid_credit_code",
    "invalid_org_code",
    "invalid_taxpayer_id",
    "looks_like_resident_id",
    "rounded_number",
}

# Flags that put a warning in the clerk's report (the others are notes on the record only).
_REPORTED_FLAGS = _CODE_FLAGS | {"numeric_code", "not_text"}


@dataclass(frozen=True)
class RowIssue:
    sheet: str
    row: int
    column: str
    value: Any
    reason_zh: str
    reason_en: str
    severity: Severity = "error"


@dataclass
class ParsedRow:
    fields: dict[str, Any]
    flags: list[str]
    issues: list[RowIssue]

    @property
    def rejected(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)


def parse_row(
    spec: DatasetSpec, columns: Sequence[BoundColumn], cells: Sequence[Any], sheet: str, row: int
) -> ParsedRow:
    fields: dict[str, Any] = {}
    flags: list[str] = []
    issues: list[RowIssue] = []
    for bound in columns:
        column = bound.column
        raw = cells[bound.index] if bound.index < len(cells) else None
        try:
            value, cell_flags = parse_cell(raw, column, bound.unit)
            if column.values and value is not None:
                value = _in_list(column, bound.header, value)
        except CellError as exc:
            issue = _cell_issue(exc, bound, raw, sheet, row)
            issues.append(issue)
            if issue.severity == "warning":
                flags.append(f"{_WARNED_AS.get(type(exc), 'bad_value')}:{column.field}")
            continue
        if value is None:
            if column.required:
                issues.append(
                    RowIssue(
                        sheet,
                        row,
                        bound.header,
                        raw,
                        f"必填项“{bound.header}”为空",
                        f"required column '{bound.header}' is empty",
                    )
                )
            continue
        if not cell_flags:  # nearly every cell: nothing to flag
            fields[column.field] = value
            continue
        flags.extend(f"{flag}:{column.field}" for flag in cell_flags)
        fields[f"{column.field}_invalid" if _CODE_FLAGS.intersection(cell_flags) else column.field] = value
        if _REPORTED_FLAGS.intersection(cell_flags):
            issues.append(_flag_issue(column, bound.header, raw, value, cell_flags, sheet, row))
    parsed = ParsedRow(fields, flags, issues)
    if not parsed.rejected:
        _check_identity(spec, columns, parsed, sheet, row)
    return parsed


class NotInList(CellError):
    """A value outside its column's closed list (``values`` in the spec)."""


_WARNED_AS: dict[type, str] = {FormulaCellError: "formula_error", NotInList: "not_in_list"}


def _cell_issue(exc: CellError, bound: BoundColumn, raw: Any, sheet: str, row: int) -> RowIssue:
    """What a cell that is no value of its column does to its row.

    A formula error in a required cell refuses the row, saying so; in an optional one the value is left
    empty and warned (never a silent blank). A value outside a closed list refuses the row when the
    column is required (数据类别 decides what the row is), else it is left empty and warned. Any other
    bad value in a required or identity column makes the row useless: refused; elsewhere the row is kept
    without the value and warned, so one bad optional date does not lose a tax row.
    """
    column = bound.column
    if isinstance(exc, FormulaCellError | NotInList):
        severe = column.required
    else:
        severe = column.required or column.role in _IDENTITY
    zh, en = exc.reason_zh, exc.reason_en
    if isinstance(exc, FormulaCellError):
        zh, en = f"“{bound.header}”中是公式错误 {exc.error}", f"formula error {exc.error} in {bound.header}"
    if not severe and isinstance(exc, FormulaCellError | NotInList):
        zh, en = f"{zh}，该值留空", f"{en}; left empty"
    return RowIssue(sheet, row, bound.header, raw, zh, en, "error" if severe else "warning")


def _in_list(column: ColumnSpec, header: str, value: Any) -> Any:
    """The spec's spelling of ``value`` when ``column``'s closed list has it (after normalising both:
    NFKC, no whitespace, simplified characters, upper-case), else ``NotInList``."""
    allowed = planned(column, "values", lambda: {_value_key(v): v for v in column.values})
    found = allowed.get(_value_key(value))
    if found is None:
        shown = "、".join(column.values)
        raise NotInList(
            f"“{value}”不是“{header}”允许的值（{shown}）",
            f"'{value}' is not one of the values allowed in '{header}' ({shown})",
        )
    return found


_IDENTITY = {Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID, Role.ENTERPRISE_NAME, Role.ACCOUNT_NUMBER}

# What a code of each type looks like, for saying how many characters a number has lost.
_CODE_WIDTHS: dict[FieldType, tuple[int, str, str]] = {
    FieldType.CREDIT_CODE: (18, "统一社会信用代码", "a credit code"),
    FieldType.ORG_CODE: (9, "组织机构代码", "an organisation code"),
    FieldType.TAXPAYER_ID: (15, "纳税人识别号", "a taxpayer id"),
    FieldType.ID_NUMBER: (18, "身份证号码", "a resident id number"),
}

_FORMAT_AS_TEXT_ZH = "请将该列设为文本格式后重新导出"

_FORMAT_AS_TEXT_EN = "format the column as text and export again"


def _flag_issue(
    column: ColumnSpec,
    header: str,
    raw: Any,
    value: Any,
    cell_flags: Sequence[str],
    sheet: str,
    row: int,
) -> RowIssue:
    """The warning a flagged cell puts in the report: the most telling of its flags, in words."""
    invalid = bool(_CODE_FLAGS.intersection(cell_flags))
    if "rounded_number" in cell_flags:
        zh = (
            f"“{header}”中的代码被表格软件存成了数字并已四舍五入（{value}），"
            f"已原样保留但不用于关联；{_FORMAT_AS_TEXT_ZH}"
        )
        en = (
            f"the code in '{header}' is a number the spreadsheet rounded ({value}): kept as written, "
            f"never used to link; {_FORMAT_AS_TEXT_EN}"
        )
    elif "numeric_code" in cell_flags:
        digits = str(value)
        zh = f"“{header}”是数字单元格（{digits}，{len(digits)}位）而不是文本"
        en = f"'{header}' holds a number ({digits}, {len(digits)} digits), not text"
        width = _CODE_WIDTHS.get(column.type)
        if width is None or len(digits) < width[0]:
            zh += "，开头的0可能已丢失"
            en += ": leading zeros may have been lost"
            if width is not None:
                zh += f"（{width[1]}应有{width[0]}位）"
                en += f" ({width[2]} has {width[0]} characters)"
        else:  # as long as the code should be: nothing lost this time
            zh += "，表格软件会丢掉数字开头的0和第15位以后的数字"
            en += ": a spreadsheet drops a number's leading zeros and its digits past the 15th"
        if invalid:
            zh += "；代码校验不通过，已保留原文但不用于关联"
            en += "; it fails its check: kept as text, not used for linking"
        zh += f"；{_FORMAT_AS_TEXT_ZH}"
        en += f"; {_FORMAT_AS_TEXT_EN}"
    elif invalid:
        zh = "代码校验位错误，已保留原文但不用于关联"
        en = "code fails its check; kept as text, not used for linking"
    else:  # not_text
        zh = f"“{header}”应为文字，单元格却是数字或日期（{value}）"
        en = f"'{header}' should hold text but the cell is a number or date ({value})"
    return RowIssue(sheet, row, header, raw, zh, en, "warning")


def _value_key(value: Any) -> str:
    """A closed-list value as compared: NFKC, no whitespace, simplified characters, upper-case."""
    text = "".join(unicodedata.normalize("NFKC", str(value)).split())
    return to_simplified(text).upper()


def _check_identity(
    spec: DatasetSpec, columns: Sequence[BoundColumn], parsed: ParsedRow, sheet: str, row: int
) -> None:
    """An enterprise row must say which enterprise it is about (a name or some code)."""
    if spec.subject is not Subject.ENTERPRISE:
        return
    subject_columns = planned(
        columns,
        "identity",
        lambda: [b for b in columns if b.column.role in _IDENTITY and b.column.party == "subject"],
    )
    if not subject_columns:
        return
    # A code a spreadsheet rounded names nobody: it is kept, but does not count as naming the enterprise.
    known = any(
        parsed.fields.get(b.column.field) is not None
        or (
            parsed.fields.get(f"{b.column.field}_invalid")
            and f"rounded_number:{b.column.field}" not in parsed.flags
        )
        for b in subject_columns
    )
    if not known:
        headers = "、".join(b.header for b in subject_columns)
        parsed.issues.append(
            RowIssue(
                sheet,
                row,
                headers,
                None,
                f"无法识别企业：{headers}均为空",
                f"no way to tell which enterprise: {headers} all empty",
            )
        )
