"""CSV and other delimited text, streamed line by line.

Encoding: a UTF-16 byte-order mark is refused; otherwise UTF-8 (with or without BOM) if the first
256 KB decode as UTF-8, else the encoding of the first line holding non-ASCII text — UTF-8 if it
decodes as UTF-8, else GB18030 (a superset of GBK and GB2312, what Excel and WPS write for "CSV" on a
Chinese Windows). One encoding per file: when the file is opened every line is checked, and a file
mixing encodings is refused whole, naming the first line in the other encoding — a line that is not
valid UTF-8 in a UTF-8 file, or a line of UTF-8 Chinese in a GB18030 file (GB18030 would decode it
without an error, into mojibake such as 绂忓缓 for 福建). Text full of control characters is taken for
a binary file.

Each physical line is decoded on its own (a newline byte never occurs inside a UTF-8 or GB18030
character) and fed to the ``csv`` module, which joins lines when a quoted field holds a newline. Row
numbers are those a spreadsheet shows when it opens the file: one per record, a record whose quoted
cell holds line breaks being one row (messages about the text itself — an unclosed quote, a line in
another encoding — name the physical line, as a text editor shows it).
Delimiter: whichever of ``,`` ``\\t`` ``;`` ``|`` splits the first lines into the most consistent
number (>1) of fields. A cell holding exactly a formula error as Excel or LibreOffice writes it into a
CSV (``#DIV/0!``, ``#N/A``, ``Err:502``) reads as ``FormulaError``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from entgraph.loaders.readers.base import FileRejected, Row, Sheet, error_of_text

SAMPLE_BYTES = 256 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
DELIMITERS = (",", "\t", ";", "|")
SNIFF_RECORDS = 200
MAX_RECORD_LINES = 1000  # a quoted cell spanning more lines is an unclosed quote
SAVE_AS_TEXT = "save the file as UTF-8 or GBK/GB18030 CSV and upload again"
_BOM8 = codecs.BOM_UTF8
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1a")  # \x1a: the DOS end-of-file mark some exports add
# Unicode's control characters (category Cc: U+0000-001F, U+007F-009F) less the allowed ones, as one
# pattern: counting them with a regex is ~50x faster than asking unicodedata character by character
_CONTROLS = re.compile(
    "["
    + "".join(
        re.escape(chr(c)) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in _ALLOWED_CONTROLS
    )
    + "]"
)


class TextTable:
    """How to read one delimited text file; ``sheet()`` gives the Sheet that streams it."""

    def __init__(self, path: Path, head: bytes) -> None:
        self.path = path
        self.newline = b"\n" if b"\n" in head or b"\r" not in head else b"\r"
        self.encoding, sample = _choose_encoding(path, head, self.newline)
        _refuse_non_tables(path, sample)
        # A sample of plain ASCII says nothing: the file's first non-ASCII line then decides.
        self.encoding = check_encoding(path, self.encoding, self.newline, decided=not head.isascii())
        if self.newline == b"\r":
            sample = sample.replace("\r", "\r\n")
        self.delimiter = sniff_delimiter(sample)

    def sheet(self) -> Sheet:
        return Sheet(self.path.name, self.rows, reader="csv")

    def rows(self) -> Iterator[Row]:
        name = self.path.name
        with self.path.open("rb") as f:
            lines = _decoded_lines(f, self.encoding, self.newline, name)
            reader = csv.reader(lines, delimiter=self.delimiter, strict=False)
            done = 0  # lines consumed by the records read so far
            record: list[str] = []
            start = 0
            try:
                for number, record in enumerate(reader, start=1):  # one row per record, as Excel counts
                    start = done + 1
                    done = reader.line_num
                    if done - start >= MAX_RECORD_LINES:
                        raise _unclosed_quote(name, start)
                    cells: list[object] = [_cell(value) for value in record]
                    while cells and cells[-1] is None:
                        cells.pop()
                    if cells:
                        yield number, cells
            except csv.Error as exc:
                raise _unclosed_quote(name, done + 1, str(exc)) from None
            # At the end of the file csv accepts a quoted field that was never closed: it then holds
            # every line after the quote, newlines included.
            if done > start and record and record[-1].endswith(("\n", "\r")):
                raise _unclosed_quote(name, start)


def _cell(value: str) -> object:
    if not value:
        return None
    if value[0] == "#" or value[0] == "E":
        return error_of_text(value) or value
    return value


def _unclosed_quote(name: str, line: int, detail: str = "") -> FileRejected:
    detail = f" ({detail})" if detail else ""
    return FileRejected(
        f'{name}: the record starting on line {line} cannot be read as CSV{detail}: a quote (") is opened '
        "but never closed; fix that line and upload again"
    )


def _choose_encoding(path: Path, head: bytes, newline: bytes) -> tuple[str, str]:
    """The encoding to read the file with, and the decoded sample (whole lines only)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected(f"{path.name} is UTF-16 text; {SAVE_AS_TEXT}")
    complete = len(head) < SAMPLE_BYTES
    if not complete:  # the chunk may end half way through a line
        cut = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
        head = head[:cut] or head
    utf8 = "utf-8-sig" if head.startswith(_BOM8) else "utf-8"
    try:
        return utf8, codecs.getincrementaldecoder(utf8)().decode(head, final=complete)
    except UnicodeDecodeError:
        pass
    # Not all UTF-8: the first line with non-ASCII text says what the file was meant to be.
    encoding = None
    for number, raw in enumerate(head.split(newline), start=1):
        if raw.isascii():
            continue
        if _is_utf8(raw):
            encoding = utf8
        elif _is_gb18030(raw):
            encoding = "gb18030"
        else:
            raise FileRejected(
                f"{path.name} is neither UTF-8 nor GBK/GB18030 text, nor an Excel file (line {number} "
                f"cannot be read); {SAVE_AS_TEXT}"
            )
        break
    if encoding is None:  # pragma: no cover - an all-ASCII sample is valid UTF-8
        encoding = utf8
    return encoding, head.decode(encoding, "replace")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _utf8_chinese(raw: bytes) -> str | None:
    """The line as UTF-8 text if it is UTF-8 holding CJK text (three-byte characters), else None.

    GBK text passes strict UTF-8 decoding only by rare chance, and then mostly as two-byte (Latin,
    Greek, Cyrillic) characters; a line holding characters from U+0800 up is taken for UTF-8.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if any(ord(ch) >= 0x800 for ch in text) else None


def check_encoding(path: Path, encoding: str, newline: bytes = b"\n", *, decided: bool = True) -> str:
    """The file's encoding, after checking that every line is in it (the whole file is read once,
    ~2 s per million GBK lines); refuses a file mixing encodings. When not ``decided`` (the sample
    was plain ASCII), the first non-ASCII line decides: UTF-8 if it decodes as UTF-8, else GB18030."""
    name = path.name
    utf8 = encoding.startswith("utf")
    with path.open("rb") as f:
        for number, raw in enumerate(_raw_lines(f, newline), start=1):
            if raw.isascii():
                continue
            if not decided:
                decided = True
                utf8 = _is_utf8(raw)
                encoding = encoding if utf8 else "gb18030"
            if utf8:
                if _is_utf8(raw):
                    continue
                what = "GBK/GB18030 text" if _is_gb18030(raw) else "neither UTF-8 nor GBK/GB18030 text"
                shown = raw.decode("gb18030", "replace")
                raise _mixed(name, number, f"is {what} (“{_excerpt(shown)}”)", "UTF-8")
            text = _utf8_chinese(raw)
            if text is not None:
                mojibake = raw.decode("gb18030", "replace")
                raise _mixed(
                    name,
                    number,
                    f"is UTF-8 text (“{_excerpt(text)}”, which would load as “{_excerpt(mojibake)}”)",
                    "GBK/GB18030",
                )
            if not _is_gb18030(raw):
                raise _mixed(name, number, "is neither GBK/GB18030 nor UTF-8 text", "GBK/GB18030")
    return encoding


def _excerpt(text: str, length: int = 20) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _mixed(name: str, number: int, what: str, encoding: str) -> FileRejected:
    return FileRejected(
        f"{name}: line {number} {what} but the lines before it are {encoding}: the file mixes encodings "
        f"(rows pasted from another export?) or is damaged; {SAVE_AS_TEXT}"
    )


def _refuse_non_tables(path: Path, sample: str) -> None:
    if "\x00" in sample:
        raise FileRejected(
            f"{path.name} is a binary file (or UTF-16 text) rather than a CSV or Excel file; {SAVE_AS_TEXT}"
        )
    controls = len(_CONTROLS.findall(sample))
    if controls > max(2, len(sample) // 200):
        raise FileRejected(f"{path.name} is a binary file rather than a CSV or Excel file; {SAVE_AS_TEXT}")
    start = sample.lstrip("\ufeff \t\r\n")[:2000].lower()
    if start.startswith("<"):
        if "<html" in start or "<table" in start or "<!doctype html" in start:
            what = "a web page (HTML table) saved under a spreadsheet name"
        elif "urn:schemas-microsoft-com:office:spreadsheet" in start or "<workbook" in start:
            what = "an Excel 2003 XML spreadsheet"
        else:
            what = "an XML document"
        raise FileRejected(
            f"{path.name} is {what}; open it in Excel or WPS, save it as .xlsx and upload again"
        )


def sniff_delimiter(sample: str) -> str:
    """The delimiter among ``, \\t ; |`` giving the most records with the same field count (>1).

    That count must hold for at least half the non-empty records (title lines such as
    "2023年4月…信息表" have one field); ties go to the earlier delimiter in the list; a file no
    delimiter splits consistently is one column (``,``).
    """
    best: tuple[int, int, str] = (0, 0, ",")
    for delimiter in DELIMITERS:
        counts: Counter[int] = Counter()
        records = 0
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter, strict=False)
        try:
            for record in reader:
                if any(record):
                    records += 1
                    counts[len(record)] += 1
                if reader.line_num >= SNIFF_RECORDS:
                    break
        except csv.Error:  # the sample ends inside a quoted field: what was read still counts
            pass
        counts.pop(1, None)
        if counts:
            width, agreeing = max(counts.items(), key=lambda wn: (wn[1], wn[0]))
            if agreeing * 2 >= records and (agreeing, width) > best[:2]:
                best = (agreeing, width, delimiter)
    return best[2]


def _decoded_lines(f: BinaryIO, encoding: str, newline: bytes, name: str) -> Iterator[str]:
    decode = codecs.getdecoder(encoding)  # "utf-8-sig" drops the BOM from the first line only
    for number, raw in enumerate(_raw_lines(f, newline), start=1):
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith(newline):
            raise FileRejected(
                f"{name}: line {number} is longer than {MAX_LINE_BYTES // 2**20} MB, so this is not a usable "
                f"CSV; {SAVE_AS_TEXT}"
            )
        try:
            text = decode(raw)[0]
        except UnicodeDecodeError:
            label = "UTF-8" if encoding.startswith("utf") else "GBK/GB18030"
            raise FileRejected(
                f"{name}: line {number} is not valid {label} text although the lines before it are "
                f"(the file mixes encodings or is damaged); {SAVE_AS_TEXT}"
            ) from None
        yield text


def _raw_lines(f: BinaryIO, newline: bytes) -> Iterator[bytes]:
    if newline == b"\n":
        while line := f.readline(MAX_LINE_BYTES):
            yield line
        return
    pending = b""  # old Mac files: lines end in a bare CR
    while chunk := f.read(1 << 20):
        pending += chunk
        *lines, pending = pending.split(b"\r")
        for line in lines:
            yield line + b"\r"
        if len(pending) >= MAX_LINE_BYTES:
            yield pending
            return
    if pending:
        yield pending
