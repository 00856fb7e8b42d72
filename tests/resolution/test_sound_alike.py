"""A name written like no registered enterprise but sounding like exactly one (a pinyin input slip: 华 typed
化) links to it when the city's coded records say such names are that enterprise; not when they say
otherwise, and never when two registered enterprises sound alike."""

from __future__ import annotations

import dataclasses
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
from entgraph.resolution.matching import default_settings
from entgraph.resolution.resolver import Resolver
from entgraph.resolution.sound_alike import MIN_SEEN, SoundAlikeTally, SoundIndex

# first characters a clerk's input method swaps for another of the same sound
SLIPS = dict(zip("华丰盛祥源泰金永建", "化峰胜翔元太今勇健", strict=True))
SECONDS = "安利嘉凯瑞福宝辉美顺昌"
INDUSTRIES = ["鞋业", "服装", "纺织", "陶瓷", "食品", "机械", "塑胶", "包装"]
# two registered enterprises whose cores sound the same: a third spelling is neither's by sound
TWINS = ["晋江市华兴鞋业有限公司", "晋江市化兴鞋业有限公司"]


def _slip(name: str) -> str:
    """The name with its 字号's first character typed as a homophone."""
    trade_at = len("晋江市")
    return name[:trade_at] + SLIPS[name[trade_at]] + name[trade_at + 1 :]


def test_the_index_answers_only_for_one_unwritten_sound() -> None:
    index = SoundIndex(
        [
            ({"name": "晋江市华达商品混凝土有限公司"}, "E-1"),
            ({"name": TWINS[0]}, "E-2"),
            ({"name": TWINS[1], "former_names": ["晋江市丰泰陶瓷有限公司"]}, "E-3"),
        ]
    )
    assert index.only_sound_alike("化达商品混凝土有限公司") == "E-1"
    assert index.only_sound_alike("福建化达商品混凝土股份有限公司") == "E-1"  # region, form aside
    assert index.only_sound_alike("华达商品混凝土有限公司") is None  # written so: the matcher's case
    assert index.only_sound_alike("滑兴鞋业") is None  # sounds like two
    assert index.only_sound_alike("峰泰陶瓷") == "E-3"  # a former name counts as registered
    assert index.only_sound_alike("化达商品混凝土有限公司泉州分公司") is None  # a branch is not its parent
    assert index.only_sound_alike(None) is None


def test_the_tally_is_trusted_only_when_enough_was_seen(tmp_path: Path) -> None:
    tally = SoundAlikeTally()
    tally.learn([True] * (MIN_SEEN - 1))
    assert tally.precision is None  # too few to say
    tally.learn([True] * MIN_SEEN + [False])
    assert tally.precision == pytest.approx((MIN_SEEN + 1) / (MIN_SEEN + 3))
    tally.learn([False] * 3)  # a small run does not replace a larger lesson
    assert tally.seen == MIN_SEEN + 1
    path = tmp_path / "sound-alike.json"
    tally.save(path)
    assert SoundAlikeTally.load(path) == tally
    path.write_text("[1, 2]", encoding="utf-8")
    assert SoundAlikeTally.load(path) == SoundAlikeTally()  # a file of another shape: learn afresh


def _city(tmp: Path, honest: bool) -> tuple[list[tuple[str, str]], list[str], set[str]]:
    """A register, a coded taxpayers' register typing 40 names by sound, and a code-less list.

    ``honest``: the taxpayers' rows typed by sound carry their own enterprise's code; otherwise the
    code of another enterprise (a city where such names are usually someone else)."""
    rnd = random.Random(11)
    trades = [a + b for a in SLIPS for b in SECONDS]
    names = [f"晋江市{t}{rnd.choice(INDUSTRIES)}有限公司" for t in rnd.sample(trades, 60)]
    names += TWINS
    register = [(n, make_credit_code("350582", f"MA{k:06d}")) for k, n in enumerate(names)]
    taught, rest = register[:40], register[40:-2]
    write_csv(
        tmp / "企业登记信息.csv",
        ["企业名称", "联系电话", "统一社会信用代码"],
        [[n, f"1390595{k:04d}", code] for k, (n, code) in enumerate(register)],
    )
    codes = [code for _, code in taught]
    if not honest:
        codes = codes[1:] + codes[:1]
    write_csv(
        tmp / "一般纳税人登记清册.csv",
        ["社会信用代码（纳税人识别号）", "纳税人名称", "法定代表人姓名"],
        [[code, _slip(n), ""] for (n, _), code in zip(taught, codes, strict=True)],
    )
    slipped = [_slip(n).removeprefix("晋江市") for n, _ in rest]
    rows = [[name, "2023-03-01", "", "", ""] for name in [*slipped[:-1], "滑兴鞋业有限公司"]]
    rows.append([slipped[-1], "2023-03-01", "13705952468", "", ""])  # not its registered phone
    # the same list also names 30 taught enterprises as registered (the matcher's plain work)
    rows += [[n.removeprefix("晋江市"), "2023-03-01", "", "", ""] for n, _ in taught[:30]]
    write_csv(tmp / "瞪羚企业名单.csv", ["企业名称", "认定时间", "联系方式", "联系人", "负责人"], rows)
    return rest, slipped, {f"E-{code}" for _, code in register[-2:]}


def _resolve(store: FalkorDBStore, tmp: Path) -> dict[str, tuple[str, str, list]]:
    catalog = Catalog.load(entry_points=False)
    loader = Loader(store, catalog, tmp / "reports")
    for file in ("企业登记信息.csv", "一般纳税人登记清册.csv", "瞪羚企业名单.csv"):
        result = loader.load(tmp / file)
        assert result.loaded == result.rows_read, result
    # the prior of a city of 50,000 enterprises, where a bare sound-alike is no link on the matcher alone
    settings = dataclasses.replace(default_settings(), prior=2e-5)
    Resolver(store, catalog, tmp / "model.json", match_settings=settings).run()
    rows = store.read(
        "MATCH (r:SourceRecord {dataset: 'jj_gazelle_enterprises'})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.enterprise_name AS name, e.id AS e, a.method AS m, a.explanation AS x"
    )
    return {row["name"]: (row["e"], row["m"], json.loads(row["x"] or "[]")) for row in rows}


def _run(store: FalkorDBStore, tmp: Path, honest: bool):
    rest, slipped, twins = _city(tmp, honest)
    links = _resolve(store, tmp)
    return rest, slipped, twins, links, SoundAlikeTally.load(tmp / "sound-alike.json")


def _steps(link: tuple[str, str, list] | None) -> list[str]:
    return [step[0] for step in (link[2] if link else [])]


@pytest.mark.slow
def test_a_sound_alike_links_when_coded_records_vouch_for_it(fresh_graph: GraphStore, tmp_path: Path) -> None:
    rest, slipped, twins, links, tally = _run(fresh_graph, tmp_path, honest=True)
    assert (tally.hits, tally.seen) == (40, 40)
    *bare, (_, phoned_code) = rest
    by_rule = 0
    for (name, code), written in zip(bare, slipped, strict=False):
        target, method, explanation = links.get(written) or pytest.fail(f"{written} ({name}) not linked")
        assert (target, method) == (f"E-{code}", "splink"), written
        by_rule += any(step[0] == "sound-alike" and "40 of 40" in step[1] for step in explanation)
    # the matcher alone leaves a bare sound-alike below the link band: the rule made these links
    assert by_rule >= len(bare) // 2, by_rule
    # the last one gives a phone that is not its registered one: not linked by sound
    phoned = links.get(slipped[-1])
    assert "sound-alike" not in _steps(phoned) and (phoned or ("",))[0] != f"E-{phoned_code}"
    # 滑兴 sounds like both 华兴 and 化兴: a steward's, not a link to either
    assert links.get("滑兴鞋业有限公司", ("",))[0] not in twins


@pytest.mark.slow
def test_a_sound_alike_waits_where_coded_records_say_it_is_someone_else(
    fresh_graph: GraphStore, tmp_path: Path
) -> None:
    rest, slipped, _, links, tally = _run(fresh_graph, tmp_path, honest=False)
    assert (tally.hits, tally.seen) == (0, 40)
    assert not any("sound-alike" in _steps(links.get(w)) for w in slipped), "the rule fired anyway"
    linked = [w for (_, code), w in zip(rest, slipped, strict=True) if links.get(w, ("",))[0] == f"E-{code}"]
    assert len(linked) < len(rest), "every sound-alike linked without the rule: the test shows nothing"
