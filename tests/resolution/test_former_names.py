"""A feed that gives an enterprise's former name (a 曾用名 column, or 原名：... in the name cell) finds the
enterprise a register still knows by that name; without it, the new name alone does not."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.engine import Loader
from entgraph.resolution.features import former_names
from entgraph.resolution.mentions import Mention
from entgraph.resolution.resolver import Resolver

pytestmark = pytest.mark.slow

OLD, NEW = "晋江市恒达鞋业有限公司", "晋江市恒通鞋业有限公司"
TRADES = [a + b for a in "鸿华丰盛祥鑫源龙泰宏金永建" for b in "安兴利嘉凯瑞福宝辉美顺昌" if a != b]
INDUSTRIES = ["服装", "纺织", "陶瓷", "食品", "机械", "塑胶", "包装"]

# an integrator's feed with a 曾用名 column (no seed dataset has one)
RENAMED_SPEC = """
key = "t_renamed_enterprises"
city = "晋江"
department = "市工信局"
title = "企业更名名单"
seed = "test"
seed_fields = ["企业名称", "曾用名", "联系方式"]
frequency = "annual"
record_label = "RenamedEnterprise"
file_patterns = ["*企业更名名单*"]

[[columns]]
header = "企业名称"
field = "enterprise_name"
required = true
role = "enterprise_name"

[[columns]]
header = "曾用名"
field = "former_name"
role = "former_name"

[[columns]]
header = "联系方式"
field = "contact_phone"
role = "phone"
"""


def _mention(name: str, former: str | None = None) -> Mention:
    attributes = {"name": name} | ({"former_name": former} if former else {})
    return Mention(
        id="r|subject", record_id="r", party="subject", dataset="d", department="x", loaded_at="",
        attributes=attributes,
    )  # fmt: skip


def test_former_names_come_from_the_column_and_the_name_cell() -> None:
    assert former_names(_mention(NEW, f"{OLD}；晋江恒达鞋业")) == [OLD, "晋江恒达鞋业"]
    assert former_names(_mention(f"{NEW}（原名：{OLD}）")) == [OLD]
    assert former_names(_mention(NEW, NEW)) == []  # its own name is no former one
    assert former_names(_mention(NEW)) == []


def test_a_feed_giving_the_former_name_finds_a_register_that_still_has_it(
    fresh_graph: GraphStore, tmp_path: Path
) -> None:
    rnd = random.Random(3)
    register = [(OLD, "13905950001")] + [
        (f"晋江市{trade}{rnd.choice(INDUSTRIES)}有限公司", f"1390596{k:04d}")
        for k, trade in enumerate(rnd.sample(TRADES, 50))
    ]
    codes = {name: make_credit_code("350582", f"MA{k:06d}") for k, (name, _) in enumerate(register)}
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "t_renamed_enterprises.toml").write_text(RENAMED_SPEC, encoding="utf-8")
    catalog = Catalog.load([specs], entry_points=False)
    loader = Loader(fresh_graph, catalog, tmp_path / "reports")
    files = [
        write_csv(
            tmp_path / "市场主体登记信息.csv",
            ["企业名称", "联系电话", "统一社会信用代码"],
            [[name, phone, codes[name]] for name, phone in register],
        ),
        write_csv(
            tmp_path / "企业更名名单.csv",
            ["企业名称", "曾用名", "联系方式"],
            # the renamed enterprise, then others by their registered names abbreviated (to train on)
            [[NEW, OLD, ""]] + [[name.removeprefix("晋江市"), "", phone] for name, phone in register[1:40]],
        ),
        write_csv(
            tmp_path / "瞪羚企业名单.csv",
            ["企业名称", "认定时间", "联系方式"],
            [[f"{NEW}（原名：{OLD}）", "2023-03-01", ""], [NEW, "2023-03-01", ""]],
        ),
    ]
    for path in files:
        result = loader.load(path)
        assert result.loaded == result.rows_read, result
    Resolver(fresh_graph, catalog, tmp_path / "model.json").run()
    rows = fresh_graph.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE r.dataset IN $d "
        "RETURN r.enterprise_name AS name, r.dataset AS d, e.id AS e, a.method AS m, a.explanation AS x",
        {"d": ["t_renamed_enterprises", "jj_gazelle_enterprises"]},
    )
    by = {(row["d"], row["name"]): row for row in rows}
    old_id = f"E-{codes[OLD]}"
    # (the loader keeps the cell with half-width brackets and colons)
    for key in (("t_renamed_enterprises", NEW), ("jj_gazelle_enterprises", f"{NEW}(原名:{OLD})")):
        link = by.get(key) or pytest.fail(f"{key} not linked; links: {sorted(by)}")
        assert (link["e"], link["m"]) == (old_id, "splink"), key
        assert any(step[0] == "former name" for step in json.loads(link["x"]))
    # the new name alone is a different 字号: nothing ties it to the old enterprise
    assert by.get(("jj_gazelle_enterprises", NEW), {}).get("e") != old_id
    # the abbreviations still link by their own names
    own = {
        name: (by.get(("t_renamed_enterprises", name.removeprefix("晋江市"))) or {}).get("e")
        for name, _ in register[1:40]
    }
    assert sum(1 for name, e in own.items() if e == f"E-{codes[name]}") >= 35
    assert all(e is None or e == f"E-{codes[name]}" for name, e in own.items())
