"""Meters, series and warnings over HTTP: on the shared city (meters attached by the registry) with a
series store written here, and warnings on a graph of their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import Sharing, Usage
from entgraph.city_fixtures import City, CountingStore
from entgraph.graph import warning_queries as wq
from entgraph.graph.port import GraphStore
from entgraph.localtime import CST
from entgraph.telemetry import warning_lifecycle
from entgraph.telemetry.payloads import Reading, Rejection
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter

pytestmark = pytest.mark.stores

DAY0 = dt.datetime(2026, 11, 2, tzinfo=CST)  # a Monday, China time
T0 = int(DAY0.timestamp() * 1000)
FIVE_MIN = 300_000
KWH_PER_READING = 1.5

SERIES = """
query ($id: String, $interval: SeriesInterval!, $from: String, $to: String) { enterprise(id: $id) {
  meters { meterId utility via lastReadingAt
    series(interval: $interval, from: $from, to: $to) { unit points { start value quality } } }
} }
"""


# A panorama's meters with their series and completeness: two batched series-store queries.
METERS_SERIES_COMPLETENESS = """
query ($id: String, $interval: SeriesInterval!) { enterprise(id: $id) { meters { meterId
  series(interval: $interval) { unit points { start value } } completeness { day received } } } }
"""


@pytest.fixture(scope="module")
def metered(resolved_city: City) -> dict[str, Any]:
    """An enterprise of the city with an electricity meter, and that meter."""
    rows = resolved_city.store.read(
        "MATCH (m:Meter {utility: 'electricity'})-[:METERS]->(e:Enterprise) "
        "RETURN e.id AS enterprise, m.meter_id AS meter ORDER BY enterprise LIMIT 1"
    )
    assert rows, "the shared city has attached electricity meters"
    return rows[0]


@pytest.fixture(scope="module")
def telemetry_api(
    resolved_city: City,
    counting: Any,
    metered: dict[str, Any],
    serve_city: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GraphQLClient]:
    """The API on the shared city, with two days of 5-minute readings (+1.5 kWh each) for one meter
    and a quarantined message in the series store."""
    home = tmp_path_factory.mktemp("telemetry-api")
    readings = [
        Reading(metered["meter"], T0 + i * FIVE_MIN, 1000 + KWH_PER_READING * i, "cumulative", "kWh")
        for i in range(2 * 288 + 1)
    ]
    with SeriesWriter(home / "series") as writer:
        writer.write(readings, (), [Rejection("entgraph/meters/X/readings", b"{oops", "payload is not JSON")])
        writer.publish()
    with serve_city(counting, resolved_city.catalog, home) as api:
        yield api


def _meter(data: dict[str, Any], meter: str) -> dict[str, Any]:
    return next(m for m in data["enterprise"]["meters"] if m["meterId"] == meter)


def test_a_meters_series_by_hour_and_day_in_china_time(telemetry_api: GraphQLClient, metered: dict) -> None:
    hourly = telemetry_api.data(
        SERIES,
        id=metered["enterprise"],
        interval="HOUR",
        **{"from": "2026-11-02T00:00", "to": "2026-11-02T03:00"},
    )
    meter = _meter(hourly, metered["meter"])
    assert meter["via"] in ("credit_code", "account", "name")
    assert meter["lastReadingAt"] == "2026-11-04T00:00+08:00"  # China time, saying so
    points = meter["series"]["points"]
    assert meter["series"]["unit"] == "kWh"
    assert [p["start"] for p in points] == [f"2026-11-02T0{h}:00+08:00" for h in range(3)]
    assert [round(p["value"], 6) for p in points] == [12 * KWH_PER_READING] * 3
    assert {p["quality"] for p in points} == {"good"}
    daily = telemetry_api.data(
        SERIES, id=metered["enterprise"], interval="DAY", **{"from": "2026-11-02", "to": "2026-11-04"}
    )
    days = _meter(daily, metered["meter"])["series"]["points"]
    assert [(p["start"], round(p["value"], 6)) for p in days] == [
        ("2026-11-02", 288 * KWH_PER_READING),
        ("2026-11-03", 288 * KWH_PER_READING),
    ]


def test_series_are_not_for_the_public_and_windows_are_bounded(
    telemetry_api: GraphQLClient, metered: dict
) -> None:
    public = telemetry_api.data(SERIES, role=Role.PUBLIC, id=metered["enterprise"], interval="DAY")
    assert public["enterprise"]["meters"] == []  # a meter is its device feed's data, which is not open
    codes = telemetry_api.error_codes(
        SERIES, id=metered["enterprise"], interval="RAW", **{"from": "2026-01-01", "to": "2026-11-01"}
    )
    assert set(codes) == {"BAD_INPUT"}  # 87k five-minute points: narrow the window or use coarser steps
    bad_date = telemetry_api.error_codes(SERIES, id=metered["enterprise"], interval="DAY", **{"from": "x"})
    assert set(bad_date) == {"BAD_INPUT"}


def test_a_meters_completeness_per_local_day(telemetry_api: GraphQLClient, metered: dict) -> None:
    doc = """query ($id: String) { enterprise(id: $id) { meters { meterId
      completeness(from: "2026-11-02", to: "2026-11-04") { day expected received ratio complete } } } }"""
    days = _meter(telemetry_api.data(doc, id=metered["enterprise"]), metered["meter"])["completeness"]
    # two full China-time days of 5-minute readings (the reading at 11-04 00:00 is outside the window)
    assert days == [
        {"day": f"2026-11-0{d}", "expected": 288, "received": 288, "ratio": 1.0, "complete": True}
        for d in (2, 3)
    ]
    assert telemetry_api.data(doc, role=Role.PUBLIC, id=metered["enterprise"])["enterprise"]["meters"] == []


def _open_feed_personal_account(catalog: Catalog) -> Catalog:
    """The catalog, but with the electricity device feed open to the public and its 户号 personal."""
    personal = Sharing(usage=Usage.UNCONDITIONAL, open_to_public=True, personal=True)
    feeds = []
    for feed in catalog:
        spec = feed.spec
        if spec.key == "wh_meter_electricity":
            columns = [
                c.model_copy(update={"sharing": personal}) if c.field == "account_no" else c
                for c in spec.columns
            ]
            opened = spec.sharing.model_copy(update={"usage": Usage.UNCONDITIONAL, "open_to_public": True})
            spec = spec.model_copy(update={"sharing": opened, "columns": columns})
        feeds.append(replace(feed, spec=spec))
    return Catalog(feeds)


def test_a_meters_utility_account_is_masked_as_its_device_feeds_column(
    resolved_city: City,
    counting: Any,
    serve_city: Callable[..., Any],
    tmp_path: Path,
) -> None:
    # Where a city opens its device feed but keeps the 户号 personal: the public sees the meter and not
    # the number, also where the meter was matched on it and the evidence is that number; an analyst
    # sees it masked, a steward in full.
    store = resolved_city.store
    row = store.read(
        "MATCH (m:Meter {utility: 'electricity'})-[a:METERS]->(e:Enterprise) WHERE m.account_no IS NOT NULL "
        "RETURN e.id AS id, m.meter_id AS meter, m.account_no AS account, a.via AS via, "
        "a.evidence AS evidence ORDER BY id LIMIT 1"
    )[0]
    doc = "query ($id: String) { enterprise(id: $id) { meters { meterId accountNo via evidence } } }"
    relink = (
        "MATCH (:Meter {meter_id: $m})-[a:METERS]->(:Enterprise {id: $e}) SET a.via = $via, a.evidence = $ev"
    )
    # The city's registry matched its meters on credit codes; make this one an account match for a while.
    store.write(relink, {"m": row["meter"], "e": row["id"], "via": "account", "ev": row["account"]})
    try:
        with serve_city(counting, _open_feed_personal_account(resolved_city.catalog), tmp_path) as api:
            seen = {
                role: _meter(api.data(doc, role=role, id=row["id"]), row["meter"])
                for role in (Role.PUBLIC, Role.ANALYST, Role.STEWARD)
            }
    finally:
        store.write(relink, {"m": row["meter"], "e": row["id"], "via": row["via"], "ev": row["evidence"]})
    assert (seen[Role.PUBLIC]["accountNo"], seen[Role.PUBLIC]["evidence"]) == (None, None)
    masked = seen[Role.ANALYST]["accountNo"]
    assert masked != row["account"] and masked.endswith(row["account"][-4:]) and "*" in masked
    assert seen[Role.ANALYST]["evidence"] == masked
    assert seen[Role.STEWARD]["accountNo"] == seen[Role.STEWARD]["evidence"] == row["account"]


def test_a_panoramas_meters_and_series_cost_the_same_round_trips_however_many(
    telemetry_api: GraphQLClient, resolved_city: City, counting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = resolved_city.store.read(
        "MATCH (m:Meter)-[:METERS]->(e:Enterprise) RETURN e.id AS id, count(m) AS n ORDER BY n DESC, id"
    )
    many, few = rows[0], rows[-1]
    assert many["n"] > few["n"], "the city has an enterprise with several meters (一户多表)"
    # Count the series store's queries too: a spy that passes every call through.
    queries: list[str] = []
    consumption = SeriesReader.consumption

    def counted(self: SeriesReader, function: str, *args: Any, **kwargs: Any) -> Any:
        queries.append(function)
        return consumption(self, function, *args, **kwargs)

    monkeypatch.setattr(SeriesReader, "consumption", counted)
    costs, seen = [], []
    for row in (many, few):
        before, series_before = counting.reads, len(queries)
        data = telemetry_api.data(METERS_SERIES_COMPLETENESS, id=row["id"], interval="DAY")
        costs.append((counting.reads - before, len(queries) - series_before))
        seen.append(len(data["enterprise"]["meters"]))
    assert seen == [many["n"], few["n"]]
    # the enterprise and its meters from the graph; one series and one completeness query for all meters
    assert costs[0] == costs[1] and costs[0][0] <= 3 and costs[0][1] == 2, costs


def test_quarantine_is_counted_and_shown_to_stewards_only(telemetry_api: GraphQLClient) -> None:
    fields = "counts { reason count } latest { topic reason payload replayed }"
    doc = f"{{ telemetryQuarantine(first: 5) {{ {fields} }} }}"
    data = telemetry_api.data(doc)["telemetryQuarantine"]
    assert data["counts"] == [{"reason": "payload is not JSON", "count": 1}]
    assert data["latest"][0]["payload"] == "{oops" and data["latest"][0]["replayed"] is False
    assert telemetry_api.error_codes(doc, role=Role.ANALYST) == ["FORBIDDEN"]


# --- warnings, on a graph of their own ------------------------------------------------------------


@pytest.fixture
def warning_store(fresh_graph: GraphStore) -> Any:
    """This test's graph, counting its reads."""
    return CountingStore(fresh_graph)


@pytest.fixture
def warning_api(
    fresh_graph: GraphStore,
    warning_store: Any,
    resolved_city: City,
    serve_city: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[GraphQLClient]:
    g = fresh_graph
    g.write(
        "CREATE (:Enterprise {id: 'E1', name: '甲公司', town: '磁灶镇'}), "
        "(:Enterprise {id: 'E2', name: '乙'})"
    )
    g.ensure_schema(wq.WARNING_SCHEMA)
    findings = [
        warning_lifecycle.Finding(
            f"zero_consumption:E1:2026-0{m}",
            "zero_consumption",
            "high",
            f"2026-0{m}",
            "零度户",
            "zero",
            enterprise_id="E1",
            town="磁灶镇",
            evidence={"months": 3},
        )
        for m in (7, 8, 9)
    ] + [
        warning_lifecycle.Finding(
            "sudden_drop:E2:2026-09", "sudden_drop", "medium", "2026-09", "骤降", "drop", enterprise_id="E2"
        )
    ]
    warning_lifecycle.store_findings(g, findings, T0)
    with serve_city(warning_store, resolved_city.catalog, tmp_path) as api:
        yield api


def test_warnings_per_enterprise_and_per_town_with_pages(warning_api: GraphQLClient) -> None:
    mine = warning_api.data('{ enterprise(id: "E1") { warnings { id rule status evidence } } }')
    assert sorted(w["id"] for w in mine["enterprise"]["warnings"]) == [
        "zero_consumption:E1:2026-07",
        "zero_consumption:E1:2026-08",
        "zero_consumption:E1:2026-09",
    ]
    assert mine["enterprise"]["warnings"][0]["evidence"] == {"months": 3}
    # bounded like every list: the newest ``first`` of them, in the same order
    two = warning_api.data('{ enterprise(id: "E1") { warnings(first: 2) { id } } }')["enterprise"]["warnings"]
    assert [w["id"] for w in two] == [w["id"] for w in mine["enterprise"]["warnings"][:2]]
    for bad in (0, 101):
        doc = f'{{ enterprise(id: "E1") {{ warnings(first: {bad}) {{ id }} }} }}'
        assert warning_api.error_codes(doc) == ["BAD_INPUT"]
    doc = (
        'query ($after: String) { warnings(town: "磁灶镇", first: 2, after: $after) '
        "{ totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"
    )
    page1 = warning_api.data(doc)["warnings"]
    page2 = warning_api.data(doc, after=page1["pageInfo"]["endCursor"])["warnings"]
    assert page1["totalCount"] == 3 and page1["pageInfo"]["hasNextPage"]
    assert not page2["pageInfo"]["hasNextPage"]
    assert page1["pageInfo"]["endCursor"] == page1["edges"][-1]["cursor"]
    ids = [e["node"]["id"] for e in page1["edges"] + page2["edges"]]
    assert len(set(ids)) == 3
    # a cursor is for its own list: an enterprise listing's is refused here, as is one made up
    listing = warning_api.data("{ enterprises(first: 1) { pageInfo { endCursor } } }")
    for foreign in (listing["enterprises"]["pageInfo"]["endCursor"], "garbage"):
        assert warning_api.error_codes(doc, after=foreign) == ["BAD_INPUT"]
    public = warning_api.data('{ enterprise(id: "E1") { warnings { id } } }', role=Role.PUBLIC)
    assert public["enterprise"]["warnings"] is None
    assert warning_api.error_codes('{ warnings(town: "磁灶镇") { totalCount } }', role=Role.PUBLIC) == [
        "FORBIDDEN"
    ]


def test_a_page_of_warnings_reads_their_histories_in_one_statement(
    warning_store: Any, warning_api: GraphQLClient
) -> None:
    doc = (
        'query ($first: Int!) { warnings(town: "磁灶镇", first: $first) '
        "{ edges { node { id history { toStatus actor } } } } }"
    )
    warning_store.reads = 0
    one = warning_api.data(doc, first=1)["warnings"]["edges"]
    reads_for_one, warning_store.reads = warning_store.reads, 0
    three = warning_api.data(doc, first=3)["warnings"]["edges"]
    assert len(one) == 1 and len(three) == 3
    assert all(e["node"]["history"][0]["toStatus"] == "open" for e in three)
    assert warning_store.reads == reads_for_one


def test_a_steward_acknowledges_then_resolves_with_feedback_and_history_is_kept(
    warning_api: GraphQLClient,
) -> None:
    wid = "zero_consumption:E1:2026-07"
    ack = 'mutation ($id: String!) { acknowledgeWarning(id: $id, note: "查看中") { status } }'
    resolve = (
        "mutation ($id: String!, $note: String!) { resolveWarning(id: $id, note: $note) "
        "{ status feedback history { actor fromStatus toStatus note } } }"
    )
    assert warning_api.error_codes(ack, role=Role.ANALYST, id=wid) == ["FORBIDDEN"]
    assert warning_api.data(ack, id=wid)["acknowledgeWarning"]["status"] == "acknowledged"
    assert warning_api.error_codes(resolve, id=wid, note="  ") == ["BAD_INPUT"]  # feedback is required
    done = warning_api.data(resolve, id=wid, note="企业停产检修，已核实")["resolveWarning"]
    assert done["status"] == "resolved" and done["feedback"] == "企业停产检修，已核实"
    assert [(h["fromStatus"], h["toStatus"]) for h in done["history"]] == [
        (None, "open"),
        ("open", "acknowledged"),
        ("acknowledged", "resolved"),
    ]
    assert done["history"][1]["actor"] == "tester" and done["history"][1]["note"] == "查看中"
    assert warning_api.error_codes(ack, id=wid) == ["BAD_INPUT"]  # resolved cannot be acknowledged again
    assert warning_api.error_codes(ack, id="nope") == ["NOT_FOUND"]
    open_only = warning_api.data('{ enterprise(id: "E1") { warnings { id } } }')["enterprise"]["warnings"]
    assert wid not in [w["id"] for w in open_only]


def test_a_steward_pins_a_shared_meter(warning_api: GraphQLClient) -> None:
    doc = (
        'mutation ($ids: [String!]!) { pinMeter(meterId: "M9", enterpriseIds: $ids) '
        "{ meterId via shared review enterpriseIds } }"
    )
    pinned = warning_api.data(doc, ids=["E1", "E2"])["pinMeter"]
    assert pinned == {
        "meterId": "M9",
        "via": "steward",
        "shared": True,
        "review": "shared",
        "enterpriseIds": ["E1", "E2"],
    }
    assert warning_api.error_codes(doc, ids=["E-nope"]) == ["BAD_INPUT"]
    assert warning_api.error_codes(doc, role=Role.ANALYST, ids=["E1"]) == ["FORBIDDEN"]
    meters = warning_api.data('{ enterprise(id: "E2") { meters { meterId shared via } } }')["enterprise"][
        "meters"
    ]
    assert meters == [{"meterId": "M9", "shared": True, "via": "steward"}]
    review = warning_api.data('{ metersForReview(review: "shared") { meterId enterpriseIds } }')[
        "metersForReview"
    ]
    assert review == [{"meterId": "M9", "enterpriseIds": ["E1", "E2"]}]  # the deprecated list still answers


def test_the_meter_review_queue_pages_like_every_list(warning_api: GraphQLClient) -> None:
    pin = (
        "mutation ($m: String!, $ids: [String!]!) { pinMeter(meterId: $m, enterpriseIds: $ids) { meterId } }"
    )
    for meter in ("M1", "M2", "M3"):
        warning_api.data(pin, m=meter, ids=["E1", "E2"])
    page = """query ($after: String) { meterReview(review: "shared", first: 2, after: $after) {
      edges { cursor node { meterId enterpriseIds } } pageInfo { hasNextPage endCursor } } }"""
    first = warning_api.data(page)["meterReview"]
    assert [e["node"]["meterId"] for e in first["edges"]] == ["M1", "M2"]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": first["edges"][-1]["cursor"]}
    rest = warning_api.data(page, after=first["pageInfo"]["endCursor"])["meterReview"]
    assert [e["node"]["meterId"] for e in rest["edges"]] == ["M3"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert warning_api.error_codes(page, after="M2") == ["BAD_INPUT"]  # a cursor is opaque, not a meter id
    too_many = "{ meterReview(first: 101) { pageInfo { hasNextPage } } }"
    assert warning_api.error_codes(too_many) == ["BAD_INPUT"]
    assert warning_api.error_codes("{ meterReview { pageInfo { hasNextPage } } }", role=Role.ANALYST) == [
        "FORBIDDEN"
    ]


def test_an_enterprises_consumption_sums_its_own_meters(telemetry_api: GraphQLClient, metered: dict) -> None:
    doc = """query ($id: String, $interval: SeriesInterval) { enterprise(id: $id) {
      consumption(utility: "electricity", interval: $interval, from: "2026-11-02", to: "2026-11-04") {
        unit points { start value quality } } } }"""
    days = telemetry_api.data(doc, id=metered["enterprise"], interval="DAY")["enterprise"]["consumption"]
    # only one of its meters has readings here: the sum is that meter's
    assert days["unit"] == "kWh"
    assert [(p["start"], round(p["value"], 6)) for p in days["points"]] == [
        ("2026-11-02", 288 * KWH_PER_READING),
        ("2026-11-03", 288 * KWH_PER_READING),
    ]
    assert telemetry_api.error_codes(doc, id=metered["enterprise"], interval="RAW") == ["BAD_INPUT"]
    public = telemetry_api.data(doc, role=Role.PUBLIC, id=metered["enterprise"], interval="DAY")
    assert public["enterprise"]["consumption"] is None


def test_a_warnings_cursor_the_api_did_not_issue_is_bad_input(warning_api: GraphQLClient) -> None:
    doc = 'query ($after: String) { warnings(town: "磁灶镇", after: $after) { totalCount } }'
    assert warning_api.error_codes(doc, after="not-a-cursor") == ["BAD_INPUT"]
