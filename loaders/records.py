"""One department row -> one validated source record (or the reasons it was refused).

Pure functions of (spec, header mapping, cells): no I/O, so they are cheap to test and to run in
parallel. The engine adds provenance and writes records through ``graph/record_queries.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType, Role, Subject
from entgraph.loaders.normalise import CellError, FormulaCellError, Period, parse_cell, to_simplified

T = TypeVar("T")

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
class Link:
    """An edge from a record to a node identified by ``label`` + ``key`` (a town, a parcel, ...)."""

    relation: str
    label: str
    key: str
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordRow:
    """A record ready to write: its id, content hash, properties and links."""

    id: str
    content_hash: str
    props: Mapping[str, Any]
    links: Sequence[Link] = ()

    def as_graph_row(self) -> dict[str, Any]:
        """The plain data ``graph/record_queries.write_records`` takes."""
        links = [
            {"relation": k.relation, "label": k.label, "key": k.key, "props": dict(k.props)}
            for k in self.links
        ]
        return {"id": self.id, "hash": self.content_hash, "props": dict(self.props), "links": links}


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
    links: list[Link] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)


@dataclass(frozen=True)
class BoundColumn:
    """A spec column bound to the position and unit it has in one particular sheet."""

    column: ColumnSpec
    index: int
    header: str
    unit: str | None


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
    if not parsed.rejected:
        parsed.links = _links(spec, parsed.fields)
        parsed.periods = _periods(spec, parsed.fields)
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
    allowed = _planned(column, "values", lambda: {_value_key(v): v for v in column.values})
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
    subject_columns = _planned(
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


# Role -> (relation, node label, key prefix, node property naming the value) of a subject column's link.
_ROLE_LINKS: dict[Role, tuple[str, str, str, str]] = {
    Role.TOWN: ("IN_TOWN", "Town", "", "name"),
    Role.PARK: ("IN_PARK", "Park", "", "name"),
    Role.INDUSTRY_CODE: ("IN_INDUSTRY", "Industry", "code:", "code"),
    Role.INDUSTRY_CHAIN: ("IN_CHAIN", "IndustryChain", "", "name"),
}
# Per-spec (and per-file) facts every row needs, worked out once: a row's links, identity check and
# period are then loops over a few tuples instead of over every column's pydantic attributes (pydantic
# attribute reads and enum lookups made those three a third of a row's parse time).
_PLANS: dict[tuple[int, str], tuple[object, Any]] = {}


def _planned(owner: object, name: str, build: Callable[[], T]) -> T:
    cached = _PLANS.get((id(owner), name))
    if cached is not None and cached[0] is owner:
        return cached[1]
    if len(_PLANS) > 10_000:  # a long-lived process loading many files: start over, never grow unbounded
        _PLANS.clear()
    value = build()
    _PLANS[(id(owner), name)] = (owner, value)  # the owner is kept, so its id cannot be reused meanwhile
    return value


def _link_plan(spec: DatasetSpec) -> tuple[tuple[str, str, str, str, str], ...]:
    def build() -> tuple[tuple[str, str, str, str, str], ...]:
        plan = []
        for column in spec.columns:
            if column.party != "subject":
                continue
            if column.role is Role.REGION and spec.subject is Subject.REGION:
                plan.append((column.field, "INDICATOR_OF", "Region", "", "name"))
            elif column.role in _ROLE_LINKS:
                plan.append((column.field, *_ROLE_LINKS[column.role]))
        return tuple(plan)

    return _planned(spec, "links", build)


def fact_columns(spec: DatasetSpec) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per record -> fact node relation a row of ``spec`` may make (as :func:`_links` makes them):
    the fields that make the link (a subject's town, park ... column; a node's key fields) and the
    fields whose values it writes onto the node (its properties). What the API asks a caller may see
    of a fact, column by column (``api/visibility.py``)."""
    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def add(relation: str, keys: Sequence[str], props: Sequence[str]) -> None:
        old_keys, old_props = out.get(relation, ((), ()))
        out[relation] = (
            tuple(dict.fromkeys((*old_keys, *keys))),
            tuple(dict.fromkeys((*old_props, *props))),
        )

    for name, relation, *_ in _link_plan(spec):
        add(relation, (name,), ())
    for node in spec.nodes:
        add(node.relation, node.key, node.properties)
    return out


def _links(spec: DatasetSpec, fields: Mapping[str, Any]) -> list[Link]:
    links: list[Link] = []
    for name, relation, label, prefix, prop in _link_plan(spec):
        value = fields.get(name)
        if value is not None:
            text = str(value)
            links.append(Link(relation, label, prefix + text, {prop: text}))
    for node in spec.nodes:
        keys = [fields.get(name) for name in node.key]
        if any(k is None for k in keys):
            continue
        props: dict[str, Any] = dict(node.constants)
        props |= {name: graph_value(fields[name]) for name in node.properties if fields.get(name) is not None}
        props |= {name: graph_value(fields[name]) for name in node.key}
        key = "|".join(str(graph_value(k)) for k in keys)
        if node.constants.get("kind"):
            key = f"{node.constants['kind']}|{key}"
        links.append(Link(node.relation, node.label, key, props))
    return links


_PERIOD_ROLES = (Role.PERIOD, Role.PERIOD_END, Role.YEAR, Role.DATE, Role.PERIOD_START)


def _periods(spec: DatasetSpec, fields: Mapping[str, Any]) -> list[str]:
    """The reporting period(s) a row belongs to, for timeliness: the most specific period column."""
    ordered = _planned(
        spec, "periods", lambda: [c.field for role in _PERIOD_ROLES for c in spec.columns if c.role is role]
    )
    for name in ordered:
        if fields.get(name) is not None:
            return [period_label(fields[name], spec)]
    return []


def period_label(value: Any, spec: DatasetSpec) -> str:
    """Label of the reporting period a value falls in, at the dataset's frequency."""
    day: dt.date
    if isinstance(value, Period):
        day = value.end
    elif isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int):
        return str(value)
    else:
        return str(value)
    freq = spec.frequency.value
    if freq == "annual":
        return f"{day.year}"
    if freq == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if freq in ("daily", "hourly", "5min"):
        return day.isoformat()
    return f"{day.year}-{day.month:02d}"


def graph_value(value: Any) -> Any:
    """Values as both stores keep them: numbers, strings (ISO dates), booleans, lists."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Period):
        return value.label
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [graph_value(v) for v in value]
    return value


def record_props(spec: DatasetSpec, parsed: ParsedRow) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, value in parsed.fields.items():
        props[name] = graph_value(value)
        if isinstance(value, Period):
            props[f"{name}_start"] = value.start.isoformat()
            props[f"{name}_end"] = value.end.isoformat()
    if parsed.flags:
        props["flags"] = sorted(set(parsed.flags))
    if parsed.periods:
        props["period"] = parsed.periods[0]
    return props


def content_hash(props: Mapping[str, Any], links: Sequence[Link]) -> str:
    """A digest of what the row says (not where or when it was loaded), to tell unchanged rows."""
    payload = json.dumps(
        [sorted(props.items()), sorted((lk.relation, lk.label, lk.key) for lk in links)],
        ensure_ascii=False,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def bind_columns(
    spec: DatasetSpec, mapping: Mapping[int, str], headers: Sequence[str], units: Mapping[int, str | None]
) -> list[BoundColumn]:
    """Bind spec columns to sheet positions from a header match (canonical header per column index)."""
    by_header = {c.header: c for c in spec.columns}
    bound = []
    for index, canonical in sorted(mapping.items()):
        column = by_header.get(canonical)
        if column is not None:
            found = headers[index] if index < len(headers) else canonical
            # The clerk's own header text (whitespace tidied), so reports speak their language.
            shown = " ".join(str(found).split()) if found else canonical
            bound.append(BoundColumn(column, index, shown, units.get(index)))
    return bound


def is_blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# 合计 / 总计 / 小计 (and 本月合计, 全市合计, 以上合计, 合  计...): a row of sums, not a record.
_TOTALS_RE = re.compile(
    r"^(?:本月|本期|本季|本季度|本年|本年度|当月|全市|全区|全县|全旗|全镇|全部|以上|累计|总)?"
    r"(?:合计|总计|小计|总合计)[:：]?$"
)
_TOTALS_CODE_TYPES = (FieldType.CREDIT_CODE, FieldType.TAXPAYER_ID, FieldType.ORG_CODE)


def is_totals(cells: Sequence[Any], columns: Sequence[BoundColumn]) -> bool:
    """Is this a totals row (合计, 总计, 小计): a cell says so, and no code column names an enterprise?

    The label may sit in any column (序号, the name, the code). A row whose code column holds a valid
    code is a record that happens to say 合计 somewhere, and is loaded.
    """
    if not any(c.__class__ is str and "计" in c for c in cells):
        return False
    if not any(
        c.__class__ is str and _TOTALS_RE.match("".join(unicodedata.normalize("NFKC", c).split()))
        for c in cells
    ):
        return False
    for bound in columns:
        if bound.column.type in _TOTALS_CODE_TYPES and bound.index < len(cells):
            try:
                value, flags = parse_cell(cells[bound.index], bound.column, bound.unit)
            except CellError:
                continue
            if value is not None and not flags:
                return False
    return True


__all__ = [
    "BoundColumn",
    "FieldType",
    "ParsedRow",
    "RowIssue",
    "bind_columns",
    "content_hash",
    "graph_value",
    "is_blank",
    "is_totals",
    "parse_row",
    "period_label",
    "record_props",
]
