"""The load engine against the real embedded store and real files: counts, provenance, idempotence,
corrections, refusals, reports, and a load killed mid-way."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from entgraph.catalog.registry import Catalog, Feed
from entgraph.catalog.spec import DatasetSpec
from entgraph.city_fixtures import kill_midway
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.loaders.engine import Loader
from entgraph.loaders.readers import FileRejected

HEADERS = ["纳税人识别号", "纳税人名称", "所属期", "实缴金额（元）", "入库日期", "乡镇街道"]


def make_spec() -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "key": "t_tax",
            "city": "晋江",
            "department": "市税务局",
            "title": "测试纳税信息",
            "seed": "test",
            "seed_fields": ["纳税人识别号", "纳税人名称", "所属期", "实缴金额", "入库日期", "乡镇街道"],
            "frequency": "monthly",
            "deadline": "P15D",
            "record_label": "TestTax",
            "file_patterns": ["*测试纳税*"],
            "columns": [
                {
                    "header": "纳税人识别号",
                    "field": "taxpayer_id",
                    "type": "credit_code",
                    "role": "credit_code",
                },
                {"header": "纳税人名称", "field": "name", "required": True, "role": "enterprise_name"},
                {"header": "所属期", "field": "period", "type": "period", "required": True, "role": "period"},
                {
                    "header": "实缴金额",
                    "field": "amount",
                    "type": "amount",
                    "unit": "元",
                    "required": True,
                    "role": "amount",
                },
                {"header": "入库日期", "field": "paid_on", "type": "date", "role": "date"},
                {"header": "乡镇街道", "field": "town", "role": "town"},
            ],
            "metrics": [{"name": "tax", "value": "amount", "period": "period", "unit": "元"}],
        }
    )


def valid_code(n: int) -> str:
    from entgraph.identity.codes import make_credit_code

    return make_credit_code("350582", f"{n:08d}")


def good_rows(n: int, start: int = 0) -> list[list]:
    towns = ["青阳街道", "陈埭镇", "池店镇"]
    return [
        [
            valid_code(i),
            f"晋江市第{i}鞋业有限公司",
            "2023年4月",
            f"{1000 + i:,}.50",
            "2023-05-08",
            towns[i % 3],
        ]
        for i in range(start, start + n)
    ]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8-sig", title: str | None = None) -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        if title:
            writer.writerow([title])
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], title: str | None = None) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("纳税")
    offset = 0
    if title:
        sheet.merge_range(0, 0, 0, len(HEADERS) - 1, title)
        offset = 1
    sheet.write_row(offset, 0, HEADERS)
    for i, row in enumerate(rows, start=offset + 1):
        sheet.write_row(i, 0, row)
    book.close()
    return path


@pytest.fixture
def store(shared_server: EmbeddedServer) -> Iterator[FalkorDBStore]:
    opened = FalkorDBStore(f"load-{uuid.uuid4().hex[:10]}", server=shared_server, batch_size=50)
    yield opened
    opened.clear()
    opened.close()


@pytest.fixture
def loader(store: FalkorDBStore, tmp_path: Path) -> Loader:
    return Loader(store, Catalog([Feed(make_spec())]), tmp_path / "reports", batch_size=50)


def records(store: FalkorDBStore) -> list[dict]:
    return store.read("MATCH (r:SourceRecord) WHERE r.retired IS NULL RETURN r ORDER BY r.row", {})


def test_a_file_loads_with_provenance_and_refuses_only_bad_rows(
    loader: Loader, store, tmp_path: Path
) -> None:
    rows = good_rows(6)
    rows[2][3] = "一千元"  # amount that is not a number: refused
    rows[4][1] = ""  # empty required name: refused
    rows[5][4] = "2023-13-45"  # bad optional date: loaded with a warning
    path = write_csv(tmp_path / "测试纳税_2023-04.csv", rows, title="2023年4月测试纳税信息表")

    result = loader.load(path)

    assert (result.rows_read, result.new, result.rejected, result.warnings) == (6, 4, 2, 1)
    got = records(store)
    assert [r["r"]["row"] for r in got] == [3, 4, 6, 8]  # title on line 1, header on line 2
    first = got[0]["r"]
    assert first["file_name"] == path.name
    assert first["file_sha256"] == result.sha256
    assert first["dataset"] == "t_tax" and first["department"] == "市税务局"
    assert first["amount"] == 1000.5
    assert first["period"] == "2023-04"
    assert first["paid_on"] == "2023-05-08"
    assert "bad_value:paid_on" in got[3]["r"]["flags"]
    assert result.periods == {"2023-04"}
    towns = store.read("MATCH (:TestTax)-[:IN_TOWN]->(t:Town) RETURN DISTINCT t.name AS n ORDER BY n")
    assert {t["n"] for t in towns} == {"青阳街道", "陈埭镇", "池店镇"}

    report = openpyxl.load_workbook(result.report_path, read_only=True)
    issues = list(report["问题 Issues"].iter_rows(min_row=2, values_only=True))
    refused = sorted((row[1], row[2]) for row in issues if row[6].startswith("拒收"))
    assert refused == [(5, "实缴金额（元）"), (7, "纳税人名称")]
    to_fix = list(report["待修正 To fix"].iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in to_fix] == [5, 7]
    assert to_fix[0][2:5] == (rows[2][0], rows[2][1], rows[2][2])  # original cells under original headers


def test_progress_is_told_after_every_batch(store, tmp_path: Path) -> None:
    seen: list[int] = []
    loader = Loader(
        store,
        Catalog([Feed(make_spec())]),
        tmp_path / "reports",
        batch_size=50,
        progress=lambda r: seen.append(r.accounted),
    )
    result = loader.load(write_csv(tmp_path / "测试纳税_2023-04.csv", good_rows(180)))
    assert len(seen) == 4 and seen == sorted(seen)  # 180 rows in batches of 50
    assert seen[-1] == result.accounted == 180


def test_loading_the_same_file_twice_changes_nothing(loader: Loader, store, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "测试纳税.xlsx", good_rows(120), title="测试纳税信息")
    first = loader.load(path)
    before = store.read(
        "MATCH (r:SourceRecord) RETURN r.id AS id, r.content_hash AS h, r.loaded_at AS t ORDER BY id"
    )
    second = loader.load(path)
    after = store.read(
        "MATCH (r:SourceRecord) RETURN r.id AS id, r.content_hash AS h, r.loaded_at AS t ORDER BY id"
    )
    assert (first.new, first.unchanged) == (120, 0)
    assert (second.new, second.updated, second.unchanged, second.retired) == (0, 0, 120, 0)
    assert before == after
    assert store.read("MATCH (u:Upload) RETURN count(u) AS c") == [{"c": 1}]


def test_a_corrected_file_updates_what_changed(loader: Loader, store, tmp_path: Path) -> None:
    rows = good_rows(10)
    rows[3][3] = "abc"  # refused in the first upload
    path = write_csv(tmp_path / "测试纳税.csv", rows)
    first = loader.load(path)
    assert (first.new, first.rejected) == (9, 1)

    rows[3][3] = "777"  # the clerk fixes the refused row
    rows[5][3] = "999.00"  # and corrects an amount
    del rows[9]  # and drops the last row
    second = loader.load(write_csv(path, rows))
    assert (second.new, second.updated, second.unchanged, second.retired, second.rejected) == (1, 1, 7, 1, 0)
    amounts = {r["r"]["row"]: r["r"]["amount"] for r in records(store)}
    assert amounts[5] == 777.0 and amounts[7] == 999.0
    assert 11 not in amounts
    assert store.read("MATCH (r:SourceRecord) WHERE r.retired = true RETURN r.row AS row") == [{"row": 11}]


def test_invalid_credit_code_is_kept_flagged_and_not_used(loader: Loader, store, tmp_path: Path) -> None:
    rows = good_rows(2)
    code = rows[0][0]
    rows[0][0] = code[:-1] + ("0" if code[-1] != "0" else "1")  # wrong check character
    result = loader.load(write_csv(tmp_path / "测试纳税.csv", rows))
    assert (result.new, result.rejected) == (2, 0)
    [bad] = store.read("MATCH (r:SourceRecord {row: 2}) RETURN r")
    assert bad["r"].get("taxpayer_id") is None
    assert bad["r"]["taxpayer_id_invalid"] == rows[0][0]
    assert "invalid_credit_code:taxpayer_id" in bad["r"]["flags"]


def test_injection_strings_are_data_not_formulas(loader: Loader, store, tmp_path: Path) -> None:
    rows = good_rows(1)
    rows[0][1] = "=cmd|' /C calc'!A0"
    rows[0][3] = "x"  # refused, so the injection string also lands in the report
    result = loader.load(write_csv(tmp_path / "测试纳税.csv", rows))
    book = openpyxl.load_workbook(result.report_path)
    cells = [c.value for row in book["待修正 To fix"].iter_rows(min_row=2) for c in row]
    assert "=cmd|' /C calc'!A0" in cells
    assert all(c.data_type != "f" for row in book["待修正 To fix"].iter_rows() for c in row)


def test_a_file_with_the_wrong_header_is_refused_whole(loader: Loader, store, tmp_path: Path) -> None:
    path = tmp_path / "测试纳税.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("纳税人识别号,纳税人明称,所属期,入库日期\n91350582MA2Y7B8X3U,某公司,2023-04,2023-05-01\n")
    with pytest.raises(FileRejected) as refused:
        loader.load(path)
    message = str(refused.value)
    assert "纳税人名称" in message and "实缴金额" in message
    assert "纳税人明称" in message  # the nearest header found
    assert store.read("MATCH (r:SourceRecord) RETURN count(r) AS c") == [{"c": 0}]


def test_dataset_is_detected_by_header_when_the_name_says_nothing(loader: Loader, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "upload-0042.csv", good_rows(3), encoding="gb18030")
    assert loader.detect(path).spec.key == "t_tax"
    assert loader.load(path).new == 3


KILL_SCRIPT = """
import sys
from pathlib import Path
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.loaders.engine import Loader
from entgraph.catalog.registry import Catalog, Feed
sys.path.insert(0, {tests!r})
from test_engine import make_spec
store = FalkorDBStore({graph!r}, server=EmbeddedServer(Path({home!r})), batch_size=500)
Loader(store, Catalog([Feed(make_spec())]), Path({reports!r}), batch_size=500).load(Path({path!r}))
"""


@pytest.mark.slow
def test_a_load_killed_midway_and_rerun_ends_with_one_clean_load(
    shared_server: EmbeddedServer, store: FalkorDBStore, tmp_path: Path
) -> None:
    total = 30_000
    path = write_csv(tmp_path / "测试纳税_big.csv", good_rows(total))
    script = KILL_SCRIPT.format(
        tests=str(Path(__file__).parent),
        graph=store.graph_name,
        home=str(shared_server.home),
        reports=str(tmp_path / "reports"),
        path=str(path),
    )
    kill_midway(script, store, "MATCH (r:SourceRecord) RETURN count(r) AS c", 2000, 120)
    partial = store.read("MATCH (r:SourceRecord) RETURN count(r) AS c")[0]["c"]
    # a record gets its content hash after its links: one without was cut off mid-batch
    finished = store.read("MATCH (r:SourceRecord) WHERE r.content_hash IS NOT NULL RETURN count(r) AS c")[0][
        "c"
    ]
    assert 0 < partial < total

    loader = Loader(store, Catalog([Feed(make_spec())]), tmp_path / "reports", batch_size=500)
    result = loader.load(path)
    assert result.new + result.updated + result.unchanged == total
    assert result.unchanged == finished
    assert result.updated == partial - finished  # rewritten with their links, not skipped
    assert store.read("MATCH (r:SourceRecord) RETURN count(r) AS c, count(DISTINCT r.row) AS rows") == [
        {"c": total, "rows": total}
    ]
    # every record has exactly its one town link: none lost, none doubled
    assert store.read(
        "MATCH (r:SourceRecord) OPTIONAL MATCH (r)-[e:IN_TOWN]->() WITH r, count(e) AS n WHERE n <> 1 "
        "RETURN count(r) AS c"
    ) == [{"c": 0}]
    assert store.read("MATCH (u:Upload) RETURN u.status AS s") == [{"s": "done"}]
