"""Readers on files as clerks' office software writes them: the corpus in tests/fixtures/office/
(LibreOffice-saved xlsx, xls, ods and CSV; see its README.md), plus generated files for what the corpus
cannot hold (sizes past the 256 KB encoding sample, sheets hidden by program).

Every workbook test runs on each reader that can read the file: calamine for all, and the streaming
xlsx reader (used for large files) for xlsx. Both must give the same cells.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from entgraph.loaders import normalise
from entgraph.loaders.readers import FileRejected, Sheet, base, open_table
from entgraph.loaders.readers import excel as excel_reader

OFFICE = Path(__file__).parent.parent / "fixtures" / "office"

# (file suffix, reader): every way a workbook in the corpus is read
WORKBOOK_READERS = [("xlsx", "calamine"), ("xlsx", "xlsx-stream"), ("xls", "calamine"), ("ods", "calamine")]
WORKBOOK_IDS = [f"{suffix}-{reader}" for suffix, reader in WORKBOOK_READERS]


def sheets_of(path: Path, reader: str, monkeypatch: pytest.MonkeyPatch) -> list[Sheet]:
    monkeypatch.setattr(excel_reader, "CALAMINE_MAX_SHEET_XML", 0 if reader == "xlsx-stream" else 64 << 20)
    sheets = open_table(path)
    assert {sheet.reader for sheet in sheets} == {reader}
    return sheets


def column(sheet: Sheet, index: int) -> list[object]:
    """Column ``index`` of the data rows (below the header row 1)."""
    return [cells[index] if index < len(cells) else None for n, cells in sheet.rows() if n > 1]


def error(code: str) -> object:
    return base.FormulaError(code)


# -- item 4: percentages -----------------------------------------------------------------------------

PERCENT_WORKBOOK = ["50%", "12.5%", "50%", "7%", 5, 0.5]
PERCENT_VALUES = [Decimal(50), Decimal("12.5"), Decimal(50), Decimal(7), Decimal(5), Decimal("0.5")]


@pytest.mark.parametrize(("suffix", "reader"), WORKBOOK_READERS, ids=WORKBOOK_IDS)
def test_percent_cells_read_as_the_percentage_shown(
    suffix: str, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.5 shown as 50% reaches normalisation as "50%", exactly like the text 50% typed by hand; a
    format with a quoted % sign (the value is already in percent) and a General 0.5 stay numbers."""
    [sheet] = sheets_of(OFFICE / f"percent-cells.{suffix}", reader, monkeypatch)
    values = column(sheet, 1)
    assert values == PERCENT_WORKBOOK
    assert [normalise.parse_percent(v) for v in values] == PERCENT_VALUES


def test_percent_cells_in_csv_are_the_text_shown() -> None:
    [sheet] = open_table(OFFICE / "percent-cells.csv")
    values = column(sheet, 1)
    assert values == ["50%", "12.5%", "50%", "7.00%", "5.0%", "0.5"]
    assert [normalise.parse_percent(v) for v in values] == PERCENT_VALUES


# -- item 6: months ----------------------------------------------------------------------------------

MONTH_WORKBOOK = [
    "2023-04",
    "2023-05",
    "2023-06",
    dt.date(2023, 7, 15),
    "2023",
    "2023年4月",
    dt.date(2023, 4, 1),
]


@pytest.mark.parametrize(("suffix", "reader"), WORKBOOK_READERS, ids=WORKBOOK_IDS)
def test_a_month_typed_into_a_date_cell_reads_as_the_month(
    suffix: str, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2023年4月 stored as the date 2023-04-01 with a yyyy"年"m"月" (or yyyy/m, mmm-yy) format is the
    month, not its first day; a date whose day the format merely hides (the 15th) stays a date, and a
    format showing only the year gives the year."""
    [sheet] = sheets_of(OFFICE / f"month-cells.{suffix}", reader, monkeypatch)
    values = column(sheet, 1)
    assert values == MONTH_WORKBOOK
    april = normalise.parse_period(values[0])
    assert (april.kind, april.start, april.end) == ("month", dt.date(2023, 4, 1), dt.date(2023, 4, 30))
    assert normalise.parse_period(values[0]) == normalise.parse_period(values[5])  # as typed as text
    assert normalise.parse_period(values[4]).kind == "year"


@pytest.mark.parametrize("reader", ["calamine", "xlsx-stream"])
def test_excel_built_in_formats_without_a_format_code(reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Excel (zh-CN) stores 2023年4月 as built-in format 57 with no format code in the file; both
    readers must know it (the streaming one used to give the serial number 45017)."""
    [sheet] = sheets_of(OFFICE / "zh-builtin-formats.xlsx", reader, monkeypatch)
    assert column(sheet, 1) == [
        "2023-04",
        dt.date(2023, 4, 1),
        "50%",
        "12.5%",
        dt.date(2023, 4, 1),
        "2023-04",
    ]


# -- item 8: formula errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "reader"), WORKBOOK_READERS, ids=WORKBOOK_IDS)
def test_formula_errors_are_error_values_not_blanks(
    suffix: str, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [sheet] = sheets_of(OFFICE / f"formula-errors.{suffix}", reader, monkeypatch)
    value_error = "Err:502" if suffix == "ods" else "#VALUE!"  # LibreOffice's own name in its own format
    assert column(sheet, 1) == [error("#DIV/0!"), error("#N/A"), error(value_error), error("#REF!"), 6]
    assert column(sheet, 2)[:2] == ["1/0", "VLOOKUP miss"]  # text stays text


def test_calamine_and_streaming_readers_agree_on_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    path = OFFICE / "formula-errors.xlsx"
    calamine = [list(s.rows()) for s in sheets_of(path, "calamine", monkeypatch)]
    streamed = [list(s.rows()) for s in sheets_of(path, "xlsx-stream", monkeypatch)]
    assert calamine == streamed


def test_formula_errors_exported_to_csv_are_error_values() -> None:
    """LibreOffice and Excel write a failed formula into a CSV as its error text."""
    [sheet] = open_table(OFFICE / "formula-errors.csv")
    assert column(sheet, 1) == [error("#DIV/0!"), error("#N/A"), error("Err:502"), error("#REF!"), "6"]


def test_formula_error_value() -> None:
    value = base.FormulaError("#DIV/0!")
    assert str(value) == "#DIV/0!" and value == base.FormulaError("#DIV/0!") and value != "#DIV/0!"
    assert not isinstance(value, str)  # never taken for text or for an empty cell


# -- item 5: hidden sheets ---------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "reader"), WORKBOOK_READERS, ids=WORKBOOK_IDS)
def test_hidden_sheets_say_so(suffix: str, reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sheets = sheets_of(OFFICE / f"hidden-sheet.{suffix}", reader, monkeypatch)
    assert [(s.name, s.hidden) for s in sheets] == [("说明", False), ("数据", False), ("旧数据", True)]


@pytest.mark.parametrize("reader", ["calamine", "xlsx-stream"])
def test_very_hidden_sheets_are_hidden_too(
    tmp_path: Path, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = openpyxl.Workbook()
    book.active.append(["a"])
    for state in ("hidden", "veryHidden"):
        sheet = book.create_sheet(state)
        sheet.append(["b"])
        sheet.sheet_state = state
    book.save(tmp_path / "very.xlsx")
    sheets = sheets_of(tmp_path / "very.xlsx", reader, monkeypatch)
    assert [s.hidden for s in sheets] == [False, True, True]


# -- item 9: CSV row numbers -------------------------------------------------------------------------


def test_csv_rows_are_numbered_as_the_spreadsheet_shows_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted cell holding line breaks is one row, as in Excel and LibreOffice: the CSV LibreOffice
    exported and the workbook it came from number their rows alike."""
    [csv_sheet] = open_table(OFFICE / "multiline-cell.csv")
    [xlsx_sheet] = sheets_of(OFFICE / "multiline-cell.xlsx", "calamine", monkeypatch)
    csv_rows = list(csv_sheet.rows())
    assert [n for n, _ in csv_rows] == [1, 2, 3, 5, 6]
    assert [n for n, _ in csv_rows] == [n for n, _ in xlsx_sheet.rows()]
    assert csv_rows[3] == (5, ["晋江市磁灶陶瓷有限公司", "晋江市磁灶镇\n大埔村\n3号", "300"])


# -- item 3 and 10: mixed encodings ------------------------------------------------------------------


def refusal(path: Path) -> str:
    with pytest.raises(FileRejected) as caught:
        for sheet in open_table(path):
            list(sheet.rows())
    return str(caught.value)


def test_a_gbk_file_with_utf8_lines_is_refused_naming_the_first() -> None:
    """GB18030 decodes UTF-8 bytes into mojibake (福建 -> 绂忓缓) without an error: the file must be
    refused, not loaded with wrong names."""
    message = refusal(OFFICE / "gbk-with-utf8-lines.csv")
    assert "line 5" in message and "UTF-8" in message and "GBK/GB18030" in message


def test_a_utf8_file_with_a_gbk_line_in_its_first_256_kb_names_the_line() -> None:
    message = refusal(OFFICE / "utf8-with-gbk-line.csv")
    assert "line 4" in message and "UTF-8" in message and "GBK/GB18030" in message


def test_mixed_encodings_are_refused_before_any_row_is_read(tmp_path: Path) -> None:
    """The whole file is checked when it is opened, so no row of a mixed file is ever loaded."""
    path = tmp_path / "mixed.csv"
    gbk_lines = "".join(f"晋江市第{i}鞋业有限公司,制造业,{i}\n" for i in range(20_000)).encode("gbk")
    assert len(gbk_lines) > 256 * 1024
    path.write_bytes(
        "纳税人名称,行业,实缴金额\n".encode("gbk") + gbk_lines + "福建省晋江市,纺织,1\n".encode()
    )
    with pytest.raises(FileRejected, match=r"line 20002 .*UTF-8"):
        open_table(path)


def test_a_real_gbk_file_is_not_taken_for_a_mixed_one(tmp_path: Path) -> None:
    """Random GB2312 text never reads as UTF-8 by chance often enough to refuse a good file."""
    rng = random.Random(16)
    hanzi = [
        bytes([hi, lo]).decode("gb2312", "replace") for hi in range(0xB0, 0xF8) for lo in range(0xA1, 0xFF)
    ]
    hanzi = [ch for ch in hanzi if len(ch) == 1 and ch != "\ufffd"]
    lines = ["纳税人名称,行业,实缴金额"]
    lines += [f"{''.join(rng.choices(hanzi, k=rng.randint(1, 12)))},制造业,{i}" for i in range(20_000)]
    path = tmp_path / "gbk.csv"
    path.write_bytes("\n".join(lines).encode("gbk") + b"\n")
    [sheet] = open_table(path)
    assert sum(1 for _ in sheet.rows()) == len(lines)


# -- item 10: .txt -----------------------------------------------------------------------------------


def test_a_txt_file_is_an_unsupported_format() -> None:
    message = refusal(OFFICE / "notes.txt")
    assert "unsupported format (.txt)" in message and ".xlsx" in message and ".csv" in message


# -- the corpus maker, with LibreOffice itself -------------------------------------------------------


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_files_libreoffice_writes_now_read_as_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freshly made by this machine's LibreOffice, the files still read as the committed corpus does."""
    spec = importlib.util.spec_from_file_location("make_corpus", OFFICE / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    source = tmp_path / "source.xlsx"
    for build, expected in [(maker.percent_book, PERCENT_WORKBOOK), (maker.month_book, MONTH_WORKBOOK)]:
        build(source)
        for target in ("xlsx", "xls", "ods"):
            made = maker.convert(source, target, tmp_path / target)
            [sheet] = sheets_of(made, "calamine", monkeypatch)
            assert column(sheet, 1) == expected, target


# -- the overlay over calamine: positions, column formats, rows holding only an error -----------------


@pytest.mark.parametrize(("suffix", "reader"), WORKBOOK_READERS, ids=WORKBOOK_IDS)
def test_formatted_columns_offset_tables_and_lone_errors(
    suffix: str, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formats set on whole columns (LibreOffice keeps them on the column, not the cells), a table
    starting in B3 under a title, a row holding nothing but an error, an error on a second sheet."""
    growth, totals = sheets_of(OFFICE / f"column-formats.{suffix}", reader, monkeypatch)
    rows = dict(growth.rows())
    assert rows[3] == [None, "企业名称", "所属期", "增速", "备注"]
    assert rows[4] == [None, "晋江市第1制造有限公司", "2023-01", "-25%"]
    assert rows[33] == [None, "晋江市第30制造有限公司", "2023-06", "47.5%"]
    assert sorted(rows) == [1, 3, *range(4, 34), 35]  # rows 2 and 34 are empty
    assert rows[35] == [None, None, None, None, error("#N/A")]
    assert list(totals.rows()) == [(1, [error("#DIV/0!")])]


def test_a_gbk_file_whose_first_256_kb_are_ascii_is_read_as_gbk(tmp_path: Path) -> None:
    """Codes and amounts first, Chinese names only far down: the first non-ASCII line decides."""
    path = tmp_path / "late.csv"
    ascii_rows = "".join(f"91350582MA2Y7B8X{i % 10}U,{i}\n" for i in range(15_000)).encode()
    assert len(ascii_rows) > 256 * 1024
    path.write_bytes(b"code,amount\n" + ascii_rows + "晋江市安海鞋业有限公司,1\n".encode("gbk"))
    [sheet] = open_table(path)
    assert list(sheet.rows())[-1] == (15_002, ["晋江市安海鞋业有限公司", "1"])


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("General", None),
        ("@", None),
        ("#,##0.00_ ;[Red]-#,##0.00 ", None),
        ("0.00E+00", None),
        ('0.00"万元"', None),
        ("0%", "percent"),
        ("0.0%;[Red]-0.0%", "percent"),
        ('0.0"%"', None),  # a quoted % sign: decoration, the value is already in percent
        ("0.0\\%", None),  # the same as LibreOffice writes it into an xls
        ('yyyy"年"m"月"', "month"),
        ("yyyy\\年m\\月", "month"),
        ('[DBNum1][$-804]yyyy"年"m"月"', "month"),
        ('e"年"m"月"', "month"),
        ("yyyy/m", "month"),
        ("mmm-yy", "month"),
        ("mmmm yyyy", "month"),
        ('yyyy"年"', "year"),
        ("yyyy-mm-dd", "date"),
        ('m"月"d"日"', "date"),
        ("[$-F800]dddd, mmmm dd, yyyy", "date"),
        ("h:mm", "date"),
        ("[h]:mm:ss", "date"),
        ("yyyy/m/d h:mm", "date"),
    ],
)
def test_format_kinds(code: str, kind: str | None) -> None:
    from entgraph.loaders.readers.numfmt import format_kind

    assert format_kind(200, code) == kind


def test_percent_text_keeps_every_digit() -> None:
    from entgraph.loaders.readers.numfmt import percent_text

    assert [percent_text(v) for v in (0.5, 0.125, 0.07, 1, -0.05, 1e-05, 0.1 + 0.2)] == [
        "50%",
        "12.5%",
        "7%",
        "100%",
        "-5%",
        "0.001%",
        "30.000000000000004%",
    ]
