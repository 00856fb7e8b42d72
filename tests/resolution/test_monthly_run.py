"""A monthly run reads of the city only what matching needs and parses no name it parsed before, yet
leaves every enterprise it updates whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.identity import chinese_names as names
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.engine import Loader
from entgraph.resolution import name_memo
from entgraph.resolution.enterprises import EnterpriseIndex
from entgraph.resolution.golden import Source
from entgraph.resolution.mentions import Mention
from entgraph.resolution.resolver import Resolver

REGISTER = [
    ("晋江市恒达鞋业有限公司", "王建国", "13905951001", "陈埭镇江头村", "鞋、服装制造", "陈埭镇"),
    ("晋江市华兴陶瓷有限公司", "林秀英", "13905951002", "磁灶镇大埔村", "陶瓷制品制造", "磁灶镇"),
    ("福建省永盛食品有限公司", "陈志明", "13905951003", "安海镇前埔路", "糕点、饼干制造", "安海镇"),
]


@pytest.fixture
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's parses forgotten, as in a new process."""
    monkeypatch.setattr(names, "_PARSED", {})
    monkeypatch.setattr(names, "_PINYIN", {})


def test_saved_parses_are_taken_back_without_parsing(
    tmp_path: Path, fresh_memo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "name-memo.json"
    parsed = names.parse_name("恒达(晋江)鞋业有限公司陈埭分公司")
    reading = names.core_pinyin(parsed) if parsed else ""
    assert name_memo.save(path) == 1
    monkeypatch.setattr(names, "_PARSED", {})
    monkeypatch.setattr(names, "_PINYIN", {})

    def no_parsing(raw: str) -> None:
        raise AssertionError(f"{raw} parsed again")

    monkeypatch.setattr(names, "_parse_uncached", no_parsing)
    assert name_memo.prime(path) == 1
    again = names.parse_name("恒达(晋江)鞋业有限公司陈埭分公司")
    assert again == parsed and again is not None
    assert (again.region_code, again.branch, again.core) == ("晋江", "陈埭分公司", "恒达鞋业")
    assert names.core_pinyin(again) == reading == "hengdaxieye"
    assert names.name_variants("恒达(晋江)鞋业有限公司陈埭分公司")  # the regionless form came back too


def test_a_memo_of_other_code_or_garbage_is_ignored(tmp_path: Path, fresh_memo: None) -> None:
    path = tmp_path / "name-memo.json"
    names.parse_name("晋江市恒达鞋业有限公司")
    name_memo.save(path)
    body = json.loads(path.read_text(encoding="utf-8"))
    body["fingerprint"] = "written by another version"
    path.write_text(json.dumps(body), encoding="utf-8")
    assert name_memo.prime(path) == 0
    body["fingerprint"] = name_memo.fingerprint()
    body["parsed"] = {"晋江市恒达鞋业有限公司": ["too", "short"]}
    path.write_text(json.dumps(body), encoding="utf-8")
    assert name_memo.prime(path) == 0
    path.write_text("{not json", encoding="utf-8")
    assert name_memo.prime(path) == 0
    assert name_memo.prime(tmp_path / "absent.json") == 0


def _load(store: FalkorDBStore, catalog: Catalog, path: Path) -> None:
    result = Loader(store, catalog, path.parent / "reports").load(path)
    assert result.loaded == result.rows_read, result


def test_a_monthly_run_updates_enterprises_whole(
    fresh_graph: GraphStore, tmp_path: Path, fresh_memo: None
) -> None:
    catalog = Catalog.load(entry_points=False)
    codes = [make_credit_code("350582", f"MA{k:06d}") for k in range(len(REGISTER))]
    write_csv(
        tmp_path / "企业登记信息.csv",
        ["企业名称", "法人代表", "联系电话", "地址", "统一社会信用代码", "经营范围", "所属地区"],
        [[n, rep, phone, addr, code, scope, town] for (n, rep, phone, addr, scope, town), code in zip(
            REGISTER, codes, strict=True)],
    )  # fmt: skip
    _load(fresh_graph, catalog, tmp_path / "企业登记信息.csv")
    Resolver(fresh_graph, catalog, tmp_path / "model.json").run()
    memo = json.loads((tmp_path / "name-memo.json").read_text(encoding="utf-8"))
    assert {n for n, *_ in REGISTER} <= set(memo["parsed"])  # the next run parses none of them

    # the index a run starts from holds what matching needs, not golden sources nor business scope
    index = EnterpriseIndex.load(fresh_graph)
    first = f"E-{codes[0]}"
    assert index.partial == set(index.props) and "golden_sources" not in index.props[first]
    with pytest.raises(RuntimeError, match="read whole"):
        index.offer(first, _mention(), Source("r1", "jj_gazelle_enterprises", 9, "2023-03-01"), True)

    # a month later the taxpayers' register names the first enterprise, with another representative
    write_csv(
        tmp_path / "一般纳税人登记清册.csv",
        ["社会信用代码（纳税人识别号）", "纳税人名称", "法定代表人姓名"],
        [[codes[0], "晋江市恒达鞋业有限公司", "王小明"]],
    )
    _load(fresh_graph, catalog, tmp_path / "一般纳税人登记清册.csv")
    summary = Resolver(fresh_graph, catalog, tmp_path / "model.json").run()
    assert summary.methods == {"credit_code": 1}
    (row,) = fresh_graph.read("MATCH (e:Enterprise {id: $id}) RETURN e AS e", {"id": first})
    props = dict(row["e"])
    # what the index did not read is still there, and its sources still say where it came from
    assert props["business_scope"] == "鞋、服装制造"
    sources = json.loads(props["golden_sources"])
    assert sources["business_scope"][1] == "jj_enterprise_registration"
    # the register outranks the tax office: its values and their sources stand
    assert props["legal_rep"] == "王建国" and sources["legal_rep"][1] == "jj_enterprise_registration"
    assert props["address"] == "陈埭镇江头村"
    assert props["name_tokens"]


def _mention() -> Mention:
    return Mention(
        id="r1|subject", record_id="r1", party="subject", dataset="jj_gazelle_enterprises",
        department="工信", loaded_at="2023-03-05", attributes={"name": "晋江市恒达鞋业有限公司"},
    )  # fmt: skip
