"""What every reader hands back: sheets of numbered rows, and the one error for a refused file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from entgraph.errors import EntgraphError

Row = tuple[int, list[object]]

_EXACT_INT = 2.0**53  # floats beyond this are not exact integers any more; keep them as floats


class FileRejected(EntgraphError):
    """A bad file refused whole; the message says what is wrong with it and how to fix it."""


class FormulaError:
    """A formula's error result (``#DIV/0!``, ``#N/A``, ``#VALUE!``, ``#REF!``, LibreOffice's ``Err:502``...).

    A value, not an exception: the readers put it in the cell so that it is never mistaken for an
    empty cell or for text. ``code`` is the error as the spreadsheet shows it; ``str()`` gives it too.
    """

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"FormulaError({self.code!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormulaError) and other.code == self.code

    def __hash__(self) -> int:
        return hash((FormulaError, self.code))


# The error values Excel, WPS and LibreOffice show (and write into a CSV) for a formula that failed.
ERROR_CODES = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)
_LIBREOFFICE_ERROR = re.compile(r"Err:\d{3}")


def error_of_text(text: str) -> FormulaError | None:
    """The formula error a cell's text is (``"#DIV/0!"``, ``"Err:502"``), or None for any other text."""
    if text in ERROR_CODES or (text.startswith("Err:") and _LIBREOFFICE_ERROR.fullmatch(text)):
        return FormulaError(text)
    return None


class MergedRange(NamedTuple):
    """A merged block of cells: rows numbered as a spreadsheet shows them, columns as list indexes."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int


class Sheet:
    """One table in a file: a worksheet of a workbook, or the whole of a CSV.

    ``rows()`` streams every non-empty row (title and header rows included) as
    ``(row number, cell values)`` and starts again from the top on each call. Row numbers are those a
    spreadsheet program shows (for a CSV, the physical line where the record starts), so skipped empty
    rows leave gaps. Cell values: ``str``, ``int``, ``float``, ``bool``, ``datetime.date``,
    ``datetime.datetime``, ``datetime.time``, ``FormulaError`` (a formula's error result) or ``None``
    for an empty cell; trailing empty cells are trimmed. A number whose format carries meaning comes as
    the text the clerk sees: a percentage as ``"50%"``, a date formatted as a month as ``"2023-04"``
    (see ``numfmt``). CSV cells are text (or ``None``, or ``FormulaError`` for ``#DIV/0!``-style text).
    ``hidden`` is True for a worksheet hidden in the workbook (never for a CSV).
    """

    def __init__(
        self,
        name: str,
        rows: Callable[[], Iterator[Row]],
        *,
        reader: str,
        hidden: bool = False,
        merged: Callable[[], list[MergedRange] | None] | None = None,
    ) -> None:
        self.name = name
        self.reader = reader  # "csv", "calamine" or "xlsx-stream": which code reads it
        self.hidden = hidden
        self._rows = rows
        self._merged = merged

    def rows(self) -> Iterator[Row]:
        return self._rows()

    def merged_ranges(self) -> list[MergedRange] | None:
        """The sheet's merged cells, or None when the reader cannot tell (CSV, streamed xlsx, ods).

        Known only once ``rows()`` has been started at least once (the workbook loads the sheet then).
        """
        return self._merged() if self._merged else None

    def __repr__(self) -> str:
        hidden = ", hidden" if self.hidden else ""
        return f"Sheet({self.name!r}, {self.reader}{hidden})"


def clean_cells(values: list[object], lead: int = 0) -> list[object]:
    """Spreadsheet cell values as the readers promise them.

    ``""`` becomes ``None``; integral floats become ``int``; a datetime at exactly midnight becomes a
    ``date`` (Excel stores both as the same serial number; the number format is all that differs, and
    readers disagree about it); ``lead`` empty cells are put in front (a sheet whose data starts right
    of column A); trailing empty cells are dropped.
    """
    out: list[object] = [None] * lead
    append = out.append
    for value in values:
        cls = value.__class__
        if cls is str:
            append(value or None)
        elif cls is float:
            if value.is_integer() and -_EXACT_INT < value < _EXACT_INT:  # type: ignore[attr-defined,operator]
                append(int(value))  # type: ignore[call-overload]
            else:
                append(value)
        elif cls is dt.datetime:
            if value.hour or value.minute or value.second or value.microsecond:  # type: ignore[attr-defined]
                append(value)
            else:
                append(value.date())  # type: ignore[attr-defined]
        else:
            append(value)
    while out and out[-1] is None:
        out.pop()
    return out
