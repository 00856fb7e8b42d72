"""Judgement replay rules and golden-record survivorship (pure logic, no store)."""

from __future__ import annotations

from entgraph.resolution.golden import GoldenRecord, better, priority_of, recompute, source_of
from entgraph.resolution.judgements import JudgementBook
from entgraph.resolution.mentions import Mention


def _j(kind: str, subject: str, obj: str, at: str) -> dict:
    return {"kind": kind, "subject": subject, "object": obj, "at": at}


def test_a_link_is_replayed_for_the_mention_and_for_its_name() -> None:
    book = JudgementBook([_j("link", "name:恒安鞋业|陈埭镇", "E-1", "2026-01-01")])
    assert book.link_for(["mention:r1|subject", "name:恒安鞋业|陈埭镇"]) == "E-1"
    assert book.link_for(["mention:r1|subject", "name:恒安鞋业|池店镇"]) is None


def test_a_record_level_decision_beats_the_name_level_one() -> None:
    book = JudgementBook(
        [
            _j("link", "name:恒安鞋业|", "E-1", "2026-01-01"),
            _j("link", "mention:r1|subject", "E-2", "2026-01-02"),
        ]
    )
    assert book.link_for(["mention:r1|subject", "name:恒安鞋业|"]) == "E-2"
    assert book.link_for(["mention:r2|subject", "name:恒安鞋业|"]) == "E-1"


def test_a_later_judgement_on_the_same_pair_wins() -> None:
    book = JudgementBook(
        [_j("link", "name:a|", "E-1", "2026-01-02"), _j("reject", "name:a|", "E-1", "2026-01-01")]
    )
    assert book.link_for(["name:a|"]) == "E-1"
    assert not book.forbids(["name:a|"], "E-1")
    book = JudgementBook(
        [_j("link", "name:a|", "E-1", "2026-01-01"), _j("reject", "name:a|", "E-1", "2026-01-02")]
    )
    assert book.link_for(["name:a|"]) is None
    assert book.forbids(["name:a|"], "E-1")


def test_links_and_rejections_follow_merges_to_the_survivor() -> None:
    book = JudgementBook(
        [
            _j("link", "name:a|", "P-1", "2026-01-01"),
            _j("reject", "name:b|", "P-2", "2026-01-01"),
            _j("merge", "P-1", "E-9", "2026-01-02"),
            _j("merge", "P-2", "E-8", "2026-01-02"),
        ]
    )
    assert book.link_for(["name:a|"]) == "E-9"
    assert book.forbids(["name:b|"], "E-8")
    assert not book.forbids(["name:b|"], "E-9")


def test_a_split_forbids_the_old_enterprise_and_is_found_by_mention() -> None:
    book = JudgementBook(
        [
            _j("link", "mention:r1|subject", "E-1", "2026-01-01"),
            _j("split", "mention:r1|subject", "E-1", "2026-01-02"),
        ]
    )
    assert book.split_from(["mention:r1|subject"]) == "E-1"
    assert book.link_for(["mention:r1|subject"]) is None
    assert book.forbids(["mention:r1|subject"], "E-1")


def _mention(record: str, department: str, loaded_at: str, **attributes: object) -> Mention:
    return Mention(record, record, "subject", "ds", department, loaded_at, attributes=attributes)


def test_source_priority_market_regulation_then_tax_then_the_rest() -> None:
    assert priority_of("市市场监督管理局") == 0
    assert priority_of("市市场监管局") == 0
    assert priority_of("市税务局") == 1
    assert priority_of("市供电公司") == 2


def test_golden_values_come_from_the_best_source_then_the_latest() -> None:
    power = _mention("p", "市供电公司", "2026-03-01", name="恒安鞋业", phone="111")
    tax_old = _mention("t1", "市税务局", "2026-01-01", name="晋江恒安鞋业有限公司", phone="222")
    tax_new = _mention("t2", "市税务局", "2026-02-01", phone="333")
    market = _mention("m", "市市场监管局", "2025-01-01", name="晋江市恒安鞋业有限公司")
    golden = recompute([(power, None), (tax_old, None), (tax_new, None), (market, None)])
    assert golden.values["name"] == "晋江市恒安鞋业有限公司"
    assert golden.sources["name"].record_id == "m"
    assert golden.values["phone"] == "333"  # tax beats power; the newer tax record beats the older
    assert golden.sources["phone"].record_id == "t2"


def test_golden_is_the_same_in_any_order_and_survives_a_round_trip() -> None:
    ms = [
        (_mention("a", "市税务局", "2026-01-01", legal_rep="张三"), "2026-01"),
        (_mention("b", "市税务局", "2026-01-01", legal_rep="李四"), "2026-02"),
        (_mention("c", "市统计局", "2026-05-01", legal_rep="王五"), "2026-05"),
    ]
    forward, backward = recompute(ms), recompute(list(reversed(ms)))
    assert forward.values == backward.values == {"legal_rep": "李四"}
    restored = GoldenRecord.from_props({**forward.props(), "id": "E-1"})
    assert restored.values["legal_rep"] == "李四"
    assert not restored.offer(
        ms[0][0], source_of(ms[0][0], ms[0][1])
    )  # an older, equal source changes nothing


def test_former_names_are_kept_but_never_the_current_name() -> None:
    old = _mention("a", "市税务局", "2026-01-01", name="新名有限公司", former_name="旧名有限公司")
    golden = recompute([(old, None)])
    props = golden.props()
    assert props["former_names"] == ["旧名有限公司"]
    assert props["name"] == "新名有限公司"


def test_better_prefers_priority_over_recency() -> None:
    a = source_of(_mention("a", "市市场监管局", "2020-01-01"), None)
    b = source_of(_mention("b", "市统计局", "2026-01-01"), None)
    assert better(a, b)
    assert not better(b, a)
