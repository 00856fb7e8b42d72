"""Department files as clerks' office software writes them (issue 16): no silent wrong values, no silent
wrong links, and every row of a file accounted for.

The files are the committed corpus in ``tests/fixtures/office/`` (made with LibreOffice by
``make_value_files.py`` and ``make_corpus.py``; see the README there). Files named
``<what>.<dataset key>.<ext>`` are loaded as that catalog dataset (their names match its file
patterns); the readers' files, which carry generic headers, are loaded with ``OFFICE_SPEC`` below.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from entgraph.catalog.registry import Catalog, Feed
from entgraph.catalog.spec import DatasetSpec
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.identity.codes import is_valid_credit_code, normalise_code, org_code_of
from entgraph.loaders import cli as load_cli
from entgraph.loaders.columns import BoundColumn
from entgraph.loaders.engine import Loader, LoadResult
from entgraph.loaders.parsing import ParsedRow, parse_row
from entgraph.loaders.readers import FileRejected, open_table
from entgraph.resolution.export import LinkRow, export_links
from entgraph.resolution.mentions import mentions_of
from entgraph.resolution.resolver import Resolver

OFFICE = Path(__file__).resolve().parents[1] / "fixtures" / "office"
TABLE_SUFFIXES = {".xlsx", ".xls", ".ods", ".csv", ".txt"}
CATALOG = Catalog.load(entry_points=False)

# Generic headers of the readers' corpus files (percent-cells, month-cells, formula-errors, ...).
OFFICE_SPEC = DatasetSpec.model_validate(
    {
        "key": "office_corpus",
        "city": "晋江",
        "department": "测试",
        "title": "办公软件样例",
        "seed": "test",
        "seed_fields": ["企业名称"],
        "frequency": "monthly",
        "record_label": "OfficeSample",
        "columns": [
            {"header": "企业名称", "field": "name", "required": True, "role": "enterprise_name",
             "aliases": ["纳税人名称"]},
            {"header": "实缴金额", "field": "amount", "type": "amount", "role": "amount"},
            {"header": "占比", "field": "share", "type": "percent", "role": "rate"},
            {"header": "所属期", "field": "period", "type": "period", "role": "period"},
            {"header": "地址", "field": "address", "role": "address"},
            {"header": "行业", "field": "industry", "role": "industry_name"},
            {"header": "显示为", "field": "shown"},
            {"header": "公式", "field": "formula"},
        ],
    }
)  # fmt: skip


def corpus_files() -> list[Path]:
    return sorted(p for p in OFFICE.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)


def dataset_of(path: Path) -> str | None:
    """The catalog dataset a corpus file's name carries, else the generic spec."""
    return None if any(f".{spec.key}." in path.name for spec in CATALOG.specs) else OFFICE_SPEC.key


@pytest.fixture
def store(shared_server: EmbeddedServer) -> Iterator[FalkorDBStore]:
    opened = FalkorDBStore(f"office-{uuid.uuid4().hex[:10]}", server=shared_server, batch_size=50)
    yield opened
    opened.clear()
    opened.close()


@pytest.fixture
def loader(store: FalkorDBStore, tmp_path: Path) -> Loader:
    return Loader(store, Catalog([*CATALOG, Feed(OFFICE_SPEC)]), tmp_path / "reports")


def records(store: FalkorDBStore, file_name: str) -> dict[int, dict[str, Any]]:
    rows = store.read(
        "MATCH (r:SourceRecord {file_name: $f}) WHERE r.retired IS NULL RETURN r", {"f": file_name}
    )
    return {row["r"]["row"]: row["r"] for row in rows}


def issues(result: LoadResult) -> dict[int, list[tuple[str, str, str]]]:
    """Row -> (column, reason in English, outcome) of the report's issues sheet."""
    assert result.report_path is not None
    book = openpyxl.load_workbook(result.report_path, read_only=True)
    out: dict[int, list[tuple[str, str, str]]] = {}
    for row in book["问题 Issues"].iter_rows(min_row=2, values_only=True):
        if isinstance(row[1], int):
            out.setdefault(row[1], []).append((row[2], row[5], row[6]))
    return out


def summary(result: LoadResult) -> dict[str, Any]:
    assert result.report_path is not None
    book = openpyxl.load_workbook(result.report_path, read_only=True)
    return {row[0]: row[1] for row in book["汇总 Summary"].iter_rows(min_row=2, values_only=True)}


def links(store: FalkorDBStore, file_name: str) -> dict[int, tuple[str, str]]:
    rows = store.read(
        "MATCH (r:SourceRecord {file_name: $f})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.row AS row, e.id AS e, a.method AS m",
        {"f": file_name},
    )
    return {row["row"]: (row["e"], row["m"]) for row in rows}


def resolve(store: FalkorDBStore, tmp_path: Path) -> None:
    Resolver(store, Catalog([*CATALOG, Feed(OFFICE_SPEC)]), tmp_path / "model.json").run()


# -- item 1: codes a spreadsheet turned into numbers -------------------------------------------------

ROUNDED = "rounded-codes.jj_tax_net_receipts.xlsx"
ROUNDED_CSV = "rounded-codes-exported.jj_tax_net_receipts.csv"


def test_the_corpus_codes_are_what_the_test_needs() -> None:
    """Row 2's code rounds to another valid credit code, row 3's to one whose org code passes: both
    would link to some other enterprise if the rounded number were trusted."""
    sys.path.insert(0, str(OFFICE))
    try:
        import make_value_files as made
    finally:
        sys.path.remove(str(OFFICE))
    to_valid = str(int(float(f"{int(made.ROUNDS_TO_VALID):.14e}")))
    to_org = str(int(float(f"{int(made.ROUNDS_TO_ORG):.14e}")))
    assert is_valid_credit_code(to_valid) and to_valid != made.ROUNDS_TO_VALID
    assert not is_valid_credit_code(to_org) and org_code_of(to_org[8:17])
    assert not is_valid_credit_code(made.TYPO_ID) and org_code_of(made.TYPO_ID[8:17])


@pytest.mark.parametrize("name", [ROUNDED, ROUNDED_CSV])
def test_rounded_codes_are_flagged_kept_and_never_linked(
    name: str, loader: Loader, store: FalkorDBStore, tmp_path: Path
) -> None:
    result = loader.load(OFFICE / name)
    assert (result.rows_read, result.loaded, result.rejected) == (5, 5, 0)
    got = records(store, name)
    for row in (2, 3):
        record = got[row]
        assert record.get("taxpayer_id") is None
        kept = record["taxpayer_id_invalid"]
        assert kept.upper().startswith("9.135058215580") and "E+" in kept.upper()  # as the cell holds it
        assert "rounded_number:taxpayer_id" in record["flags"]
        [issue] = [i for i in issues(result)[row] if i[0] == "纳税人识别号"]
        assert "rounded" in issue[1] and issue[2].startswith("警告")
    spec = CATALOG.get("jj_tax_net_receipts").spec
    for row in (2, 3, 4):  # two rounded numbers, and a taxpayer id failing its check
        [mention] = mentions_of(spec, got[row])
        assert (mention.credit_code, mention.org_code) == (None, None), row
    assert "invalid_taxpayer_id:taxpayer_id" in got[4]["flags"]
    # a 15-digit old taxpayer id stored as a number is exact, but still a number: warned, still used
    assert got[6]["taxpayer_id"] == "350582155823474"
    if name.endswith(".xlsx"):  # (a CSV cell is always text)
        assert "numeric_code:taxpayer_id" in got[6]["flags"]

    resolve(store, tmp_path)
    linked = links(store, name)
    for row in (2, 3, 4):
        assert linked.get(row, (None, None))[1] not in {"credit_code", "org_code", "identifier"}, linked
    assert linked[5] == ("E-91350582MA2Y7B8X0W", "credit_code")
    assert linked[6][1] == "org_code"


def test_a_rounded_code_in_scientific_notation_is_no_code() -> None:
    assert normalise_code("9.13505821558235E+017") == ""
    assert normalise_code("9.1350582155802e+17") == ""
    assert normalise_code("91350582MA2Y7B8X0W") == "91350582MA2Y7B8X0W"
    assert normalise_code("9135058212E4567890") == "9135058212E4567890"  # E is a credit-code character
    assert org_code_of("91350211M0000XUF46") is None  # fails its check: no org code taken out of it


def _spec(*columns: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "key": "t_values",
            "city": "晋江",
            "department": "测试",
            "title": "测试",
            "seed": "test",
            "seed_fields": ["x"],
            "frequency": "monthly",
            "record_label": "TestValues",
            "columns": [
                {"header": "企业名称", "field": "name", "role": "enterprise_name"},
                *columns,
            ],
        }
    )


def _parse(spec: DatasetSpec, *cells: Any) -> ParsedRow:
    bound = [BoundColumn(c, i, c.header, c.unit) for i, c in enumerate(spec.columns)]
    return parse_row(spec, bound, ["晋江市某某有限公司", *cells], "表", 2)


@pytest.mark.parametrize(
    "cell",
    [
        9.13505821558235e17,
        913505821558234752,
        "9.13505821558235E+017",
        "９.１３５０５８２１５５８２３５Ｅ＋１７",
    ],
)
def test_every_form_of_a_rounded_code_is_untrusted(cell: object) -> None:
    spec = _spec(
        {"header": "统一社会信用代码", "field": "credit_code", "type": "credit_code", "role": "credit_code"}
    )
    parsed = _parse(spec, cell)
    assert not parsed.rejected
    assert "credit_code" not in parsed.fields
    assert "E+" in parsed.fields["credit_code_invalid"]
    assert "rounded_number:credit_code" in parsed.flags
    [issue] = parsed.issues
    assert issue.column == "统一社会信用代码" and issue.severity == "warning"
    [mention] = mentions_of(spec, {"id": "x", **parsed.fields})
    assert (mention.credit_code, mention.org_code, mention.code_hint) == (None, None, None)


def test_a_rounded_code_alone_does_not_name_an_enterprise() -> None:
    spec = DatasetSpec.model_validate(
        {
            "key": "t_codes",
            "city": "晋江",
            "department": "测试",
            "title": "测试",
            "seed": "test",
            "seed_fields": ["x"],
            "frequency": "monthly",
            "record_label": "TestCodes",
            "columns": [
                {"header": "纳税人识别号", "field": "tid", "type": "taxpayer_id", "role": "taxpayer_id"},
                {"header": "金额", "field": "amount", "type": "amount"},
            ],
        }
    )
    bound = [BoundColumn(c, i, c.header, c.unit) for i, c in enumerate(spec.columns)]
    parsed = parse_row(spec, bound, [9.13505821558235e17, 100], "表", 2)
    assert parsed.rejected
    assert any("no way to tell which enterprise" in i.reason_en for i in parsed.issues)


# -- item 7: leading zeros dropped from numeric codes ------------------------------------------------


def test_numeric_account_numbers_are_warned(loader: Loader, store: FalkorDBStore) -> None:
    name = "leading-zeros.wh_enterprise_electricity.xlsx"
    result = loader.load(OFFICE / name)
    assert (result.rows_read, result.loaded, result.rejected, result.warnings) == (3, 3, 0, 3)
    got = records(store, name)
    for row in (2, 3, 4):
        assert "numeric_code:account_no" in got[row]["flags"]
        [issue] = issues(result)[row]
        assert issue[0] == "户号" and "leading zeros" in issue[1]
    assert got[2]["account_no"] == "560374555"  # kept as the cell holds it, never silently padded


@pytest.mark.parametrize(
    ("column", "cell", "flag"),
    [
        (
            {"header": "组织机构代码", "field": "org", "type": "org_code", "role": "org_code"},
            15582347,
            "numeric_code",
        ),
        ({"header": "户号", "field": "acct", "role": "account_number"}, 560374555, "numeric_code"),
        ({"header": "表号", "field": "meter", "role": "meter_id"}, 1234567.0, "numeric_code"),
        ({"header": "户号", "field": "acct", "role": "account_number"}, 5.60374555e17, "rounded_number"),
    ],
)
def test_numeric_cells_in_identity_code_columns_are_flagged(column: dict, cell: object, flag: str) -> None:
    parsed = _parse(_spec(column), cell)
    assert f"{flag}:{column['field']}" in parsed.flags
    assert [i.column for i in parsed.issues] == [column["header"]]
    assert "leading zeros" in parsed.issues[0].reason_en or "rounded" in parsed.issues[0].reason_en


def test_a_number_in_a_name_column_is_flagged() -> None:
    spec = _spec()
    bound = [BoundColumn(c, i, c.header, c.unit) for i, c in enumerate(spec.columns)]
    parsed = parse_row(spec, bound, [20230401], "表", 2)
    assert "not_text:name" in parsed.flags
    assert parsed.issues and parsed.issues[0].severity == "warning"


# -- item 2: totals rows ------------------------------------------------------------------------------


def test_totals_rows_are_skipped_and_counted(loader: Loader, store: FalkorDBStore, tmp_path: Path) -> None:
    name = "totals-rows.jj_government_subsidies.xlsx"
    result = loader.load(OFFICE / name)
    assert (result.loaded, result.rejected, result.skipped_totals, result.skipped_blank) == (3, 0, 4, 1)
    assert result.rows_read == 8
    assert sorted(records(store, name)) == [3, 4, 6]
    facts = summary(result)
    assert facts["跳过：合计行 Skipped: totals rows"] == 4
    assert facts["跳过：空行 Skipped: blank rows"] == 1
    resolve(store, tmp_path)
    names = {r["n"] for r in store.read("MATCH (e:Enterprise) RETURN e.name AS n")}
    assert not names & {"合计", "小计", "总计"}


# -- item 3: closed value lists -------------------------------------------------------------------------


def test_a_required_category_outside_its_list_refuses_the_row(loader: Loader, store: FalkorDBStore) -> None:
    name = "closed-values.wh_work_safety.xlsx"
    result = loader.load(OFFICE / name)
    assert (result.loaded, result.rejected) == (2, 2)
    got = records(store, name)
    assert got[2]["kind"] == "危化品信息" and got[3]["kind"] == "安全事故"
    found = issues(result)
    for row in (4, 5):
        [issue] = found[row]
        assert issue[0] == "数据类别" and "not one of the values allowed" in issue[1]
        assert issue[2].startswith("拒收")


def test_an_optional_value_outside_its_list_is_dropped_and_warned(
    loader: Loader, store: FalkorDBStore
) -> None:
    name = "closed-values.wh_patents.xlsx"
    result = loader.load(OFFICE / name)
    assert (result.loaded, result.rejected, result.warnings) == (3, 0, 1)
    got = records(store, name)
    assert got[2]["patent_type"] == "发明"
    assert got[3]["patent_type"] == "实用新型"  # traditional characters: the same value
    assert got[4].get("patent_type") is None and "not_in_list:patent_type" in got[4]["flags"]
    [issue] = issues(result)[4]
    assert issue[0] == "专利类型" and issue[2].startswith("警告")


# -- item 5: hidden sheets ------------------------------------------------------------------------------


def test_hidden_sheets_are_skipped_and_said(loader: Loader, store: FalkorDBStore) -> None:
    name = "hidden-sheet.wh_enterprise_electricity.xlsx"
    result = loader.load(OFFICE / name)
    assert (result.loaded, result.skipped_hidden, result.rows_read) == (2, 3, 5)
    assert result.sheets_loaded == ["2023年4月"]
    assert result.sheets_hidden == ["2023年3月"]
    assert {r["period"] for r in records(store, name).values()} == {"2023-04"}
    facts = summary(result)
    assert facts["跳过：隐藏工作表中的行 Skipped: rows on hidden sheets"] == 3
    assert (
        "2023年3月" in facts["跳过的工作表 Sheets skipped"]
        and "hidden" in facts["跳过的工作表 Sheets skipped"]
    )


def test_a_file_whose_data_is_only_on_a_hidden_sheet_is_refused_saying_so(
    loader: Loader, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(OFFICE / "hidden-sheet.wh_enterprise_electricity.xlsx")
    book.remove(book["2023年4月"])
    book.create_sheet("说明").append(["本表由市电业局填报"])
    path = tmp_path / "hidden-only.wh_enterprise_electricity.xlsx"
    book.save(path)
    with pytest.raises(FileRejected, match=r"2023年3月.*hidden"):
        loader.load(path)


# -- item 8: formula errors -----------------------------------------------------------------------------

FORMULA_CSV = "formula-errors-exported.jj_tax_net_receipts.csv"
FORMULA_XLSX = "formula-errors.jj_tax_net_receipts.xlsx"


def _formula_outcome(result: LoadResult, store: FalkorDBStore, name: str) -> None:
    assert (result.loaded, result.rejected) == (2, 1)
    [refusal] = issues(result)[3]
    assert refusal[1] == "formula error #DIV/0! in 实缴金额（元）" and refusal[2].startswith("拒收")
    [warning] = issues(result)[4]
    assert warning[0] == "计税依据" and "#N/A" in warning[1] and warning[2].startswith("警告")
    got = records(store, name)
    assert got[4].get("tax_base") is None and "formula_error:tax_base" in got[4]["flags"]


def test_formula_errors_in_a_csv_export(loader: Loader, store: FalkorDBStore) -> None:
    _formula_outcome(loader.load(OFFICE / FORMULA_CSV), store, FORMULA_CSV)


def test_formula_errors_in_a_workbook(loader: Loader, store: FalkorDBStore) -> None:
    [sheet] = open_table(OFFICE / FORMULA_XLSX)
    cells = dict(sheet.rows())[3]
    if len(cells) < 4 or cells[3] is None:
        pytest.skip("the xlsx reader still hands a formula error as an empty cell (readers' half of item 8)")
    _formula_outcome(loader.load(OFFICE / FORMULA_XLSX), store, FORMULA_XLSX)


@pytest.mark.parametrize(
    "text", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "Err:502"]
)
def test_a_formula_error_typed_or_computed_is_never_a_blank(text: str) -> None:
    spec = _spec(
        {"header": "金额", "field": "amount", "type": "amount", "required": True},
        {"header": "备注", "field": "note"},
    )
    required = _parse(spec, text, "x")
    assert required.rejected
    assert [i.reason_en for i in required.issues] == [f"formula error {text} in 金额"]
    optional = _parse(spec, 5, text)
    assert not optional.rejected and "note" not in optional.fields
    assert "formula_error:note" in optional.flags


def test_a_reader_formula_error_value_is_an_error_too() -> None:
    from entgraph.loaders.readers import base

    error_type = getattr(base, "FormulaError", None) or getattr(base, "CellError", None)
    if error_type is None:
        pytest.skip("loaders/readers/base.py has no formula error value yet (readers' half of item 8)")
    value = error_type("#DIV/0!")
    spec = _spec({"header": "金额", "field": "amount", "type": "amount", "required": True})
    parsed = _parse(spec, value)
    assert [i.reason_en for i in parsed.issues] == ["formula error #DIV/0! in 金额"]


# -- item 10: refused headers and CSV injection ---------------------------------------------------------


def test_a_wrong_dataset_names_the_missing_columns_and_the_header_found(loader: Loader) -> None:
    with pytest.raises(FileRejected) as refused:
        loader.load(OFFICE / "leading-zeros.wh_enterprise_electricity.xlsx", "jj_tax_net_receipts")
    message = str(refused.value)
    for missing in ("纳税人识别号", "纳税人名称", "税款所属期止", "实缴金额"):
        assert missing in message
    assert "户号" in message and "户名" in message and "用电量" in message  # what the header row holds


def test_a_near_miss_header_names_the_header_row_too(loader: Loader, tmp_path: Path) -> None:
    path = tmp_path / "x.jj_tax_net_receipts.csv"
    path.write_text("纳税人识别号,纳税人明称,税款所属期止,实缴金额\n91350582MA2Y7B8X0W,某公司,2023-04-30,5\n")
    with pytest.raises(FileRejected) as refused:
        loader.load(path)
    message = str(refused.value)
    assert "纳税人名称" in message and "纳税人明称" in message and "row 1" in message


def test_a_file_no_dataset_matches_says_what_its_header_row_holds(loader: Loader, tmp_path: Path) -> None:
    path = tmp_path / "upload-0042.csv"
    path.write_text("2023年物资清单\n序号,品名,规格\n1,螺丝,M6\n", encoding="utf-8")
    with pytest.raises(FileRejected) as refused:
        loader.load(path)
    assert "--dataset" in str(refused.value) and "“品名”, “规格”" in str(refused.value)
    assert "row 2" in str(refused.value)


def test_export_links_escapes_cells_a_spreadsheet_would_run(
    loader: Loader, store: FalkorDBStore, tmp_path: Path
) -> None:
    name = "formula-sheet-name.jj_tax_net_receipts.xlsx"
    loader.load(OFFICE / name)
    resolve(store, tmp_path)
    out = tmp_path / "links.csv"
    export_links(store, CATALOG, out)
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["file"] == name]
    assert [r["sheet"] for r in rows] == ["'=1+2"]


def test_every_exported_cell_starting_like_a_formula_is_escaped() -> None:
    row = LinkRow("-1.xlsx", "@SUM(A1)", 2, "+x", "=E-1", "m", 0.5, "\tp", "r:1")
    assert row.as_csv() == ["'-1.xlsx", "'@SUM(A1)", 2, "'+x", "'=E-1", "m", "0.500000", "'\tp"]


# -- every row accounted for, for every file of the corpus ----------------------------------------------


def _added_up(result: LoadResult) -> int:
    return (
        result.new
        + result.updated
        + result.unchanged
        + result.rejected
        + result.duplicates
        + result.skipped_blank
        + result.skipped_totals
        + result.skipped_hidden
    )


def _rows_below_headers(path: Path, result: LoadResult) -> int:
    """Independently of the engine: each data sheet's rows from below its header to its last row."""
    total = 0
    for sheet in open_table(path):
        header = result.header_rows.get(sheet.name)
        if header is None:
            continue
        last = max((number for number, cells in sheet.rows() if any(c is not None for c in cells)), default=0)
        total += max(0, last - header)
    return total


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_row_of_every_corpus_file_is_accounted_for(
    path: Path, loader: Loader, store: FalkorDBStore, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        result = loader.load(path, dataset_of(path))
    except FileRejected as exc:
        assert str(exc)
        assert records(store, path.name) == {}  # refused whole: nothing of it loaded
        return
    assert result.rows_read == _added_up(result) == result.accounted, result
    assert result.rows_read == _rows_below_headers(path, result), result
    load_cli._print_result(result)
    line = capsys.readouterr().out.splitlines()[0]
    numbers = [int(n) for n in line[40 + 1 + 28 :].split()[:6]]
    read, loaded, refused, unchanged, repeated, skipped = numbers
    assert read == result.rows_read == loaded + refused + unchanged + repeated + skipped


# -- the corpus is what LibreOffice writes ---------------------------------------------------------------


def test_libreoffice_still_rounds_codes_as_the_corpus_says(tmp_path: Path) -> None:
    if shutil.which("soffice") is None:
        pytest.skip("soffice (LibreOffice) is not installed: the committed corpus is used instead")
    sys.path.insert(0, str(OFFICE))
    try:
        import make_value_files as made
    finally:
        sys.path.remove(str(OFFICE))
    try:
        [xlsx, _] = made.rounded_codes(tmp_path, tmp_path)
    except (subprocess.SubprocessError, RuntimeError) as exc:
        pytest.skip(f"soffice could not convert here: {exc}")
    [sheet] = open_table(xlsx)
    fresh = dict(sheet.rows())
    [committed] = open_table(OFFICE / ROUNDED)
    assert fresh == dict(committed.rows())
