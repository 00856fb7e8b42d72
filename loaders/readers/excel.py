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
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import zipfile
from array import array
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError, XMLPullParser, iterparse

import python_calamine as calamine
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from entgraph.loaders.readers.base import FileRejected, MergedRange, Row, Sheet, clean_cells
from entgraph.loaders.readers.formats import SAVE_AS

CALAMINE_MAX_SHEET_XML = 64 * 2**20

_NS = f"{{{SHEET_MAIN_NS}}}"
_SI, _T, _R, _ROW, _C, _V, _IS = (_NS + tag for tag in ("si", "t", "r", "row", "c", "v", "is"))
_SHEET_DATA = _NS + "sheetData"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_EXACT_INT = 2.0**53
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
        try:
            self.book = _open_calamine(path, kind)
            self.meta = list(self.book.sheets_metadata)
        except _READ_ERRORS as exc:
            raise _damaged(path, exc) from None
        self._loaded: tuple[str, Any] | None = None

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

    def _rows(self, name: str) -> Iterator[Row]:
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
            if cells:
                yield number, cells
            for values in rows:
                number += 1
                cells = clean_cells(values, first_col)
                if cells:
                    yield number, cells
        except _READ_ERRORS as exc:
            raise _damaged(self.path, exc) from None


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
        self._date_styles = {str(i) for i in self.book._date_formats}
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
                    if style and style in self._date_styles:
                        key = (text, style)
                        value = dates.get(key)
                        if value is None:
                            if len(dates) > 100_000:
                                dates.clear()
                            value = dates[key] = _date(
                                _number(text), self._epoch, style in self._duration_styles
                            )
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
                else:  # "str" (a formula's text result), "e" (an error such as #N/A)
                    value = text
            if value is None or value == "":
                continue
            if column >= len(cells):
                cells.extend([None] * (column - len(cells) + 1))
            cells[column] = value
        return number, cells


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
