"""The meter registry links meters to enterprises with resolution's evidence; stewards' pins stay."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import Role
from entgraph.city_fixtures import City
from entgraph.graph import judgement_queries
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.resolution.resolver import Resolver
from entgraph.resolution.steward import Steward, StewardError
from entgraph.telemetry import meter_registry as registry

pytestmark = pytest.mark.stores

CODE_A = make_credit_code("350582", "MA000001")
CODE_B = make_credit_code("350582", "MA000002")


@pytest.fixture
def graph(fresh_graph: GraphStore) -> Iterator[FalkorDBStore]:
    g = fresh_graph
    g.write(
        "CREATE (:Enterprise {id: 'E-A', credit_code: $a, name: '晋江甲纺织有限公司', names: []}), "
        "(:Enterprise {id: 'E-B', credit_code: $b, name: '晋江乙鞋业有限公司', names: ['乙鞋业']}), "
        "(:Enterprise {id: 'E-C', name: '晋江丙食品有限公司', names: []}), "
        "(:Enterprise {id: 'E-OLD', credit_code: $b, name: '旧', merged_into: 'E-B'})",
        {"a": CODE_A, "b": CODE_B},
    )
    g.write(
        "MATCH (e:Enterprise {id: 'E-C'}) "
        "CREATE (:Identifier {key: 'account:市电业局:0000000077'})-[:IDENTIFIES]->(e)"
    )
    yield g


def _meter(
    g: FalkorDBStore, meter: str, rows: list[tuple[str, str, str]], dataset: str = "wh_meter_electricity"
) -> None:
    """A meter and its device-feed rows: (credit code, name, account) each."""
    g.write("MERGE (:Meter {key: '电能表|' + $m, meter_id: $m})", {"m": meter})
    g.write(
        "UNWIND $rows AS row MATCH (m:Meter {meter_id: $m}) "
        "CREATE (:SourceRecord:MeterReading {id: row.id, dataset: $d, credit_code: row.code, "
        "enterprise_name: row.name, account_no: row.account})-[:READS]->(m)",
        {
            "m": meter,
            "d": dataset,
            "rows": [
                {"id": f"{meter}-{i}", "code": c, "name": n, "account": a} for i, (c, n, a) in enumerate(rows)
            ],
        },
    )


def _links(g: FalkorDBStore) -> dict[str, list[tuple[str, str, bool]]]:
    rows = g.read(
        "MATCH (m:Meter)-[x:METERS]->(e:Enterprise) RETURN m.meter_id AS m, e.id AS e, x.via AS via, "
        "x.shared AS shared ORDER BY m, e"
    )
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for r in rows:
        out.setdefault(r["m"], []).append((r["e"], r["via"], r["shared"]))
    return out


@pytest.mark.parametrize(
    ("unit", "utility"), [("kWh", "electricity"), ("千瓦时", "electricity"), ("度", "electricity"),
                          ("立方米", "water"), ("m³", "water"), ("吨", "water"), ("个", None)],
)  # fmt: skip
def test_a_device_feed_meters_what_its_quantity_unit_says(
    catalog: Catalog, unit: str, utility: str | None
) -> None:
    spec = catalog.get("wh_meter_electricity").spec
    columns = [c.model_copy(update={"unit": unit}) if c.role is Role.QUANTITY else c for c in spec.columns]
    assert registry._device_utility(spec.model_copy(update={"columns": columns})) == utility


def test_each_kind_of_evidence_links_and_a_shared_meter_is_flagged(
    graph: FalkorDBStore, catalog: Catalog
) -> None:
    _meter(graph, "M-CODE", [(CODE_A, "", "")] * 3)
    _meter(graph, "M-ACCOUNT", [("", "某公司", "0000000077")])  # the utility's account, remembered for E-C
    _meter(graph, "M-NAME", [("", "乙鞋业", "")])  # a former/short name of exactly one enterprise
    _meter(graph, "M-SHARED", [(CODE_A, "", ""), (CODE_B, "", "")])  # 多户一表
    _meter(graph, "M-NONE", [("", "不存在的公司", "999")])
    _meter(graph, "M-BADCODE", [(CODE_A[:-1] + ("0" if CODE_A[-1] != "0" else "1"), "", "")])
    report = registry.sync(graph, catalog)
    assert _links(graph) == {
        "M-ACCOUNT": [("E-C", "account", False)],
        "M-CODE": [("E-A", "credit_code", False)],
        "M-NAME": [("E-B", "name", False)],
        "M-SHARED": [("E-A", "credit_code", True), ("E-B", "credit_code", True)],
    }
    reviews = {
        r["m"]: r["review"] for r in graph.read("MATCH (m:Meter) RETURN m.meter_id AS m, m.review AS review")
    }
    assert reviews["M-SHARED"] == "shared"
    assert reviews["M-NONE"] == "unattached" and reviews["M-BADCODE"] == "unattached"
    assert reviews["M-CODE"] is None
    assert (report.attached, report.shared, report.unattached) == (3, 1, 2)
    utilities = {r["m"]: r["u"] for r in graph.read("MATCH (m:Meter) RETURN m.meter_id AS m, m.utility AS u")}
    assert utilities["M-CODE"] == "electricity"


def test_sync_is_idempotent_and_follows_changed_evidence(graph: FalkorDBStore, catalog: Catalog) -> None:
    _meter(graph, "M1", [(CODE_A, "", "")])
    registry.sync(graph, catalog)
    registry.sync(graph, catalog)
    assert _links(graph) == {"M1": [("E-A", "credit_code", False)]}
    graph.write("MATCH (r:MeterReading) SET r.credit_code = $b", {"b": CODE_B})  # corrected feed
    registry.sync(graph, catalog)
    assert _links(graph) == {"M1": [("E-B", "credit_code", False)]}


def test_a_pin_takes_the_meter_of_its_utility_when_an_id_names_two(
    graph: FalkorDBStore, catalog: Catalog
) -> None:
    # A utility's meter numbers are its own: an electricity and a water meter may share an id.
    graph.write(
        "CREATE (:Meter {key: '电能表|X1', meter_id: 'X1', utility: 'electricity'}), "
        "(:Meter {key: '水表|X1', meter_id: 'X1', utility: 'water'})"
    )
    registry.pin(graph, "X1", "water", ["E-C"], actor="steward-1")
    rows = graph.read("MATCH (m:Meter)-[:METERS]->(e:Enterprise) RETURN m.key AS key, e.id AS e")
    assert rows == [{"key": "水表|X1", "e": "E-C"}]


def test_a_stewards_pin_is_kept_by_later_syncs(graph: FalkorDBStore, catalog: Catalog) -> None:
    _meter(graph, "M-SHARED", [(CODE_A, "", ""), (CODE_B, "", "")])
    registry.sync(graph, catalog)
    registry.pin(graph, "M-SHARED", "electricity", ["E-B"], actor="steward-1")
    registry.sync(graph, catalog)
    assert _links(graph) == {"M-SHARED": [("E-B", "steward", False)]}
    with pytest.raises(ValueError, match="E-NOPE"):
        registry.pin(graph, "M-X", "electricity", ["E-NOPE"], actor="steward-1")
    with pytest.raises(ValueError, match="utility"):
        registry.pin(graph, "M-X", "gas", ["E-A"], actor="steward-1")
    registry.pin(graph, "M-NEW", "water", ["E-A"], actor="steward-1")  # first heard over MQTT
    assert "M-NEW" in registry.known_meters(graph)


def test_a_pin_is_a_judgement_kept_with_who_when_and_why(graph: FalkorDBStore, catalog: Catalog) -> None:
    _meter(graph, "M-SHARED", [(CODE_A, "", ""), (CODE_B, "", "")])
    registry.sync(graph, catalog)
    registry.pin(graph, "M-SHARED", "electricity", ["E-B", "E-A"], actor="steward-1", reason="现场核实")
    [j] = [j for j in judgement_queries.judgements(graph) if j["kind"] == "meter"]
    assert (j["subject"], j["object"], j["enterprises"], j["user"], j["reason"]) == (
        "meter:电能表|M-SHARED", "E-B", ["E-B", "E-A"], "steward-1", "现场核实",
    )  # fmt: skip
    assert [row["id"] for row in judgement_queries.audit_trail(graph, 10)] == [j["id"]]
    assert graph.read("MATCH (m:Meter {meter_id: 'M-SHARED'}) RETURN m.judgement AS j") == [{"j": j["id"]}]
    # the resolver has nothing to replay in it, and a steward's undo of records points to the registry
    registry.sync(graph, catalog)
    assert _links(graph) == {"M-SHARED": [("E-A", "steward", True), ("E-B", "steward", True)]}


def test_a_pin_saved_but_not_applied_is_applied_by_the_next_sync(
    graph: FalkorDBStore, catalog: Catalog
) -> None:
    """A crash between saving the judgement and linking the meter loses nothing: the sync replays it."""
    _meter(graph, "M1", [(CODE_A, "", "")])
    registry.sync(graph, catalog)
    judgement = {
        "id": "J-crashed", "kind": "meter", "subject": "meter:电能表|M1", "object": "E-C", "user": "s1",
        "at": "2026-12-01T00:00:00+00:00", "reason": "", "task": "", "records": [], "enterprises": ["E-C"],
        "kept": [], "meter_key": "电能表|M1", "meter": "M1", "utility": "electricity",
    }  # fmt: skip
    judgement_queries.save_judgement(graph, judgement)
    assert _links(graph) == {"M1": [("E-A", "credit_code", False)]}  # saved, not applied
    report = registry.sync(graph, catalog)
    assert _links(graph) == {"M1": [("E-C", "steward", False)]}
    assert report.meters == 0  # the judged meter is not the evidence's to decide
    assert graph.read("MATCH (m:Meter {meter_id: 'M1'}) RETURN m.judgement AS j") == [{"j": "J-crashed"}]


def test_undoing_a_pin_gives_the_meter_back_to_the_previous_pin_then_to_the_evidence(
    graph: FalkorDBStore, catalog: Catalog
) -> None:
    _meter(graph, "M1", [(CODE_A, "", "")])
    registry.sync(graph, catalog)
    registry.pin(graph, "M1", "electricity", ["E-B"], actor="s1")
    registry.pin(graph, "M1", "electricity", ["E-C"], actor="s2")
    first, second = sorted(
        (j for j in judgement_queries.judgements(graph) if j["kind"] == "meter"), key=lambda j: j["at"]
    )
    undone = registry.undo_pin(graph, catalog, second["id"], "s3", "看错了")
    assert (undone["undone"], undone["undone_by"], undone["undo_reason"]) == (True, "s3", "看错了")
    assert _links(graph) == {"M1": [("E-B", "steward", False)]}  # the earlier pin stands again
    with pytest.raises(ValueError, match="already undone"):
        registry.undo_pin(graph, catalog, second["id"], "s3")
    registry.undo_pin(graph, catalog, first["id"], "s3")
    assert _links(graph) == {"M1": [("E-A", "credit_code", False)]}  # the evidence decides again
    registry.sync(graph, catalog)
    assert _links(graph) == {"M1": [("E-A", "credit_code", False)]}
    with pytest.raises(ValueError, match="no meter judgement"):
        registry.undo_pin(graph, catalog, "J-nope", "s3")


def test_a_pin_from_before_judgements_becomes_one(graph: FalkorDBStore, catalog: Catalog) -> None:
    """Stores written when a pin was a ``pinned`` flag on the meter keep the decision, as a judgement."""
    _meter(graph, "M1", [(CODE_A, "", "")])
    graph.write(
        "MATCH (m:Meter {meter_id: 'M1'}), (e:Enterprise {id: 'E-C'}) "
        "SET m.pinned = true, m.pinned_by = 'old-steward', m.attached_at = 1700000000000 "
        "CREATE (m)-[:METERS {via: 'steward', evidence: 'old-steward', shared: false}]->(e)"
    )
    registry.sync(graph, catalog)
    assert _links(graph) == {"M1": [("E-C", "steward", False)]}
    [j] = [j for j in judgement_queries.judgements(graph) if j["kind"] == "meter"]
    assert (j["user"], j["enterprises"], j["at"][:10]) == ("old-steward", ["E-C"], "2023-11-14")
    assert graph.read("MATCH (m:Meter {meter_id: 'M1'}) RETURN m.pinned AS p") == [{"p": None}]


def test_a_steward_cannot_undo_a_pin_as_a_record_judgement(
    graph: FalkorDBStore, catalog: Catalog, tmp_path: Path
) -> None:
    registry.pin(graph, "M-NEW", "water", ["E-A"], actor="s1")
    [j] = judgement_queries.judgements(graph)
    steward = Steward(graph, catalog, Resolver(graph, catalog, tmp_path / "model.json"), "s2")
    with pytest.raises(StewardError, match="meters unpin"):
        steward.undo(j["id"])


def test_the_generated_citys_meters_attach_to_their_true_owners(resolved_city: City) -> None:
    truth = {}
    with open(resolved_city.files / "truth" / "enterprises.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[int(row["id"][3:]) - 1] = row["credit_code"]  # ENT0000001 is the firm of index 0
    rows = resolved_city.store.read(
        "MATCH (m:Meter) OPTIONAL MATCH (m)-[:METERS]->(e:Enterprise) "
        "RETURN m.meter_id AS meter, m.utility AS utility, collect(e.credit_code) AS codes"
    )
    assert len(rows) >= 6  # both device feeds, several metered firms
    assert len({r["meter"] for r in rows}) == len(rows)  # device ids are unique across utilities
    assert {r["utility"] for r in rows} == {"electricity", "water"}
    attached = [r for r in rows if r["codes"]]
    assert len(attached) >= 0.9 * len(rows)
    for r in attached:
        owner_index = int(r["meter"][-9:-2])  # JJ + 3-digit salt + 7-digit firm index + 2-digit meter no.
        assert r["codes"] == [truth[owner_index]], r
