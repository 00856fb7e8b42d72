"""The towns' verification lists, verdicts, dashboard and spreadsheets through the API, on hand-made feeds.

Four firms in 陈埭镇: 甲 is registered, pays tax and uses power; 乙 is known to tax only; 丙 is registered
and uses power but pays no tax; 丁's power records carry a name no register knows. A fifth, 戊, used
power until March and nothing since. Loaded, resolved and refreshed, each list holds what it should;
the town's verdicts are kept, replayed after a new resolve, and undone; the dashboard and the monthly
report say what the figures say; roles see what they may.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient, bearer
from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.engine import Loader
from entgraph.resolution import verification
from entgraph.resolution.resolver import Resolver
from entgraph.resolution.steward import Steward

pytestmark = pytest.mark.stores
NOW = verification.current_round()  # the round the refreshes here put items in, and verdicts go to
NEXT = (dt.date.fromisoformat(f"{NOW}-01") + dt.timedelta(days=32)).strftime("%Y-%m")

TOWN = "陈埭镇"
JIA, YI, BING, WU = (make_credit_code("350582", f"MA2TW00{n}") for n in range(1, 5))
NAMES = {JIA: "晋江市甲鞋业有限公司", YI: "晋江市乙纺织有限公司", BING: "晋江市丙机械有限公司",
         WU: "晋江市戊服装有限公司"}  # fmt: skip
DING = "晋江市丁记食品加工厂"
ITEMS = "query ($t: String, $r: String) { verificationItems(town: $t, round: $r) { key check name enterprise status verdict { id verdict enterprise note round } } }"  # noqa: E501
VERDICT = "mutation ($i: String!, $v: Verdict!, $e: String, $n: String!, $r: String) { recordVerdict(item: $i, verdict: $v, enterprise: $e, note: $n, round: $r) { key status verdict { id verdict } } }"  # noqa: E501


def _months(first: int, last: int, year: int = 2026) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def _load(store: GraphStore, catalog: Catalog, folder: Path) -> None:
    registration = write_csv(
        folder / "企业登记信息_2026.csv",
        ["企业名称", "统一社会信用代码", "所属地区", "地址"],
        [[NAMES[c], c, TOWN, f"{TOWN}{n}号"] for n, c in enumerate((JIA, BING, WU), 1)],
    )
    tax_registration = write_csv(
        folder / "税务登记信息_2026.csv",
        ["社会信用代码（纳税人识别号）", "纳税人名称", "纳税人状态", "街道乡镇"],
        [[c, NAMES[c], "正常", TOWN] for c in (JIA, YI)],
    )
    receipts = write_csv(
        folder / "税务净入库信息_2026.csv",
        ["纳税人识别号", "纳税人名称", "税款所属期止", "实缴金额", "乡镇街道"],
        [[JIA, NAMES[JIA], f"{m}-28", "1000", TOWN] for m in (*_months(1, 10, 2025), *_months(1, 10))],
    )
    power = write_csv(
        folder / "重点企业用电信息_2026.csv",
        ["所属时间", "企业名称", "用电量"],
        [[m, NAMES[JIA], "20000"] for m in (*_months(1, 10, 2025), *_months(1, 10))]
        + [[m, NAMES[BING], "5000"] for m in _months(1, 10)]
        + [[m, DING, "3000"] for m in _months(6, 10)]
        + [[m, NAMES[WU], "4000" if m <= "2026-03" else "0"] for m in _months(1, 10)],
    )
    loader = Loader(store, catalog, folder / "reports")
    for path in (registration, tax_registration, receipts, power):
        loader.load(path)


@pytest.fixture
def town(fresh_graph: GraphStore, graph_api: GraphQLClient, tmp_path: Path) -> GraphQLClient:
    """The feeds loaded and resolved. Power records carry names only: each writing a registered name
    waits for a steward; 甲's and 丙's are accepted, 戊's is left for the town to verify."""
    catalog = Catalog.load(entry_points=False)
    _load(fresh_graph, catalog, tmp_path)
    resolver = Resolver(fresh_graph, catalog, tmp_path / "model.json")
    resolver.run()
    steward = Steward(fresh_graph, catalog, resolver, "steward")
    for task in steward.tasks("open"):
        if task["name"] in (NAMES[JIA], NAMES[BING]):
            steward.accept(task["id"])
    verification.refresh(fresh_graph, catalog)
    return graph_api


def _match_wu(api: GraphQLClient) -> None:
    """The town verifies 戊's power records: they are 戊's (the task's records are linked to it)."""
    [task] = [i for i in api.data(ITEMS, Role.STEWARD, t=None)["verificationItems"] if i["name"] == NAMES[WU]]
    assert task["check"] == "unmatched" and task["key"].startswith("check:unmatched:T-")
    api.data(VERDICT, Role.STEWARD, i=task["key"], v="MATCHED", e=f"E-{WU}", n="现场核实")


def _by_check(
    api: GraphQLClient, role: Role = Role.STEWARD, round_: str | None = None, town: str | None = TOWN
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for item in api.data(ITEMS, role, t=town, r=round_)["verificationItems"]:
        found.setdefault(item["check"], set()).add(item["name"])
    return found


def test_each_list_holds_what_the_feeds_say(town: GraphQLClient, fresh_graph: GraphStore) -> None:
    lists = _by_check(town)
    assert lists["tax_without_registration"] == {NAMES[YI]}
    assert lists["power_without_tax"] == {NAMES[BING]}
    assert lists["unmatched"] == {NAMES[WU]}, "a task's records, in the town its candidate is in"
    # 丁's records name no town: a name-only enterprise of no town, for the city's office to place
    assert _by_check(town, town="未定镇街") == {"unmatched": {DING}}
    _match_wu(town)
    verification.refresh(fresh_graph, Catalog.load(entry_points=False))
    lists = _by_check(town)
    assert lists["power_without_tax"] == {NAMES[BING], NAMES[WU]}
    [task] = [
        i for i in town.data(ITEMS, Role.STEWARD, t=TOWN)["verificationItems"] if i["check"] == "unmatched"
    ]
    assert task["status"] == "settled" and task["verdict"]["verdict"] == "matched", (
        "listed this round, settled"
    )
    assert "power_without_registration" not in lists, "丁 is one unmatched item, not three"
    assert _by_check(town, Role.ANALYST) == lists, "analysts read the lists"
    assert town.error_codes(ITEMS, Role.PUBLIC, t=TOWN) == ["FORBIDDEN"]
    assert town.error_codes(ITEMS, Role.STEWARD, t=TOWN, r="2026-13") == ["BAD_INPUT"]


def test_verdicts_are_kept_replayed_and_undone(
    town: GraphQLClient, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    items = {i["name"]: i for i in town.data(ITEMS, Role.STEWARD, t=None)["verificationItems"]}
    bing = next(e for e in items.values() if e["name"] == NAMES[BING])["enterprise"]
    # analysts read; stewards decide
    assert town.error_codes(VERDICT, Role.ANALYST, i=items[NAMES[YI]]["key"], v="CLOSED", n="") == [
        "FORBIDDEN"
    ]
    refused = town.query(VERDICT, Role.STEWARD, i=items[NAMES[YI]]["key"], v="NOT_OURS", n="")
    assert "say why" in refused["errors"][0]["message"]
    closed = town.data(VERDICT, Role.STEWARD, i=items[NAMES[YI]]["key"], v="CLOSED", n="已注销")
    assert closed["recordVerdict"]["status"] == "settled"
    # 丁 is 丙's second name (a workshop's sign): matched, the name-only enterprise's records are 丙's
    matched = town.data(
        VERDICT,
        Role.STEWARD,
        i=items[DING]["key"],
        v="MATCHED",
        e=bing,
        n="同一厂区",
    )
    assert matched["recordVerdict"]["verdict"]["verdict"] == "matched"
    [row] = fresh_graph.read(
        "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise) WHERE r.enterprise_name = $n "
        "RETURN DISTINCT e.id AS e",
        {"n": DING},
    )
    assert row["e"] == bing

    # a new resolve and refresh change nothing the town decided
    catalog = Catalog.load(entry_points=False)
    Resolver(fresh_graph, catalog, tmp_path / "model.json").run()
    verification.refresh(fresh_graph, catalog)
    this_round = {i["name"]: i for i in town.data(ITEMS, Role.STEWARD, t=None)["verificationItems"]}
    assert (
        this_round[NAMES[YI]]["status"] == "settled" and this_round[NAMES[YI]]["verdict"]["note"] == "已注销"
    )
    # 丁's records are 丙's now: its name-only enterprise is gone, and with it the item (cleared)
    assert this_round[DING]["status"] == "settled" and this_round[DING]["verdict"]["enterprise"] == bing
    december = _by_check(town, round_=NEXT, town=None)
    assert NAMES[YI] not in december.get("tax_without_registration", set()), "settled in an earlier round"
    assert DING not in december.get("unmatched", set())

    undo = "mutation ($id: String!) { undoVerdict(id: $id) { id verdict } }"
    town.data(undo, Role.STEWARD, id=this_round[NAMES[YI]]["verdict"]["id"])
    assert NAMES[YI] in _by_check(town, round_=NEXT)["tax_without_registration"], "open again"


def test_the_dashboard_and_the_monthly_report(town: GraphQLClient, tmp_path: Path) -> None:
    _match_wu(town)
    town.data(
        'mutation ($e: String!) { recordFieldCheck(enterpriseId: $e, status: STOPPED, note: "锁门") { id } }',
        Role.STEWARD,
        e=f"E-{WU}",
    )
    board = town.data(
        """query ($t: String!) { townDashboard(town: $t, month: "2026-10") {
             town month enterprises byStatus { value count }
             monthly { month tax electricityKwh taxYoy electricityYoy }
             longShutdown { name lastActive months } profitReported
             openVerifications { kind name } verifications { received handled open }
             fieldChecks { value count } } }""",
        Role.ANALYST,
        t=TOWN,
    )["townDashboard"]
    assert board["town"] == TOWN and board["month"] == "2026-10" and board["enterprises"] >= 4
    october = board["monthly"][-1]
    assert october["month"] == "2026-10" and october["tax"] == 1000.0 and october["taxYoy"] == 0.0
    # 甲 20,000 + 丙 5,000 + 戊 0 kWh (丁 names no town); a year before only 甲 (20,000)
    assert october["electricityKwh"] == 25000.0 and october["electricityYoy"] == 0.25
    assert board["longShutdown"] == [{"name": NAMES[WU], "lastActive": "2026-03", "months": 7}]
    assert board["profitReported"] is False
    assert {v["name"] for v in board["openVerifications"]} == {NAMES[YI], NAMES[BING]}
    assert board["fieldChecks"] == [{"value": "stopped", "count": 1}, {"value": "total", "count": 1}]
    # received: 乙, 丙, 戊's task (丁 is of no town); handled: 戊's task, matched
    assert board["verifications"] == {"received": 3, "handled": 1, "open": 2}

    effectiveness = town.data("{ townEffectiveness { town verifications { received open } } }", Role.ANALYST)
    assert {
        "town": TOWN,
        "verifications": {
            "received": board["verifications"]["received"],
            "open": board["verifications"]["open"],
        },
    } in [
        {"town": e["town"], "verifications": e["verifications"]} for e in effectiveness["townEffectiveness"]
    ]

    client, secret = town.client, town.secret
    report = client.get(f"/towns/{TOWN}/report.xlsx", params={"month": "2026-10"},
                        headers=bearer(secret, Role.ANALYST))  # fmt: skip
    assert report.status_code == 200, report.text
    book = openpyxl.load_workbook(io.BytesIO(report.content))
    assert book.sheetnames == ["概况", "月度指标", "重点企业变化", "长期停业", "亏损", "待办", "效能"]
    dormant = book["长期停业"]
    assert [dormant.cell(3, n).value for n in (1, 3, 4)] == [NAMES[WU], "2026-03", 7]
    sheet = client.get(f"/towns/{TOWN}/verification.xlsx", headers=bearer(secret, Role.STEWARD))
    assert sheet.status_code == 200
    listed = openpyxl.load_workbook(io.BytesIO(sheet.content))
    assert listed["有税务无工商"].cell(3, 1).value == NAMES[YI]
    assert client.get(f"/towns/{TOWN}/report.xlsx").status_code in (401, 403)
