"""A new city's first steps, with department files written by hand (seed headers, not our generator):
the register alone, then feeds that carry no codes. Resolution must not crash, must not need a
single labelled pair, must not link a name several enterprises share on weak evidence, and must use a
contact person (负责人) as evidence without taking one for the legal representative."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver

pytestmark = pytest.mark.slow

TRADES = [a + b for a in "恒鸿达华丰盛祥鑫源龙泰宏金永建" for b in "安兴利嘉凯瑞福泰宝辉美顺昌" if a != b]
INDUSTRIES = ["鞋业", "服装", "纺织", "陶瓷", "食品", "机械", "塑胶", "包装"]
TOWNS = ["安海镇", "陈埭镇", "池店镇", "磁灶镇", "东石镇"]
SURNAMES = "王李张刘陈杨黄赵吴周林郑"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超"
# three registered enterprises sharing the core 恒达鞋业 (legal: they differ in region or legal form)
SHARED = [
    ("晋江市恒达鞋业有限公司", "陈志明", "13905951111", "安海镇"),
    ("泉州恒达鞋业有限公司", "黄丽娟", "13905952222", "陈埭镇"),
    ("福建恒达鞋业股份有限公司", "林国强", "13905953333", "池店镇"),
]


def _register(n: int = 80, seed: int = 5) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    trades = rnd.sample(TRADES, n)
    out = []
    for k, (name, rep, phone, town) in enumerate(SHARED):
        out.append({"name": name, "rep": rep, "phone": phone, "town": town, "k": str(k)})
    for k, trade in enumerate(trades, start=len(SHARED)):
        out.append(
            {
                "name": f"晋江市{trade}{rnd.choice(INDUSTRIES)}有限公司",
                "rep": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                "phone": f"1390595{k:04d}",
                "town": rnd.choice(TOWNS),
                "k": str(k),
            }
        )
    for row in out:
        row["code"] = make_credit_code("350582", f"MA{int(row['k']):06d}")
    return out


@pytest.fixture(scope="module")
def register() -> list[dict[str, str]]:
    return _register()


@pytest.fixture
def store(fresh_graph: GraphStore) -> FalkorDBStore:
    return fresh_graph


def _load(store: FalkorDBStore, tmp: Path, *files: Path) -> None:
    loader = Loader(store, Catalog.load(entry_points=False), tmp / "reports")
    for path in files:
        result = loader.load(path)
        assert result.loaded == result.rows_read, f"{path.name}: {result}"


def _register_file(tmp: Path, register: list[dict[str, str]]) -> Path:
    return write_csv(
        tmp / "市场主体登记信息.csv",
        ["企业名称", "法人代表", "联系电话", "统一社会信用代码", "所属地区"],
        [[r["name"], r["rep"], r["phone"], r["code"], r["town"]] for r in register],
    )


def _links(store: FalkorDBStore, dataset: str) -> dict[str, tuple[str, str]]:
    rows = store.read(
        "MATCH (r:SourceRecord {dataset: $d})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.enterprise_name AS name, r.contact_phone AS phone, e.id AS e, a.method AS m",
        {"d": dataset},
    )
    return {f"{row['name']}|{row['phone'] or ''}": (row["e"], row["m"]) for row in rows}


def _tasks(store: FalkorDBStore) -> dict[str, dict]:
    rows = store.read("MATCH (t:StewardTask) RETURN t.name AS name, t.candidates AS c, t.status AS s")
    return {row["name"]: {"candidates": json.loads(row["c"]), "status": row["s"]} for row in rows}


def test_the_register_alone_resolves_without_a_model(
    store: FalkorDBStore, tmp_path: Path, register: list[dict[str, str]]
) -> None:
    _load(store, tmp_path, _register_file(tmp_path, register))
    model = tmp_path / "model.json"
    summary = Resolver(store, Catalog.load(entry_points=False), model).run()
    assert summary.methods == {"credit_code": len(register)}
    assert summary.tasks == 0
    assert not model.exists(), "coded records need no model"
    assert summary.training is None


def test_code_less_feeds_in_a_register_only_city(
    store: FalkorDBStore, tmp_path: Path, register: list[dict[str, str]]
) -> None:
    """Every feed but the register names enterprises only: the matcher trains without labels, a
    name three enterprises share becomes a task (not a link) unless a phone or person separates
    one, and a 负责人 equal to the register's legal representative counts as evidence."""
    catalog = Catalog.load(entry_points=False)
    model = tmp_path / "model.json"
    _load(store, tmp_path, _register_file(tmp_path, register))
    Resolver(store, catalog, model).run()
    rnd = random.Random(9)
    others = register[len(SHARED) :]
    rows = []
    for r in others[:60]:
        # the department's habit: region dropped, phone and contact as the register has them
        short = r["name"].removeprefix("晋江市")
        # 联系人 is often someone else (an accountant): that is no evidence against the enterprise
        contact = rnd.choice(["", r["rep"], "张会计", "李敏"])
        rows.append([short, "2023-03-01", r["phone"], contact, ""])
    rows += [
        ["恒达鞋业有限公司", "2023-03-01", "", "", ""],  # fits all three: a steward decides
        # 晋江's full name exactly, nothing else: a written region is rarely another enterprise's, so
        # it separates 晋江 from 泉州 and 福建 even in a feed never seen with codes
        ["晋江市恒达鞋业有限公司", "2023-03-01", "", "", ""],
        # only the legal form of 福建's name: departments swap legal forms, so it separates nobody
        ["恒达鞋业股份有限公司", "2023-03-01", "", "", ""],
        ["恒达鞋业有限公司", "2023-03-01", SHARED[1][2], "", ""],  # 泉州's phone separates it
        # no phone, but 晋江's legal representative as 负责人; the region written in brackets
        ["恒达(晋江)鞋业有限公司", "2023-03-01", "", "", SHARED[0][1]],
    ]
    gazelle = write_csv(
        tmp_path / "瞪羚企业名单.csv", ["企业名称", "认定时间", "联系方式", "联系人", "负责人"], rows
    )
    _load(store, tmp_path, gazelle)
    summary = Resolver(store, catalog, model).run()
    assert summary.trained and model.exists()
    assert summary.training and "labelled pairs" in summary.training and "EM" in summary.training
    links = _links(store, "jj_gazelle_enterprises")
    codes = {r["name"]: f"E-{r['code']}" for r in register}
    # the plain abbreviations link to the right enterprise
    plain = [(f"{r['name'].removeprefix('晋江市')}|{r['phone']}", codes[r["name"]]) for r in others[:60]]
    linked = [(key, want) for key, want in plain if key in links]
    assert len(linked) >= 55
    assert all(links[key][0] == want for key, want in linked)
    # the bare shared name is not linked: it is a task naming the shared core
    assert "恒达鞋业有限公司|" not in links
    task = _tasks(store)["恒达鞋业有限公司"]
    assert {c["enterprise_id"] for c in task["candidates"]} <= {codes[n] for n, *_ in SHARED}
    reason = [step for step in task["candidates"][0]["explanation"] if step[0] == "shared core"]
    assert reason and "3 enterprises share 恒达鞋业" in reason[0][1]
    assert links["晋江市恒达鞋业有限公司|"][0] == codes[SHARED[0][0]]
    assert "恒达鞋业股份有限公司|" not in links
    best = _tasks(store)["恒达鞋业股份有限公司"]["candidates"][0]
    assert best["enterprise_id"] == codes[SHARED[2][0]]
    assert any(step[0] == "shared core" and "not separated" in step[1] for step in best["explanation"])
    # a phone separates 泉州; the 负责人 separates 晋江 despite the bracketed region
    assert links[f"恒达鞋业有限公司|{SHARED[1][2]}"][0] == codes[SHARED[1][0]]
    assert links["恒达(晋江)鞋业有限公司|"][0] == codes[SHARED[0][0]]


def test_the_model_is_refined_when_coded_feeds_arrive(
    store: FalkorDBStore, tmp_path: Path, register: list[dict[str, str]]
) -> None:
    """Trained without labels at first (priors + EM), the matcher trains again by itself once a coded
    feed brings labels it never had, and not on the next run that brings none."""
    catalog = Catalog.load(entry_points=False)
    model = tmp_path / "model.json"
    _load(store, tmp_path, _register_file(tmp_path, register))
    Resolver(store, catalog, model).run()
    others = register[len(SHARED) :]
    names_only = [[r["name"].removeprefix("晋江市"), "2023-03-01", r["phone"], "", ""] for r in others[:30]]
    header = ["企业名称", "认定时间", "联系方式", "联系人", "负责人"]
    _load(store, tmp_path, write_csv(tmp_path / "瞪羚企业名单.csv", header, names_only))
    first = Resolver(store, catalog, model).run()
    assert first.trained and "labels" not in (first.training or "")
    # the general taxpayers' register: every row coded (社会信用代码 as 纳税人识别号), names abbreviated
    taxpayers = [[r["code"], r["name"].removeprefix("晋江市"), r["rep"]] for r in others]
    tax_header = ["社会信用代码（纳税人识别号）", "纳税人名称", "法定代表人姓名"]
    _load(store, tmp_path, write_csv(tmp_path / "一般纳税人登记清册.csv", tax_header, taxpayers))
    later = [[r["name"].removeprefix("晋江市"), "2023-04-01", r["phone"], "", ""] for r in others[30:40]]
    _load(store, tmp_path, write_csv(tmp_path / "瞪羚企业名单_2.csv", header, later))
    refined = Resolver(store, catalog, model).run()
    assert refined.trained and "labels" in (refined.training or "")
    again = [[r["name"].removeprefix("晋江市"), "2023-05-01", r["phone"], "", ""] for r in others[40:45]]
    _load(store, tmp_path, write_csv(tmp_path / "瞪羚企业名单_3.csv", header, again))
    kept = Resolver(store, catalog, model).run()
    assert not kept.trained and "reused" in (kept.training or "")
