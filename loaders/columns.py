"""A sheet's columns bound to the spec, and the rows that are no records (blank rows, totals rows)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType
from entgraph.loaders.normalise import CellError, parse_cell


@dataclass(frozen=True)
class BoundColumn:
    """A spec column bound to the position and unit it has in one particular sheet."""

    column: ColumnSpec
    index: int
    header: str
    unit: str | None


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
