"""Closed-loop warnings: the rules on hand-made facts (exact findings), their storage and lifecycle on a
real FalkorDB graph, and ``collect_facts`` on a small graph of source records built with plain Cypher."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import CountingStore, RetryingStore
from entgraph.errors import ConfigurationError
from entgraph.graph import metric_queries
from entgraph.graph import warning_queries as wq
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.metric_queries import MetricSource
from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey
from entgraph.telemetry import warning_lifecycle
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter
from entgraph.telemetry.warnings import (
    CST,
    EnterpriseFacts,
    Facts,
    Finding,
    WarningRules,
    collect_facts,
    evaluate,
    evaluate_city,
    load_rules,
)

pytestmark = pytest.mark.stores

EXAMPLE = Path(__file__).resolve().parents[2] / "telemetry" / "warning_rules.example.toml"
# 2026-11-30 10:00 CST: the last complete month is 2026-10; the default lookback judges 08, 09 and 10.
AS_OF = int(dt.datetime(2026, 11, 30, 10, 0, tzinfo=CST).timestamp() * 1000)
HOUR = 3_600_000
YEAR = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]  # the 12-month window


def only(rule: str, **changes: Any) -> WarningRules:
    """The default rules with every rule but ``rule`` disabled, ``rule`` changed by ``changes``."""
    names = ("tax_per_kwh_low", "zero_consumption", "sudden_drop", "meter_silent")
    data: dict[str, Any] = {n: {"enabled": n == rule} for n in names}
    data[rule] |= changes
    return WarningRules.model_validate(data)


def ent(
    i: str, kwh: float, tax: float, industry: str | None = "C1951", town: str = "榕城区"
) -> EnterpriseFacts:
    """An enterprise with the same kWh and tax every month of the window."""
    return EnterpriseFacts(i, f"企业{i}", town, industry, dict.fromkeys(YEAR, kwh), dict.fromkeys(YEAR, tax))


def facts(*enterprises: EnterpriseFacts) -> Facts:
    return Facts(enterprises={e.id: e for e in enterprises})


# Six normal peers: 20,000 kWh a month and 0.50 .. 1.00 yuan of tax per kWh.
PEERS = [ent(f"P{k}", 20_000, 20_000 * (0.5 + 0.1 * k)) for k in range(6)]


# --- rules ------------------------------------------------------------------------------------------


def test_high_kwh_with_near_zero_tax_warns_against_its_industry() -> None:
    found = evaluate(facts(*PEERS, ent("S", 50_000, 10)), only("tax_per_kwh_low"), AS_OF)
    assert [f.id for f in found] == ["tax_per_kwh_low:S:2026-Q4"]
    f = found[0]
    assert (f.enterprise_id, f.rule, f.severity, f.period, f.town) == (
        "S",
        "tax_per_kwh_low",
        "high",
        "2026-Q4",
        "榕城区",
    )
    ev = f.evidence
    assert ev["ratio"] == pytest.approx(10 / 50_000)
    assert (ev["peer_group"], ev["peers"], ev["percentile"]) == ("industry:1951", 6, 10)
    assert ev["median"] == pytest.approx(0.75)  # between 0.7 and 0.8
    assert ev["percentile_value"] == pytest.approx(0.55)  # 0.5 + (0.6 - 0.5) * 0.5
    assert (ev["kwh"], ev["tax"], ev["window"], ev["tax_months_reported"]) == (
        600_000,
        120,
        ["2025-11", "2026-10"],
        12,
    )
    assert "单位电耗税收" in f.message_zh and "electricity without matching taxes" in f.message_en


def test_normal_tax_per_kwh_does_not_warn() -> None:
    assert evaluate(facts(*PEERS, ent("S", 50_000, 50_000 * 0.6)), only("tax_per_kwh_low"), AS_OF) == []


def test_low_but_not_far_below_the_median_does_not_warn() -> None:
    # 0.3 yuan/kWh: below the 10th percentile (0.55) but above 0.3 × the median (0.225)
    assert evaluate(facts(*PEERS, ent("S", 50_000, 15_000)), only("tax_per_kwh_low"), AS_OF) == []


def test_small_users_are_not_judged() -> None:
    # 8,000 kWh a month is 96,000 over the window: not above min_kwh 100,000
    assert evaluate(facts(*PEERS, ent("S", 8_000, 1)), only("tax_per_kwh_low"), AS_OF) == []


def test_industry_falls_back_to_division_then_city_when_peers_are_few() -> None:
    # the suspect's class C1952 has two peers only: its division 19 (the six C1951 and the two) is used
    few = [ent("Q0", 20_000, 12_000, "1952"), ent("Q1", 20_000, 14_000, "C1952")]
    found = evaluate(facts(*PEERS, *few, ent("S", 50_000, 10, "C1952")), only("tax_per_kwh_low"), AS_OF)
    assert [(f.id, f.evidence["peer_group"], f.evidence["peers"]) for f in found] == [
        ("tax_per_kwh_low:S:2026-Q4", "division:19", 8)
    ]
    # an enterprise of another division, and one without any code, are compared with the whole city
    others = [ent("S2", 50_000, 10, "C3011"), ent("S3", 50_000, 10, None)]
    found = evaluate(facts(*PEERS, *others), only("tax_per_kwh_low"), AS_OF)
    assert [(f.id, f.evidence["peer_group"], f.evidence["peers"]) for f in found] == [
        ("tax_per_kwh_low:S2:2026-Q4", "city", 7),
        ("tax_per_kwh_low:S3:2026-Q4", "city", 7),
    ]


def test_too_few_enterprises_in_the_whole_city_to_judge() -> None:
    assert evaluate(facts(*PEERS[:4], ent("S", 50_000, 10)), only("tax_per_kwh_low"), AS_OF) == []


def monthly(i: str, values: dict[str, float]) -> EnterpriseFacts:
    return EnterpriseFacts(i, None, "榕城区", None, electricity=values)


def months(start: str, values: list[float]) -> dict[str, float]:
    year, month = int(start[:4]), int(start[5:])
    out = {}
    for v in values:
        out[f"{year:04d}-{month:02d}"] = v
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def test_three_zero_months_after_consumption_warn_once_from_the_first_zero_month() -> None:
    e = monthly("E1", months("2026-01", [900, 1000, 1100, 1200, 1300, 1400, 1500, 0, 0, 0]))
    found = evaluate(facts(e), only("zero_consumption"), AS_OF)
    assert [f.id for f in found] == ["zero_consumption:E1:2026-08"]
    assert found[0].evidence == {
        "start": "2026-08",
        "end": "2026-10",
        "months": 3,
        "last_consumption_month": "2026-07",
        "last_consumption_kwh": 1500,
    }
    assert found[0].severity == "high" and "零度户" in found[0].message_zh


def test_two_zero_months_do_not_warn() -> None:
    e = monthly("E1", months("2026-01", [900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 0, 0]))
    assert evaluate(facts(e), only("zero_consumption"), AS_OF) == []


def test_an_enterprise_that_never_consumed_does_not_warn() -> None:
    assert evaluate(facts(monthly("E1", months("2026-01", [0] * 10))), only("zero_consumption"), AS_OF) == []


def test_a_month_without_a_report_breaks_the_zero_run() -> None:
    values = months("2026-05", [1000, 1000, 0, 0, 0, 0])  # zero 07 .. 10
    del values["2026-09"]
    assert evaluate(facts(monthly("E1", values)), only("zero_consumption"), AS_OF) == []


def test_the_current_month_is_not_judged() -> None:
    # 2026-11 is still being reported: its zero does not complete a run
    e = monthly("E1", months("2026-06", [1000, 1000, 1000, 1000, 0, 0]))
    assert evaluate(facts(e), only("zero_consumption"), AS_OF) == []


def test_sudden_drop_below_half_the_baseline() -> None:
    e = monthly("E1", months("2026-07", [30_000, 30_000, 30_000, 10_000]))
    found = evaluate(facts(e), only("sudden_drop"), AS_OF)
    assert [f.id for f in found] == ["sudden_drop:E1:2026-10"]
    assert found[0].evidence == {
        "kwh": 10_000,
        "baseline_mean": 30_000,
        "baseline": ["2026-07", "2026-08", "2026-09"],
        "ratio": pytest.approx(1 / 3),
    }
    assert found[0].severity == "medium"


def test_a_drop_that_lasts_is_one_warning() -> None:
    # 10 and 09 both sit under half their baselines; 10's baseline holds the drop of 09: one episode
    e = monthly("E1", months("2026-06", [30_000, 30_000, 30_000, 5_000, 4_000]))
    assert [f.id for f in evaluate(facts(e), only("sudden_drop"), AS_OF)] == ["sudden_drop:E1:2026-09"]


def test_no_sudden_drop_above_the_fraction_or_under_min_kwh_or_with_a_gap() -> None:
    rule = only("sudden_drop")
    assert evaluate(facts(monthly("E1", months("2026-07", [30_000] * 3 + [16_000]))), rule, AS_OF) == []
    assert evaluate(facts(monthly("E1", months("2026-07", [9_000] * 3 + [100]))), rule, AS_OF) == []
    gap = months("2026-07", [30_000] * 3 + [100])
    del gap["2026-08"]
    assert evaluate(facts(monthly("E1", gap)), rule, AS_OF) == []


def test_silent_meter() -> None:
    data = facts(EnterpriseFacts("E1", "甲厂", "榕城区"))
    data.meter_last_seen = {"M1": AS_OF - 25 * HOUR, "M2": AS_OF - 23 * HOUR, "M3": AS_OF - 30 * HOUR}
    data.meter_owners = {"M1": "E1"}
    found = evaluate(data, only("meter_silent"), AS_OF)
    # 25 h before 2026-11-30 10:00 CST is 2026-11-29 09:00 CST
    assert [(f.id, f.enterprise_id, f.meter_id, f.town) for f in found] == [
        ("meter_silent:M1:2026-11-29", "E1", "M1", "榕城区"),
        ("meter_silent:M3:2026-11-29", None, "M3", None),
    ]
    assert found[0].evidence["hours_silent"] == 25.0


def test_evaluate_is_deterministic_and_disabled_rules_are_silent() -> None:
    e = monthly("E1", months("2026-01", [30_000] * 7 + [0, 0, 0]))
    everything = evaluate(facts(e), WarningRules(), AS_OF)
    assert [f.id for f in everything] == ["sudden_drop:E1:2026-08", "zero_consumption:E1:2026-08"]
    assert evaluate(facts(e), WarningRules(), AS_OF) == everything
    assert evaluate(facts(e), only("meter_silent"), AS_OF) == []


def test_rules_load_from_the_example_and_default_when_absent(tmp_path: Path) -> None:
    assert load_rules(None) == WarningRules()
    assert load_rules(EXAMPLE) == WarningRules()  # the example documents the defaults
    path = tmp_path / "rules.toml"
    path.write_text("[sudden_drop]\nfraction = 0.4\n[meter_silent]\nenabled = false\n", encoding="utf-8")
    rules = load_rules(path)
    assert (rules.sudden_drop.fraction, rules.sudden_drop.baseline_months) == (0.4, 3)
    assert not rules.meter_silent.enabled and rules.zero_consumption.enabled


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[sudden_drop]\nfracton = 0.4\n", "sudden_drop.fracton"),
        ("[tax_per_kwh_low]\npercentile = 150\n", "tax_per_kwh_low.percentile"),
        ("[zero_consumption]\nmonths = 'three'\n", "zero_consumption.months"),
        ("[meter_silent]\nseverity = 'urgent'\n", "meter_silent.severity"),
        ("[sudden_drop\n", "not valid TOML"),
    ],
)
def test_a_bad_rules_file_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=named.replace(".", r"\.")):
        load_rules(path)


def test_a_missing_rules_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_rules(tmp_path / "nope.toml")


# --- storage and lifecycle --------------------------------------------------------------------------

SCHEMA = wq.WARNING_SCHEMA.merged(
    GraphSchema(unique=(UniqueKey("Enterprise", "id"),), indexes=(PropertyIndex("SourceRecord", "dataset"),))
)
NOW = AS_OF


@pytest.fixture
def graph(fresh_graph: GraphStore) -> FalkorDBStore:
    fresh_graph.ensure_schema(SCHEMA)
    fresh_graph.write(
        "UNWIND $rows AS row CREATE (:Enterprise {id: row.id, name: row.name, town: row.town})",
        {
            "rows": [
                {"id": "E1", "name": "甲厂", "town": "榕城区"},
                {"id": "E2", "name": "乙厂", "town": "榕城区"},
                {"id": "E3", "name": "丙厂", "town": "普宁市"},
            ]
        },
    )
    return fresh_graph


def finding(
    enterprise: str, period: str, town: str = "榕城区", rule: str = "sudden_drop", **ev: Any
) -> Finding:
    return Finding(
        id=f"{rule}:{enterprise}:{period}",
        rule=rule,
        severity="medium",
        period=period,
        message_zh="用电骤降",
        message_en="sudden drop",
        enterprise_id=enterprise,
        town=town,
        evidence=ev or {"kwh": 1},
    )


def test_upserting_twice_gives_one_warning_with_fresh_evidence(graph: FalkorDBStore) -> None:
    assert warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", kwh=1)], NOW) == {
        "created": 1,
        "refreshed": 0,
        "kept_resolved": 0,
    }
    assert warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", kwh=2)], NOW + 1) == {
        "created": 0,
        "refreshed": 1,
        "kept_resolved": 0,
    }
    rows = graph.read("MATCH (w:Warning)-[:CONCERNS]->(e:Enterprise) RETURN w.id AS id, e.id AS e")
    assert rows == [{"id": "sudden_drop:E1:2026-10", "e": "E1"}]
    w = wq.get(graph, "sudden_drop:E1:2026-10")
    assert w is not None
    assert (w["status"], w["evidence"], w["opened_at"], w["updated_at"]) == ("open", {"kwh": 2}, NOW, NOW + 1)
    assert [h["to_status"] for h in w["history"]] == ["open"]  # the opening is recorded once
    # the same condition in a later period is a new warning
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-11")], NOW + 2)
    assert len(wq.for_enterprises(graph, ["E1"])["E1"]) == 2


def test_resolving_needs_a_note_and_stays_resolved(graph: FalkorDBStore) -> None:
    wid = "sudden_drop:E1:2026-10"
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", kwh=1)], NOW)
    with pytest.raises(warning_lifecycle.InvalidTransition, match="feedback note"):
        warning_lifecycle.set_status(graph, wid, "resolved", "  ", "alice", NOW + 1)
    with pytest.raises(warning_lifecycle.UnknownWarning, match="no warning has id"):
        warning_lifecycle.set_status(graph, "sudden_drop:E9:2026-10", "acknowledged", None, "alice", NOW + 1)
    with pytest.raises(warning_lifecycle.InvalidTransition, match="unknown status"):
        warning_lifecycle.set_status(graph, wid, "closed", "x", "alice", NOW + 1)
    resolved = warning_lifecycle.set_status(graph, wid, "resolved", "企业已停产，已核实", "bob", NOW + 2)
    assert (resolved["status"], resolved["feedback"]) == ("resolved", "企业已停产，已核实")
    with pytest.raises(
        warning_lifecycle.InvalidTransition, match="is resolved: it cannot become acknowledged"
    ):
        warning_lifecycle.set_status(graph, wid, "acknowledged", None, "alice", NOW + 3)
    # re-evaluation does not reopen or rewrite it
    counts = warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", kwh=5)], NOW + 4)
    assert counts == {"created": 0, "refreshed": 0, "kept_resolved": 1}
    w = wq.get(graph, wid)
    assert w is not None and (w["status"], w["evidence"], w["updated_at"]) == (
        "resolved",
        {"kwh": 1},
        NOW + 2,
    )


def test_every_transition_is_kept_as_history(graph: FalkorDBStore) -> None:
    wid = "sudden_drop:E1:2026-10"
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-10")], NOW)
    acked = warning_lifecycle.set_status(graph, wid, "acknowledged", None, "alice", NOW + 10)
    assert acked["status"] == "acknowledged"
    # an acknowledged warning still takes fresh evidence
    assert (
        warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", kwh=7)], NOW + 15)["refreshed"] == 1
    )
    warning_lifecycle.set_status(graph, wid, "resolved", "现场核查：设备检修", "bob", NOW + 20)
    w = wq.get(graph, wid)
    assert w is not None and w["evidence"] == {"kwh": 7}
    assert w["history"] == [
        {"actor": "system", "at": NOW, "from_status": None, "to_status": "open", "note": None},
        {"actor": "alice", "at": NOW + 10, "from_status": "open", "to_status": "acknowledged", "note": None},
        {
            "actor": "bob",
            "at": NOW + 20,
            "from_status": "acknowledged",
            "to_status": "resolved",
            "note": "现场核查：设备检修",
        },
    ]
    assert wq.get(graph, "nope") is None


def test_retried_writes_leave_one_warning_and_one_action_per_change(graph: FalkorDBStore) -> None:
    retrying = RetryingStore(graph)
    wid = "sudden_drop:E1:2026-10"
    warning_lifecycle.store_findings(retrying, [finding("E1", "2026-10")], NOW)
    resolved = warning_lifecycle.set_status(retrying, wid, "resolved", "已核实", "bob", NOW + 1)
    assert [h["to_status"] for h in resolved["history"]] == ["open", "resolved"]
    assert graph.read("MATCH (w:Warning)-[c:CONCERNS]->() RETURN count(c) AS n") == [{"n": 1}]


def test_by_town_pages_with_a_total(graph: FalkorDBStore) -> None:
    # five warnings in 榕城区 opened at three times, one in 普宁市
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-08"), finding("E2", "2026-08")], NOW)
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-09"), finding("E2", "2026-09")], NOW + 1)
    warning_lifecycle.store_findings(graph, [finding("E1", "2026-10", rule="zero_consumption")], NOW + 2)
    warning_lifecycle.store_findings(graph, [finding("E3", "2026-10", town="普宁市")], NOW + 2)
    warning_lifecycle.set_status(graph, "sudden_drop:E2:2026-08", "resolved", "误报", "bob", NOW + 3)

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = wq.by_town(graph, "榕城区", first=2, after=after)
        assert page["total"] == 5
        seen += [w["id"] for w in page["items"]]
        pages += 1
        if not page["has_next"]:
            break
        after = page["last"]
    assert pages == 3
    assert seen == [
        "zero_consumption:E1:2026-10",
        "sudden_drop:E1:2026-09",
        "sudden_drop:E2:2026-09",
        "sudden_drop:E1:2026-08",
        "sudden_drop:E2:2026-08",
    ]
    open_drops = wq.by_town(graph, "榕城区", statuses=["open"], rules=["sudden_drop"], first=10)
    assert (open_drops["total"], open_drops["has_next"]) == (3, False)
    assert [w["id"] for w in open_drops["items"]] == seen[1:4]
    assert wq.by_town(graph, "无此镇")["total"] == 0


def test_for_enterprises_answers_many_in_one_round_trip(graph: FalkorDBStore) -> None:
    warning_lifecycle.store_findings(
        graph, [finding("E1", "2026-09"), finding("E1", "2026-10"), finding("E3", "2026-10")], NOW
    )
    warning_lifecycle.set_status(graph, "sudden_drop:E1:2026-09", "acknowledged", "已联系", "alice", NOW + 1)
    counting = CountingStore(graph)
    found = wq.for_enterprises(counting, ["E1", "E2", "E3", "E404"])
    assert counting.reads == 1
    assert {k: [w["id"] for w in v] for k, v in found.items()} == {
        "E1": ["sudden_drop:E1:2026-09", "sudden_drop:E1:2026-10"],
        "E2": [],
        "E3": ["sudden_drop:E3:2026-10"],
        "E404": [],
    }
    open_only = wq.for_enterprises(graph, ["E1"], statuses=["open"])
    assert [w["id"] for w in open_only["E1"]] == ["sudden_drop:E1:2026-10"]


# --- collect_facts ----------------------------------------------------------------------------------

SOURCES = [
    MetricSource("power_a", "electricity_kwh", "kwh", "period", "kWh"),
    MetricSource("power_b", "electricity_kwh", "usage", "month", "kWh"),
    MetricSource("meters", "electricity_kwh", "kwh", None, "kWh"),
    MetricSource("tax_m", "tax", "amount", "period", "yuan"),
    MetricSource("tax_q", "tax", "amount", "period", "yuan"),
    MetricSource("ops", "revenue", "revenue", "period", "yuan"),  # not a warning metric: ignored
]


def rec(props: str, about: str, party: str = "subject") -> str:
    """A CREATE pattern: a source record with ``props`` about the enterprise bound to ``about``."""
    return f"(:SourceRecord {{{props}}})-[:ABOUT {{party: '{party}'}}]->({about})"


CITY = "CREATE " + ",\n".join(
    [
        "(e1:Enterprise {id: 'E1', name: '甲厂', town: '榕城区', industry_code: 'C1951'})",
        "(e2:Enterprise {id: 'E2', name: '乙厂'})",
        "(old:Enterprise {id: 'E0', name: '旧甲厂'})-[:REDIRECTS_TO]->(e1)",
        "(t:Town {key: '普宁市', name: '普宁市'})",
        "(i:Industry {key: 'code:C3011', code: 'C3011'})",
        rec("id: 'a1', dataset: 'power_a', kwh: 1000, period: '2026-08'", "e1"),
        rec("id: 'a2', dataset: 'power_a', kwh: 400, period: '2026-09-30'", "e1"),
        rec("id: 'a3', dataset: 'power_a', kwh: 100, period: '2026-09-15'", "e1"),
        rec("id: 'b1', dataset: 'power_b', usage: 700, month: '2026-09'", "e1"),
        rec("id: 'b2', dataset: 'power_b', usage: 900, month: '2026-08'", "e1"),
        rec("id: 'm1', dataset: 'meters', kwh: 0, period: '2026-10'", "e1"),
        # two meters' monthly totals (telemetry rollup: one record per meter and month) add up
        rec("id: 'm2', dataset: 'meters', meter_id: 'M1', kwh: 300, period: '2026-09'", "e1"),
        rec("id: 'm3', dataset: 'meters', meter_id: 'M2', kwh: 500, period: '2026-09'", "e1"),
        rec("id: 'x1', dataset: 'power_a', kwh: 5000, period: '2026-10', retired: 1", "e1"),
        rec("id: 'x2', dataset: 'power_a', kwh: 6000, period: '2026-10'", "e1", party="supplier"),
        rec("id: 'x3', dataset: 'power_a', kwh: 7000, period: '2026-10'", "old"),
        rec("id: 'x4', dataset: 'power_a', kwh: 8000, period: '2026'", "e1"),
        rec("id: 't1', dataset: 'tax_m', amount: 50, period: '2026-07'", "e1"),
        rec("id: 't2', dataset: 'tax_q', amount: 300, period: '2026-Q3'", "e1"),
        rec("id: 't3', dataset: 'tax_q', amount: 90, period: '2026-Q3'", "e2"),
        rec("id: 'o1', dataset: 'ops', revenue: 1000000, period: '2026-08'", "e1"),
        "(r5:SourceRecord {id: 'c1', dataset: 'power_a', kwh: 250, period: '2026-08'})"
        "-[:ABOUT {party: 'subject'}]->(e2)",
        "(r5)-[:IN_TOWN]->(t)",
        "(r5)-[:IN_INDUSTRY]->(i)",
    ]
)


def test_collect_facts_picks_the_right_months_and_figures(graph: FalkorDBStore) -> None:
    graph.write("MATCH (e:Enterprise) DETACH DELETE e")
    graph.write(CITY)
    data = collect_facts(graph, SOURCES, {"M1": AS_OF - HOUR}, {"M1": "E1", "M2": "E404"})
    assert sorted(data.enterprises) == ["E1", "E2"]  # merged-away E0 and unknown E404 have no facts
    e1, e2 = data.enterprises["E1"], data.enterprises["E2"]
    assert (e1.name, e1.town, e1.industry) == ("甲厂", "榕城区", "C1951")
    # within a dataset a month's records add up, across datasets the one reporting most wins (08:
    # power_a 1000 over power_b 900; 09: meters 300 + 500 over power_b 700 and power_a 400 + 100); the
    # meter's zero is a reported month; retired records, other parties, merged-away enterprises and
    # yearly figures are left out
    assert e1.electricity == {"2026-08": 1000, "2026-09": 800, "2026-10": 0}
    # a quarter spreads over its months only where no monthly figure exists for them
    assert e1.tax == {"2026-07": 50}
    assert e2.tax == {"2026-07": 30, "2026-08": 30, "2026-09": 30}
    # a golden gap is filled from what its records state
    assert (e2.name, e2.town, e2.industry, e2.electricity) == ("乙厂", "普宁市", "C3011", {"2026-08": 250})
    assert (data.meter_last_seen, data.meter_owners) == ({"M1": AS_OF - HOUR}, {"M1": "E1", "M2": "E404"})


def test_the_figures_statement_starts_from_the_dataset_index(graph: FalkorDBStore) -> None:
    plan = graph.plan(
        metric_queries._CITY, {"datasets": ["power_a"], "sources": [{"dataset": "power_a", "value": "kwh"}]}
    )
    assert "SourceRecord" in plan.index_reads and "SourceRecord" not in plan.scans, plan.text


def test_evaluating_the_city_judges_exclusive_meters_and_a_rerun_doubles_nothing(
    graph: FalkorDBStore, tmp_path: Path
) -> None:
    # M1 is E1's alone; M2 is shared (多户一表) and counts for nobody until a steward decides. Both
    # fell silent 25 hours before AS_OF.
    graph.write(
        "MATCH (e1:Enterprise {id: 'E1'}), (e2:Enterprise {id: 'E2'}) "
        "CREATE (m1:Meter {key: '电能表|M1', meter_id: 'M1'})-[:METERS]->(e1), "
        "(m2:Meter {key: '电能表|M2', meter_id: 'M2'})-[:METERS]->(e1), (m2)-[:METERS]->(e2)"
    )
    silent = [Reading(m, AS_OF - 25 * HOUR, 1.0, "cumulative", "kWh") for m in ("M1", "M2")]
    with SeriesWriter(tmp_path) as writer:
        writer.write(silent, [], [], AS_OF)
        writer.publish()
    catalog = Catalog.load(entry_points=False)
    rules = only("meter_silent")
    with SeriesReader(tmp_path) as reader:
        first = evaluate_city(graph, reader, catalog, rules, AS_OF)
        again = evaluate_city(graph, reader, catalog, rules, AS_OF)
    assert (first["findings"], first["created"]) == (1, 1)
    assert (again["findings"], again["created"], again["refreshed"]) == (1, 0, 1)
    warnings = wq.for_enterprises(graph, ["E1", "E2"])
    assert [w["id"] for w in warnings["E1"]] == ["meter_silent:M1:2026-11-29"] and warnings["E2"] == []
