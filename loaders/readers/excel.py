"""Excel workbooks: python-calamine for small ones, a streaming xlsx reader for large ones.

The rule (figures in docs/benchmarks.md, "Readers"; ``python -m bench.readers``):

* calamine (Rust) reads 70–95k rows/s, 6–10x openpyxl, but loads a whole worksheet into memory
  (about 2.2 bytes of RSS per byte of worksheet XML: ~1.5 GB for 1M rows x 20 columns);
* so an ``.xlsx``/``.xlsm`` whose largest worksheet part is at most ``CALAMINE_MAX_SHEET_XML`` bytes
  uncompressed (64 MiB, roughly 90k rows x 20 columns) is read with calamine, and a larger one with
  ``XlsxStream``: openpyxl (read-only) for the workbook structure and styles, an ElementTree
  ``iterparse`` over the worksheet XML for the rows, and a compact shared-string table — memory stays
  flat in the number of rows (the shared strings cost ~30 bytes per distinct text).
* ``.xls`` (BIFF, at most 65,536 rows), ``.xlsb`` and ``.ods`` are always read with calamine.

Values are the cached results of formulas (nothing is ever evaluated; a text cell reading
``=cmd|' /C calc'!A0`` is just that text). Both paths give identical rows (see tests).

What calamine does not tell comes from the file itself: a formula's error result (calamine gives ""
for ``#DIV/0!``) and number formats that change a value's meaning (percentages, dates shown as a month
or a year; ``numfmt``). Each format gets a small pass of its own, run only when the file can hold such
cells: for xlsx a regular-expression scan of the worksheet XML for error cells and cells in a marked
style; for xls the BIFF records through xlrd (its sheets are loaded only when the workbook has a marked
format or an error record); for ods the cell types and data styles of ``content.xml``. Their results
(``Marks``: row number -> column -> kind or ``FormulaError``) are laid over calamine's rows. The
streaming reader sees the styles and error cells itself. xlsb files get no such pass.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import re
import struct
import tempfile
import zipfile
from array import array
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError, XMLPullParser, fromstring, iterparse

import python_calamine as calamine
import xlrd
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from entgraph.loaders.readers.base import (
    FileRejected,
    FormulaError,
    MergedRange,
    Row,
    Sheet,
    clean_cells,
    error_of_text,
)
from entgraph.loaders.readers.formats import SAVE_AS
from entgraph.loaders.readers.numfmt import DATE, MONTH, PERCENT, YEAR, format_kind, percent_text, render

CALAMINE_MAX_SHEET_XML = 64 * 2**20

_NS = f"{{{SHEET_MAIN_NS}}}"
_SI, _T, _R, _ROW, _C, _V, _IS = (_NS + tag for tag in ("si", "t", "r", "row", "c", "v", "is"))
_SHEET_DATA = _NS + "sheetData"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_EXACT_INT = 2.0**53
_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_MARKED_KINDS = (PERCENT, MONTH, YEAR)  # formats whose cells are laid over calamine's values
_READ_ERRORS = (
    calamine.CalamineError,
    ValueError,
    OSError,
    KeyError,
    EOFError,
    zipfile.BadZipFile,
    ParseError,
    InvalidFileException,
)


def _damaged(path: Path, exc: BaseException) -> FileRejected:
    if isinstance(exc, calamine.PasswordError):
        return FileRejected(
            f"{path.name}: the workbook is password-protected; remove the password and upload again"
        )
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return FileRejected(f"{path.name}: the workbook is damaged and cannot be read ({detail}); {SAVE_AS}")


def largest_sheet_xml(path: Path) -> int:
    """Uncompressed size of the largest worksheet part of an xlsx (from the zip directory)."""
    with zipfile.ZipFile(path) as archive:
        return max(
            (i.file_size for i in archive.infolist() if i.filename.startswith("xl/worksheets/")),
            default=0,
        )


def open_workbook(path: Path, kind: str) -> list[Sheet]:
    if kind == "xlsx" and largest_sheet_xml(path) > CALAMINE_MAX_SHEET_XML:
        return XlsxStream(path).sheets()
    return CalamineBook(path, kind).sheets()


# -- calamine -----------------------------------------------------------------------------------------


class CalamineBook:
    """A workbook read with python-calamine; keeps the last sheet it loaded (one at a time)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        try:
            self.book = _open_calamine(path, kind)
            self.meta = list(self.book.sheets_metadata)
        except _READ_ERRORS as exc:
            raise _damaged(path, exc) from None
        self._loaded: tuple[str, Any] | None = None
        self._marks: MarkReader | None = None
        self._marked: tuple[str, Marks] | None = None  # the marks of the sheet loaded last

    def sheets(self) -> list[Sheet]:
        return [
            Sheet(
                m.name,
                lambda name=m.name: self._rows(name),
                reader="calamine",
                hidden=m.visible != calamine.SheetVisibleEnum.Visible,
                merged=lambda name=m.name: self._merged(name),
            )
            for m in self.meta
            if m.typ == calamine.SheetTypeEnum.WorkSheet
        ]

    def _sheet(self, name: str) -> Any:
        if self._loaded is None or self._loaded[0] != name:
            self._loaded = None  # let the previous sheet go before loading the next
            try:
                self._loaded = (name, self.book.get_sheet_by_name(name))
            except _READ_ERRORS as exc:
                raise _damaged(self.path, exc) from None
        return self._loaded[1]

    def _merged(self, name: str) -> list[MergedRange] | None:
        if self._loaded is None or self._loaded[0] != name:
            return None
        ranges = self._loaded[1].merged_cell_ranges
        if ranges is None:
            return None
        return [MergedRange(r1 + 1, c1, r2 + 1, c2) for (r1, c1), (r2, c2) in ranges]

    def _sheet_marks(self, name: str) -> tuple[Marks, dt.datetime]:
        if self._marks is None:
            try:
                self._marks = mark_reader(self.path, self.kind)
            except (*_READ_ERRORS, xlrd.XLRDError, struct.error, IndexError) as exc:
                raise _damaged(self.path, exc) from None
        try:
            if self._marked is None or self._marked[0] != name:
                self._marked = None
                self._marked = (name, self._marks.marks(name))
            return self._marked[1], self._marks.epoch
        except (*_READ_ERRORS, xlrd.XLRDError, struct.error, IndexError) as exc:
            raise _damaged(self.path, exc) from None

    def _rows(self, name: str) -> Iterator[Row]:
        marks, epoch = self._sheet_marks(name)  # before calamine loads the sheet: one at a time in memory
        sheet = self._sheet(name)
        start = sheet.start
        if start is None:
            return
        first_row, first_col = start
        rows = iter(sheet.iter_rows())
        first = next(rows, None)
        if first is None:
            return
        # iter_rows() pads the rows above the data (python-calamine 0.9: it starts at row 1) but not the
        # columns left of it (it starts at the first used column). Should a version start at the first
        # used row instead, its first row is non-empty — the top row of the data always is.
        number = 1 if first_row > 0 and not any(v != "" for v in first) else first_row + 1
        try:
            cells = clean_cells(first, first_col)
            if marks and number in marks:
                cells = _apply_marks(cells, marks[number], epoch)
            if cells:
                yield number, cells
            for values in rows:
                number += 1
                cells = clean_cells(values, first_col)
                if marks and number in marks:
                    cells = _apply_marks(cells, marks[number], epoch)
                if cells:
                    yield number, cells
        except _READ_ERRORS as exc:
            raise _damaged(self.path, exc) from None


# -- what calamine does not tell: error cells and meaningful number formats ---------------------------

Marks = dict[int, dict[int, object]]  # row number -> column index -> numfmt kind or FormulaError


def _apply_marks(cells: list[object], row_marks: dict[int, object], epoch: dt.datetime) -> list[object]:
    for col, mark in row_marks.items():
        if isinstance(mark, FormulaError):
            if col >= len(cells):
                cells.extend([None] * (col + 1 - len(cells)))
            cells[col] = mark
        elif col < len(cells):
            cells[col] = _render(cells[col], mark, epoch)  # type: ignore[arg-type]
    while cells and cells[-1] is None:
        cells.pop()
    return cells


def _render(value: object, kind: str, epoch: dt.datetime) -> object:
    """``numfmt.render``, also for a date-formatted number the reader left as a serial."""
    if kind != PERCENT and value.__class__ in (int, float):
        value = _date(value, epoch, False)  # type: ignore[arg-type]
    return render(value, kind)


class MarkReader:
    """Marks of the sheets of one workbook, by sheet name (an empty dict when there are none)."""

    epoch = _EPOCH_1900

    def marks(self, name: str) -> Marks:
        return {}


def mark_reader(path: Path, kind: str) -> MarkReader:
    if kind == "xlsx":
        return XlsxMarks(path)
    if kind == "xls":
        return XlsMarks(path)
    if kind == "ods":
        return OdsMarks(path)
    return MarkReader()


_VALUE = re.compile(rb"<(?:[\w.-]+:)?v>([^<]*)</(?:[\w.-]+:)?v>")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class XlsxMarks(MarkReader):
    """Error cells and cells in a percent/month/year style, found by a regular expression over the
    worksheet XML (the cell tags only; calamine reads the values). About 0.1 s for 60 MB of XML."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as archive:
            self.parts = xlsx_sheet_parts(archive)
            self.kinds = xlsx_style_kinds(archive)
            self.epoch = _EPOCH_1904 if xlsx_date1904(archive) else _EPOCH_1900
        marked = [str(i).encode() for i, k in enumerate(self.kinds) if k in _MARKED_KINDS]
        alternatives = [rb"""t\s*=\s*["']e["']"""]
        if marked:
            alternatives.append(rb"""s\s*=\s*["'](?:""" + b"|".join(marked) + rb""")["']""")
        body = b"(?:" + b"|".join(alternatives) + b")"
        # The attribute, not the tag: a literal first character makes the scan ~10x faster. Writers
        # separate attributes by one space; XML with other whitespace in it gets the general pattern.
        self._spaced = re.compile(b" " + body)
        self._general = re.compile(rb"\s" + body)
        self.has_marked_styles = bool(marked)

    def marks(self, name: str) -> Marks:
        part = self.parts.get(name)
        if part is None:
            return {}
        with zipfile.ZipFile(self.path) as archive:
            try:
                data = archive.read(part)
            except KeyError:
                return {}
        if not self.has_marked_styles and b'"e"' not in data and b"'e'" not in data:
            return {}  # no error cell (a plain substring test: ~0.01 s for 60 MB)
        pattern = self._general if b"\t" in data or data.count(b"\n") > 2 else self._spaced
        marks: Marks = {}
        for match in pattern.finditer(data):
            found = self._cell_mark(data, match.start(), match.end(), name)
            if found is not None:
                row, column, mark = found
                marks.setdefault(row, {})[column] = mark
        # A formatted column marks every row alike: keep one dict per distinct row of marks.
        distinct: dict[tuple[tuple[int, object], ...], dict[int, object]] = {}
        for number, row_marks in marks.items():
            marks[number] = distinct.setdefault(tuple(row_marks.items()), row_marks)
        return marks

    def _cell_mark(self, data: bytes, at: int, after: int, name: str) -> tuple[int, int, object] | None:
        """(row, column, mark) of the cell whose tag holds the attribute found at ``at``."""
        start = data.rfind(b"<", 0, at)
        end = data.find(b">", after)
        if start < 0 or end < 0 or not _CELL_TAG.match(data, start):
            return None  # the attribute of a row or another element
        ref = _R_ATTR.search(data, start, end)
        if ref is None:
            raise FileRejected(
                f"{self.path.name}: a cell of sheet {name!r} has no position (r=) in the worksheet "
                f"XML, which this reader cannot place; {SAVE_AS}"
            )
        mark: object
        if _T_ERROR.search(data, start, end):
            if data[end - 1 : end] == b"/":
                return None  # an error cell without a value
            close = _CELL_END.search(data, end)
            value = _VALUE.search(data, end, close.start() if close else len(data))
            if value is None:
                return None
            text = value.group(1).decode()
            mark = error_of_text(text) or FormulaError(text)
        else:
            style = _S_ATTR.search(data, start, end)
            if style is None:
                return None
            mark = self.kinds[int(style.group(1))]
        letters = ref.group(1).decode().upper()
        column = _COLUMNS.get(letters)
        if column is None:
            column = _column_index(letters)
        return int(ref.group(2)), column, mark


_CELL_TAG = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
_R_ATTR = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{1,3})(\d+)["']""")
_S_ATTR = re.compile(rb"""\bs\s*=\s*["'](\d+)["']""")
_T_ERROR = re.compile(rb"""\bt\s*=\s*["']e["']""")


def _rels(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part) for ``part`` (e.g. ``xl/workbook.xml``)."""
    folder, _, base = part.rpartition("/")
    rels_path = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
    try:
        root = fromstring(archive.read(rels_path))
    except KeyError:
        return {}
    out = {}
    for rel in root:
        target = rel.get("Target", "")
        if target.startswith("/"):
            target = target[1:]
        elif folder:
            target = f"{folder}/{target}"
        parts: list[str] = []
        for piece in target.split("/"):
            if piece == "..":
                if parts:
                    parts.pop()
            elif piece and piece != ".":
                parts.append(piece)
        out[rel.get("Id", "")] = (rel.get("Type", ""), "/".join(parts))
    return out


def _workbook_part(archive: zipfile.ZipFile) -> str:
    for _, (kind, target) in _rels(archive, "").items():
        if kind.endswith("/officeDocument"):
            return target
    return "xl/workbook.xml"


def xlsx_sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet name -> its part in the zip (``xl/worksheets/sheet1.xml``)."""
    workbook = _workbook_part(archive)
    rels = _rels(archive, workbook)
    root = fromstring(archive.read(workbook))
    parts = {}
    for element in root.iter():
        if _local(element.tag) == "sheet":
            rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            if rid in rels:
                parts[element.get("name", "")] = rels[rid][1]
    return parts


def xlsx_date1904(archive: zipfile.ZipFile) -> bool:
    root = fromstring(archive.read(_workbook_part(archive)))
    for element in root.iter():
        if _local(element.tag) == "workbookPr":
            return element.get("date1904", "").lower() in ("1", "true")
    return False


def xlsx_style_kinds(archive: zipfile.ZipFile) -> list[str | None]:
    """``numfmt`` kind of each cell format (``cellXfs`` entry, the ``s`` of a cell), by index."""
    workbook = _workbook_part(archive)
    styles = next((t for k, t in _rels(archive, workbook).values() if k.endswith("/styles")), "xl/styles.xml")
    try:
        root = fromstring(archive.read(styles))
    except KeyError:
        return []
    codes: dict[int, str] = {}
    kinds: list[str | None] = []
    for element in root:
        tag = _local(element.tag)
        if tag == "numFmts":
            for fmt in element:
                with contextlib.suppress(ValueError):
                    codes[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
        elif tag == "cellXfs":
            for xf in element:
                try:
                    fmt_id = int(xf.get("numFmtId", "0"))
                except ValueError:
                    fmt_id = 0
                kinds.append(format_kind(fmt_id, codes.get(fmt_id)))
    return kinds


# BIFF records of an error result: FORMULA (BIFF2-8 ids 0x0006/0x0206/0x0406) whose 8-byte result is
# 02 00 <code> .. .. .. FF FF, and BOOLERR (0x0205) with its error flag set. A match may be a false
# alarm (bytes inside another record); it only makes xlrd look at the sheets.
_BIFF_ERROR = re.compile(
    rb"[\x06][\x00\x02\x04].{2}.{6}\x02.[\x00\x07\x0f\x17\x1d\x24\x2a].{3}\xff\xff"
    rb"|\x05\x02[\x08\x09]\x00.{6}[\x00\x07\x0f\x17\x1d\x24\x2a]\x01",
    re.DOTALL,
)


class XlsMarks(MarkReader):
    """Error cells and cells in a percent/month/year format of an .xls, read with xlrd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_sheet: dict[str, Marks] | None = None

    def marks(self, name: str) -> Marks:
        if self._by_sheet is None:
            self._by_sheet = self._read()
        return self._by_sheet.get(name, {})

    def _read(self) -> dict[str, Marks]:
        book = xlrd.open_workbook(str(self.path), formatting_info=True, on_demand=True)
        try:
            self.epoch = _EPOCH_1904 if book.datemode else _EPOCH_1900
            kinds: dict[int, str] = {}
            for index, xf in enumerate(book.xf_list):
                if xf.is_style:
                    continue
                fmt = book.format_map.get(xf.format_key)
                kind = format_kind(xf.format_key, fmt.format_str if fmt is not None else None)
                if kind in _MARKED_KINDS:
                    kinds[index] = kind  # type: ignore[assignment]
            if not kinds and not _BIFF_ERROR.search(book.mem or b""):
                return {}
            out: dict[str, Marks] = {}
            for sheet_index, sheet_name in enumerate(book.sheet_names()):
                sheet = book.sheet_by_index(sheet_index)
                out[sheet_name] = _xls_sheet_marks(sheet, kinds)
                book.unload_sheet(sheet_index)
            return out
        finally:
            book.release_resources()


def _xls_sheet_marks(sheet: Any, kinds: dict[int, str]) -> Marks:
    marks: Marks = {}
    error_type = xlrd.XL_CELL_ERROR
    for r in range(sheet.nrows):
        types = sheet.row_types(r)
        xfs = sheet._cell_xf_indexes[r] if kinds else ()
        row: dict[int, object] = {}
        for c, cell_type in enumerate(types):
            if cell_type == error_type:
                code = sheet.cell_value(r, c)
                row[c] = FormulaError(xlrd.error_text_from_code.get(code, f"#ERROR{code}"))
            elif kinds and c < len(xfs) and xfs[c] in kinds:
                row[c] = kinds[xfs[c]]
        if row:
            marks[r + 1] = row
    return marks


_ODS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODS_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
_ODS_NUMBER = "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


class OdsMarks(MarkReader):
    """Percentage cells, dates in a month/year data style and error cells of an .ods (content.xml)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_sheet: dict[str, Marks] | None = None

    def marks(self, name: str) -> Marks:
        if self._by_sheet is None:
            with zipfile.ZipFile(self.path) as archive:
                self._by_sheet = _OdsScan(archive).sheets if _ods_may_have_marks(archive) else {}
        return self._by_sheet.get(name, {})


_ODS_DATE_STYLE = re.compile(rb"<number:date-style\b.*?</number:date-style>", re.DOTALL)
_ODS_DAY_OR_TIME = re.compile(rb"<number:(?:day|hours|minutes|seconds)\b")


def _month_date_styles(xml: bytes) -> bool:
    """Whether ``xml`` defines a date style showing a year but no day (a month or a year)."""
    return any(
        b"<number:year" in block and not _ODS_DAY_OR_TIME.search(block)
        for block in _ODS_DATE_STYLE.findall(xml)
    )


def _ods_may_have_marks(archive: zipfile.ZipFile) -> bool:
    """A quick look (substring tests over the streamed XML) before parsing content.xml cell by cell,
    which takes seconds for a large sheet: is there a percentage or error cell, or a date cell and a
    month/year date style?"""
    try:
        month_styles = _month_date_styles(archive.read("styles.xml"))
    except KeyError:
        month_styles = False
    has_date = False
    head = b""  # content.xml up to its body: the automatic styles
    tail = b""
    with archive.open("content.xml") as source:
        while chunk := source.read(1 << 20):
            window = tail + chunk
            if head is not None:
                head += chunk
                body = head.find(b"<office:body")
                if body >= 0 or len(head) > 64 << 20:
                    month_styles = month_styles or _month_date_styles(head[:body] if body >= 0 else head)
                    head = None  # type: ignore[assignment]
            if b'value-type="percentage"' in window or b'value-type="error"' in window:
                return True
            has_date = has_date or b'value-type="date"' in window
            tail = window[-64:]
    if head is not None:
        month_styles = month_styles or _month_date_styles(head)
    return has_date and month_styles


class _OdsScan:
    TABLE = _q(_ODS_TABLE, "table")
    ROW = _q(_ODS_TABLE, "table-row")
    COLUMN = _q(_ODS_TABLE, "table-column")
    CELLS = (_q(_ODS_TABLE, "table-cell"), _q(_ODS_TABLE, "covered-table-cell"))
    NAME = _q(_ODS_TABLE, "name")
    ROWS_REPEATED = _q(_ODS_TABLE, "number-rows-repeated")
    COLUMNS_REPEATED = _q(_ODS_TABLE, "number-columns-repeated")
    STYLE_NAME = _q(_ODS_TABLE, "style-name")
    DEFAULT_STYLE = _q(_ODS_TABLE, "default-cell-style-name")
    VALUE_TYPE = _q(_ODS_OFFICE, "value-type")
    CALC_VALUE_TYPE = _q(_CALCEXT, "value-type")
    STYLE = _q(_ODS_STYLE, "style")
    DATE_STYLE = _q(_ODS_NUMBER, "date-style")

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.data_kinds: dict[str, str | None] = {}  # date data style -> MONTH / YEAR / None
        self.cell_styles: dict[str, tuple[str | None, str | None]] = {}  # -> (data style, parent)
        self._kinds: dict[str | None, str | None] = {None: None}
        self.sheets: dict[str, Marks] = {}
        with contextlib.suppress(KeyError), archive.open("styles.xml") as source:
            for _, element in iterparse(source):
                self._style(element)
        with archive.open("content.xml") as source:
            self._content(source)

    def _style(self, element: Element) -> None:
        tag = element.tag
        if tag == self.DATE_STYLE:
            parts = {_local(child.tag) for child in element}
            if parts & {"day", "day-of-week", "hours", "minutes", "seconds"}:
                kind = None
            elif "year" in parts:
                kind = MONTH if "month" in parts else YEAR
            else:
                kind = None
            self.data_kinds[element.get(_q(_ODS_STYLE, "name"), "")] = kind
        elif tag == self.STYLE and element.get(_q(_ODS_STYLE, "family")) == "table-cell":
            self.cell_styles[element.get(_q(_ODS_STYLE, "name"), "")] = (
                element.get(_q(_ODS_STYLE, "data-style-name")),
                element.get(_q(_ODS_STYLE, "parent-style-name")),
            )

    def _date_kind(self, style: str | None) -> str | None:
        if style not in self._kinds:
            kind = None
            name, seen = style, set()
            while name is not None and name not in seen:
                seen.add(name)
                data, parent = self.cell_styles.get(name, (None, None))
                if data is not None:
                    kind = self.data_kinds.get(data)
                    break
                name = parent
            self._kinds[style] = kind
        return self._kinds[style]

    def _content(self, source: BinaryIO) -> None:
        marks: Marks = {}
        columns: list[tuple[int, str | None]] = []  # (first column of a run, its default cell style)
        width = 0
        number = 0
        stack: list[Element] = []
        for event, element in iterparse(source, events=("start", "end")):
            tag = element.tag
            if event == "start":
                stack.append(element)
                if tag == self.TABLE:
                    marks, columns, width, number = {}, [], 0, 0
                    self.sheets[element.get(self.NAME, "")] = marks
                continue
            stack.pop()
            if tag == self.COLUMN:
                columns.append((width, element.get(self.DEFAULT_STYLE)))
                width += int(element.get(self.COLUMNS_REPEATED, "1"))
            elif tag == self.ROW:
                repeat = int(element.get(self.ROWS_REPEATED, "1"))
                row = self._row(element, columns, element.get(self.DEFAULT_STYLE))
                if row:
                    for offset in range(min(repeat, 1 << 16)):
                        marks[number + 1 + offset] = row
                number += repeat
                if stack:
                    stack[-1].remove(element)  # finished rows must not pile up in the tree
            elif tag in (self.STYLE, self.DATE_STYLE):
                self._style(element)

    def _row(
        self, element: Element, columns: list[tuple[int, str | None]], row_style: str | None
    ) -> dict[int, object]:
        row: dict[int, object] = {}
        column = 0
        for cell in element:
            if cell.tag not in self.CELLS:
                continue
            repeat = int(cell.get(self.COLUMNS_REPEATED, "1"))
            mark: object = None
            if cell.get(self.CALC_VALUE_TYPE) == "error":
                text = "".join(cell.itertext()).strip()
                mark = error_of_text(text) or FormulaError(text or "#ERROR")
            else:
                value_type = cell.get(self.VALUE_TYPE)
                if value_type == "percentage":
                    mark = PERCENT
                elif value_type == "date":
                    style = cell.get(self.STYLE_NAME) or row_style or _column_style(columns, column)
                    mark = self._date_kind(style)
            if mark is not None:
                for offset in range(min(repeat, 1 << 14)):
                    row[column + offset] = mark
            column += repeat
        return row


def _column_style(columns: list[tuple[int, str | None]], column: int) -> str | None:
    if not columns:
        return None
    at = bisect.bisect_right([first for first, _ in columns], column) - 1
    return columns[at][1] if at >= 0 else None


_SUFFIXES = {
    "xlsx": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "xls": (".xls",),
    "xlsb": (".xlsb",),
    "ods": (".ods",),
}


def _open_calamine(path: Path, kind: str) -> Any:
    """Open with calamine, which picks its parser by file extension: a misnamed file (an xlsx called
    .xls) is opened through a correctly named symlink, removed again once calamine holds the file."""
    if path.suffix.lower() in _SUFFIXES[kind]:
        return calamine.CalamineWorkbook.from_path(str(path))
    with tempfile.TemporaryDirectory(prefix="entgraph-read-") as tmp:
        alias = Path(tmp) / f"book{_SUFFIXES[kind][0]}"
        try:
            alias.symlink_to(path.resolve())
        except OSError:  # no symlinks here: let calamine read a copy in memory (detects by content)
            with path.open("rb") as f:
                return calamine.CalamineWorkbook.from_filelike(f)
        return calamine.CalamineWorkbook.from_path(str(alias))


# -- streaming xlsx ----------------------------------------------------------------------------------


class SharedStrings:
    """An xlsx shared-string table kept as one UTF-8 buffer plus offsets (~30 bytes per string less
    than a list of ``str``), parsed without keeping the XML tree."""

    def __init__(self, source: BinaryIO) -> None:
        self._text = bytearray()
        self._ends = array("Q", [0])
        root: Element | None = None
        for event, node in iterparse(source, events=("start", "end")):
            if event == "start":
                if root is None:
                    root = node
                continue
            if node.tag == _SI:
                self._add(_string_item(node))
                root.clear()  # type: ignore[union-attr]

    def _add(self, text: str) -> None:
        self._text += text.encode()
        self._ends.append(len(self._text))

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, index: int) -> str:
        ends = self._ends
        return self._text[ends[index] : ends[index + 1]].decode()


def _string_item(node: Element) -> str:
    """The text of an ``<si>``/``<is>`` element: plain ``<t>`` or rich-text runs, phonetic hints left out."""
    t = node.find(_T)
    text = (t.text or "") if t is not None else "".join(r.findtext(_T) or "" for r in node.iterfind(_R))
    if "_x" in text:
        text = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


class _CompactExcelReader(ExcelReader):
    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            with self.archive.open(part.PartName[1:]) as source:
                self.shared_strings = SharedStrings(source)  # type: ignore[assignment]


class XlsxStream:
    """A large xlsx read row by row: memory does not grow with the number of rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("rb")
        try:
            reader = _CompactExcelReader(self._file, read_only=True, data_only=True)
            reader.read()
        except _READ_ERRORS as exc:
            self._file.close()
            raise _damaged(path, exc) from None
        self.book = reader.wb
        self.strings = reader.shared_strings
        self._epoch = self.book.epoch
        # Styles whose numbers are not plain numbers: dates (openpyxl's reading of the format codes,
        # plus the built-in ids it does not know, such as zh-CN 57 yyyy"年"m"月"), and the percent,
        # month and year formats that numfmt renders. Same classification as the calamine overlay.
        kinds = xlsx_style_kinds(self.book._archive)
        self._kinds = {str(i): k for i, k in enumerate(kinds) if k in _MARKED_KINDS}
        self._date_styles = {str(i) for i in self.book._date_formats}
        self._date_styles |= {str(i) for i, k in enumerate(kinds) if k in (DATE, MONTH, YEAR)}
        self._special_styles = self._date_styles | set(self._kinds)
        self._duration_styles = {str(i) for i in self.book._timedelta_formats}
        self._dates: dict[tuple[str, str], object] = {}

    def sheets(self) -> list[Sheet]:
        return [
            Sheet(
                ws.title,
                lambda ws=ws: self._rows(ws),
                reader="xlsx-stream",
                hidden=ws.sheet_state != "visible",
            )
            for ws in self.book.worksheets
        ]

    def _rows(self, ws: Any) -> Iterator[Row]:
        try:
            with self.book._archive.open(ws._worksheet_path) as source:
                yield from self._parse(source)
        except _READ_ERRORS as exc:
            raise _damaged(self.path, exc) from None

    def _parse(self, source: BinaryIO) -> Iterator[Row]:
        # Only "start" events (half the events of start+end): a row is complete once the next one starts,
        # and the last one once the stream ends. The events are taken straight off the parser's queue
        # where CPython has one (read_events() costs a generator step per cell), else via read_events().
        parser = XMLPullParser(events=("start",))
        queue: deque[Any] | None = getattr(parser, "_events_queue", None)
        if not isinstance(queue, deque):
            queue = None
        events: deque[Any] = queue if queue is not None else deque()
        pop = events.popleft
        sheet_data: Element | None = None
        pending: Element | None = None
        number = 0
        while chunk := source.read(1 << 16):
            parser.feed(chunk)
            if queue is None:
                events.extend(parser.read_events())
            elif events and isinstance(events[-1], Exception):
                raise events.pop()  # XMLPullParser queues a parse error instead of raising it
            while events:
                element = pop()[1]
                tag = element.tag
                if tag == _ROW:
                    if pending is not None:
                        number, cells = self._row(pending, number)
                        pending.clear()
                        if cells:
                            yield number, cells
                    pending = element
                    if sheet_data is not None:
                        sheet_data.clear()  # detach finished rows, or they pile up (~80 bytes each)
                elif tag == _SHEET_DATA:
                    sheet_data = element
        parser.close()
        if pending is not None:
            number, cells = self._row(pending, number)
            if cells:
                yield number, cells

    def _row(self, element: Element, previous: int) -> tuple[int, list[object]]:  # noqa: PLR0912, PLR0915
        # One flat loop on purpose: it runs for every cell of a large file.
        r = element.get("r")
        number = int(r) if r else previous + 1
        cells: list[object] = []
        column = -1
        columns = _COLUMNS
        dates = self._dates
        strings = self.strings
        compact = isinstance(strings, SharedStrings)
        if compact:
            blob, ends = strings._text, strings._ends
        for cell in element:
            ref = cell.get("r")
            if ref:
                letters = ref.rstrip(_DIGITS)
                column = columns.get(letters, -1)
                if column < 0:
                    column = _column_index(letters)
            else:
                column += 1
            kind = cell.get("t", "n")
            value: object
            if kind == "inlineStr":
                inline = cell.find(_IS)
                value = _string_item(inline) if inline is not None else None
            else:
                text = cell.findtext(_V)
                if not text:
                    continue
                if kind == "n":
                    style = cell.get("s")
                    if style and style in self._special_styles:
                        key = (text, style)
                        value = dates.get(key)
                        if value is None:
                            if len(dates) > 100_000:
                                dates.clear()
                            value = dates[key] = self._special(text, style)
                    elif "." in text or "E" in text or "e" in text:
                        value = _number(text)
                    else:
                        value = int(text)
                elif kind == "s":
                    index = int(text)
                    value = blob[ends[index] : ends[index + 1]].decode() if compact else strings[index]
                elif kind == "b":
                    value = text == "1"
                elif kind == "d":
                    value = _date(dt.datetime.fromisoformat(text), self._epoch, False)
                    style = cell.get("s")
                    if style and style in self._kinds:
                        value = render(value, self._kinds[style])
                elif kind == "e":  # a formula's error result, such as #N/A
                    value = FormulaError(text)
                else:  # "str": a formula's text result
                    value = text
            if value is None or value == "":
                continue
            if column >= len(cells):
                cells.extend([None] * (column - len(cells) + 1))
            cells[column] = value
        return number, cells

    def _special(self, text: str, style: str) -> object:
        kind = self._kinds.get(style)
        if kind == PERCENT:
            return percent_text(_number(text))
        value = _date(_number(text), self._epoch, style in self._duration_styles)
        return render(value, kind) if kind else value


_COLUMNS: dict[str, int] = {}


_DIGITS = "0123456789"


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    _COLUMNS[letters] = index - 1
    return index - 1


def _number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        value = float(text)
        if value.is_integer() and -_EXACT_INT < value < _EXACT_INT:
            return int(value)
        return value
    return int(text)


def _date(value: float | dt.datetime, epoch: dt.datetime, duration: bool) -> object:
    if not isinstance(value, dt.datetime):
        try:
            value = from_excel(value, epoch, timedelta=duration)
        except (OverflowError, ValueError):
            return "#VALUE!"
    if isinstance(value, dt.datetime) and not (
        value.hour or value.minute or value.second or value.microsecond
    ):
        return value.date()
    return value
