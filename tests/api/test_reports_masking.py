"""GET /reports/{upload id} masks as GraphQL does (issue 15, item 4): real department files with refused
rows holding a phone (personal: masked for analysts) and a payee account (不予共享: admins only) are
loaded, and each role's download is opened and scanned, every cell of every sheet."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from entgraph.api.app import create_app
from entgraph.api.auth import Role
from entgraph.api.graphql_client import bearer
from entgraph.api.masking import apply, mask_kind
from entgraph.api.reports import ISSUES_SHEET, SUMMARY_SHEET, TO_FIX_SHEET, masked_report, report_url
from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.loaders.engine import Loader
from entgraph.loaders.parsing import RowIssue
from entgraph.loaders.report import write_report
from entgraph.settings import Settings

SECRET = "m" * 40
SHEETS = [SUMMARY_SHEET, ISSUES_SHEET, TO_FIX_SHEET]

# Raw values that must never reach a caller who may not see them.
PHONE = 13912345678  # a refused row's 联系电话, a number cell as Excel keeps it
BAD_PHONE = "电话13987654321"  # a warned row's phone the loader cannot read: quoted in the issue
ACCOUNTS = ("6222020200118877665", "6217000011119988776")  # 收款人账号 of refused rows (不予共享)
PAYEE = "王小明"  # 收款人: personal (有条件使用), masked for analysts
NOTE = "内部备注QX7781"  # a column no spec describes
SUBSIDY_HEADERS = [
    "企业名称",
    "收款人",
    "收款人银行账号",
    "单位名称",
    "金额",
    "指标文号",
    "项目名称",
    "支付日期",
]


@dataclass(frozen=True)
class Loaded:
    client: TestClient
    catalog: Catalog
    registration: str  # upload ids
    subsidies: str
    files: dict[str, Path]  # upload id -> the stored report


@pytest.fixture(scope="module")
def loaded(shared_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp("report-masking")
    home, files = root / "home", root / "files"
    files.mkdir()
    catalog = Catalog.load(entry_points=False)
    store = FalkorDBStore(f"t-{uuid.uuid4().hex[:12]}", server=shared_server)
    loader = Loader(store, catalog, home / "reports")

    # 市场监管局 企业登记信息 as an .xlsx with a title row, the phone under its alias 电话.
    book = Workbook()
    sheet = book.active
    sheet.append(["2024年4月晋江市企业登记信息"])
    sheet.append(["企业名称", "法人代表", "电话", "地址", "统一社会信用代码", "所属地区", "时间", "备注"])
    sheet.append(["晋江市安海鞋业有限公司", "林一", 13800001111, "安海镇1号", None, "安海镇", "2024-04-01"])
    sheet.append([None, "林二", PHONE, "安海镇2号", None, "安海镇", "2024-04-02", NOTE])  # refused
    sheet.append(["晋江市池店服装有限公司", "林三", BAD_PHONE, "池店镇3号", None, "池店镇", "2024-04-03"])
    registration_file = files / "2024年4月企业登记信息.xlsx"
    book.save(registration_file)

    # 财政局 政府补助 as a clerk's CSV, the account under its alias 收款人银行账号.
    subsidies_file = write_csv(
        files / "2024年4月政府补助拨款奖励资金扶持信息.csv",
        [*SUBSIDY_HEADERS, "备注"],
        [
            ["晋江市安海鞋业有限公司", "晋江市安海鞋业", "6222000000000001", "工信局", "10000", "1号"],
            # refused: the amount cannot be read
            ["晋江市池店服装有限公司", PAYEE, ACCOUNTS[0], "工信局", "一万元整", "2号", "", "", NOTE],
            ["", "晋江市某某公司", ACCOUNTS[1], "科技局", "5000", "3号"],  # refused: no enterprise name
        ],
    )
    registration = loader.load(registration_file, "jj_enterprise_registration")
    subsidies = loader.load(subsidies_file, "jj_government_subsidies")
    assert registration.rejected == 1 and subsidies.rejected == 2
    assert registration.report_path and subsidies.report_path

    settings = Settings(
        home=home, api_mode="development", api_jwt_secret=SECRET, api_keys_file=home / "keys.toml"
    )
    with TestClient(create_app(settings, store, catalog)) as client:
        yield Loaded(
            client,
            catalog,
            registration.upload_id,
            subsidies.upload_id,
            {registration.upload_id: registration.report_path, subsidies.upload_id: subsidies.report_path},
        )
    store.clear()
    store.close()


def download(loaded: Loaded, upload_id: str, role: Role) -> bytes:
    response = loaded.client.get(report_url(upload_id), headers=bearer(SECRET, role, "r"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response.headers["content-disposition"]
    assert ".report.xlsx" in response.headers["content-disposition"]
    return response.content


def cells(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return {name: [_trim(row) for row in book[name].iter_rows(values_only=True)] for name in book.sheetnames}


def _trim(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row without trailing empty cells (read-only mode pads rows to the sheet's width)."""
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


def texts(content: bytes) -> list[str]:
    """Every non-empty cell of every sheet, as text."""
    return [str(v) for rows in cells(content).values() for row in rows for v in row if v is not None]


def leaks(content: bytes, *raws: object) -> list[tuple[object, str]]:
    return [(raw, text) for text in texts(content) for raw in raws if str(raw) in text]


def to_fix(content: bytes) -> list[dict[str, Any]]:
    """The refused rows under their headers, as header -> value."""
    rows, header = [], ()
    for row in cells(content)[TO_FIX_SHEET]:
        if row[:2] == ("工作表 Sheet", "原行号 Row"):
            header = row
        else:
            rows.append(dict(zip(header, row, strict=False)))
    return rows


def graphql_view(loaded: Loaded, dataset: str, field: str, value: object, role: Role) -> object:
    """What GraphQL's resolvers show ``role`` of ``value`` in ``dataset``'s column ``field``."""
    spec = loaded.catalog.get(dataset).spec
    column = spec.column(field)
    return apply(spec.sharing_of(column), role, mask_kind(column), value)


def test_analysts_see_no_raw_phone_account_or_undescribed_column(loaded: Loaded) -> None:
    for upload_id in (loaded.registration, loaded.subsidies):
        content = download(loaded, upload_id, Role.ANALYST)
        assert load_workbook(io.BytesIO(content)).sheetnames == SHEETS
        assert leaks(content, PHONE, "13987654321", *ACCOUNTS, PAYEE, NOTE) == []
        assert not [t for t in texts(content) if "8877665" in t or "9988776" in t]  # not even a tail

    registration = download(loaded, loaded.registration, Role.ANALYST)
    (row,) = to_fix(registration)
    masked = graphql_view(loaded, "jj_enterprise_registration", "phone", PHONE, Role.ANALYST)
    assert masked == "139****5678" and row["电话"] == masked  # masked as GraphQL masks it
    assert row["法人代表"] == "林二" and row["地址"] == "安海镇2号"  # shared columns as sent
    assert "备注" not in row  # a column no spec describes: left out
    issues = cells(registration)[ISSUES_SHEET]
    (warned,) = [r for r in issues if r[2] == "电话"]
    assert warned[3] == "电话139****4321"
    assert warned[4] == "电话号码无法识别：电话139****4321"
    assert warned[5] == "unrecognised phone number: 电话139****4321"

    subsidies = to_fix(download(loaded, loaded.subsidies, Role.ANALYST))
    assert len(subsidies) == 2
    for row in subsidies:
        assert "收款人银行账号" not in row and "备注" not in row  # 不予共享: absent, header and all
    assert subsidies[0]["收款人"] == graphql_view(
        loaded, "jj_government_subsidies", "payee_name", PAYEE, Role.ANALYST
    )
    assert subsidies[0]["收款人"] == "王***" and subsidies[0]["金额"] == "一万元整"


def test_stewards_see_the_phone_but_not_the_account(loaded: Loaded) -> None:
    registration = download(loaded, loaded.registration, Role.STEWARD)
    assert to_fix(registration)[0]["电话"] == PHONE
    assert leaks(registration, "13987654321") and not leaks(registration, NOTE)
    subsidies = download(loaded, loaded.subsidies, Role.STEWARD)
    assert leaks(subsidies, *ACCOUNTS, NOTE) == []
    assert [row["收款人"] for row in to_fix(subsidies)] == [PAYEE, "晋江市某某公司"]


def test_admins_get_the_report_as_stored(loaded: Loaded) -> None:
    for upload_id in (loaded.registration, loaded.subsidies):
        content = download(loaded, upload_id, Role.ADMIN)
        assert content == loaded.files[upload_id].read_bytes()
    assert leaks(download(loaded, loaded.registration, Role.ADMIN), PHONE, "13987654321", NOTE)
    subsidies = download(loaded, loaded.subsidies, Role.ADMIN)
    assert {raw for raw, _ in leaks(subsidies, *ACCOUNTS, PAYEE, NOTE)} == {*ACCOUNTS, PAYEE, NOTE}


def test_the_masked_copy_keeps_the_report_shape(loaded: Loaded) -> None:
    stored = cells(loaded.files[loaded.subsidies].read_bytes())
    masked = cells(download(loaded, loaded.subsidies, Role.ANALYST))
    assert masked[SUMMARY_SHEET] == stored[SUMMARY_SHEET]
    assert len(masked[ISSUES_SHEET]) == len(stored[ISSUES_SHEET])
    assert len(masked[TO_FIX_SHEET]) == len(stored[TO_FIX_SHEET])


def test_a_hidden_column_quoted_by_an_issue_is_hidden_there_too(loaded: Loaded, tmp_path: Path) -> None:
    """Straight on a report file: a 不予共享 value quoted by a reason, two source sheets with their own
    headers, a cell past the last header, and text that looks like a formula."""
    account = "6228480000123456789"
    path = write_report(
        tmp_path / "r.report.xlsx",
        {"文件 File": "f.xlsx"},
        [
            RowIssue("A", 3, "收款账号", account, f"账号无法识别：{account}", f"bad account: {account}"),
            RowIssue("B", 4, "金额", "=1+1", "数值无法识别：=1+1", "unrecognised number: =1+1"),
        ],
        [("A", 3, ["甲公司", account, "=1+1"]), ("B", 4, ["乙公司", "=1+1", "past the header"])],
        {"A": ["企业名称", "收款账号", "金额"], "B": ["企业名称", "金额"]},
    )
    spec = loaded.catalog.get("jj_government_subsidies").spec
    content = masked_report(path, spec, Role.STEWARD)
    assert leaks(content, account) == []
    issues = cells(content)[ISSUES_SHEET]
    assert issues[1][2:6] == ("收款账号", None, "账号无法识别：〔已隐藏〕", "bad account: [hidden]")
    assert issues[2][3:6] == ("=1+1", "数值无法识别：=1+1", "unrecognised number: =1+1")
    assert cells(content)[TO_FIX_SHEET] == [
        ("工作表 Sheet", "原行号 Row", "企业名称", "金额"),
        ("A", 3, "甲公司", "=1+1"),
        ("工作表 Sheet", "原行号 Row", "企业名称", "金额"),
        ("B", 4, "乙公司", "=1+1"),
    ]
    formula = load_workbook(io.BytesIO(content))[TO_FIX_SHEET]["D2"]
    assert formula.data_type == "s"  # text, never run
    # A dataset no longer in the catalog: no rule says what any column may show.
    unknown = cells(masked_report(path, None, Role.STEWARD))
    assert unknown[TO_FIX_SHEET][1] == ("A", 3) and unknown[ISSUES_SHEET][2][3] is None


def test_a_stored_report_that_is_no_workbook_is_served_to_admins_only(
    fresh_graph: GraphStore, tmp_path: Path
) -> None:
    """No masked copy can be made of a file that is not a workbook: analysts get a 404, not its bytes."""
    home = tmp_path / "home"
    fake = home / "reports" / "x" / "fake.report.xlsx"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"PK 13912345678")
    fresh_graph.write(
        "CREATE (:Upload {id: 'fake', dataset: 'jj_enterprise_registration', file_name: 'f.xlsx', "
        "status: 'done', started_at: '2024-01-01', report_path: $path})",
        {"path": str(fake)},
    )
    settings = Settings(
        home=home, api_mode="development", api_jwt_secret=SECRET, api_keys_file=home / "keys.toml"
    )
    with TestClient(create_app(settings, fresh_graph, Catalog.load(entry_points=False))) as client:
        for role in (Role.ANALYST, Role.STEWARD):
            response = client.get("/reports/fake", headers=bearer(SECRET, role, "r"))
            assert response.status_code == 404
            assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert b"13912345678" not in response.content
        admin = client.get("/reports/fake", headers=bearer(SECRET, Role.ADMIN, "root"))
        assert admin.status_code == 200 and admin.content == b"PK 13912345678"
