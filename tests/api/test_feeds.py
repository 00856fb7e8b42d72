"""Feeds over HTTP against the loaded city: the catalog, timeliness (as `entgraph feeds status`) and
upload history with its row counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from entgraph.api.app import create_app
from entgraph.api.auth import Role, issue_token
from entgraph.api.graphql_client import data_of, post_graphql
from entgraph.api.schema import Query
from entgraph.catalog.registry import Catalog
from entgraph.catalog.timeliness import CST, feed_status
from entgraph.graph import record_queries, upload_queries
from entgraph.loaders.engine import Loader
from entgraph.settings import Settings

SECRET = "s" * 40
FeedsRoot = Query  # the served root query holds these fields
STATUSES = {"on_time", "late", "missing", "not_due", "no_deadline"}
UPLOADS = """query($d: String, $n: Int!) { uploads(dataset: $d, first: $n) {
  id dataset fileName status startedAt finishedAt rowsRead loaded new updated unchanged rejected
  duplicates skipped skippedBlank skippedTotals skippedHidden retired periods } }"""


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SecretStr(SECRET), role, role.value + '-1', 600)}"}


@pytest.fixture(scope="module")
def client(resolved_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("feeds-api")
    settings = Settings(
        home=home,
        api_mode="development",
        api_jwt_secret=SECRET,
        api_keys_file=home / "api-keys.toml",
        api_cors_origins="",
        api_max_depth=10,
        api_max_aliases=15,
        api_max_cost=5000,
    )
    app = create_app(settings, resolved_city.store, resolved_city.catalog, query=FeedsRoot)
    with TestClient(app) as test_client:
        yield test_client


def gql(client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict:
    return post_graphql(client, query, headers, **variables)


def ok(client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict:
    return data_of(post_graphql(client, query, headers, **variables))


def test_the_catalog_is_public(client: TestClient) -> None:
    query = """query($c: String, $d: String) { datasets(city: $c, department: $d) {
      key title department city frequency deadline subject
      sharing { usage openToPublic credit personal } } }"""
    everything = ok(client, query)["datasets"]
    assert len(everything) == 85  # the seeds' 84 and the platform's own town boundaries
    assert {d["city"] for d in everything} == {"晋江", "乌海"}
    assert all(d["sharing"]["usage"] in {"无条件使用", "有条件使用", "不予共享"} for d in everything)
    assert any(d["deadline"] == "PT9H30M" for d in everything)  # Wuhai's daily feeds: 09:30 next day

    one = everything[0]
    narrowed = ok(client, query, c=one["city"], d=one["department"])["datasets"]
    assert one in narrowed
    assert all((d["city"], d["department"]) == (one["city"], one["department"]) for d in narrowed)
    assert len(narrowed) < 85


def test_feed_status_is_what_the_cli_reports(client: TestClient, resolved_city: Any) -> None:
    query = """query($on: Date, $dep: String) { feedStatus(asOf: $on, department: $dep) {
      dataset department lastPeriod currentPeriod status periods(first: 3) { period status } } }"""
    uploads = upload_queries.uploads(resolved_city.store)
    specs = {spec.key: spec for spec in resolved_city.catalog.specs}
    for as_of in ("2023-01-20", "2030-01-01"):
        rows = ok(client, query, on=as_of)["feedStatus"]
        assert len(rows) == 85
        moment = dt.datetime.combine(dt.date.fromisoformat(as_of), dt.time(), CST)
        for row in rows:
            expected = feed_status(
                specs[row["dataset"]], [u for u in uploads if u["dataset"] == row["dataset"]], moment
            )
            assert (row["lastPeriod"], row["currentPeriod"], row["status"]) == (
                expected.last_period,
                expected.current_period,
                expected.status,
            )
            assert row["status"] in STATUSES and len(row["periods"]) <= 3
        statuses = {row["status"] for row in rows}
        assert "no_deadline" in statuses and len(statuses) > 1
    # Long after the last upload, every feed with a deadline is missing its current period.
    assert {row["status"] for row in rows} == {"missing", "no_deadline"}

    department = rows[0]["department"]
    mine = ok(client, query, on="2030-01-01", dep=department)["feedStatus"]
    assert mine and {row["department"] for row in mine} == {department}


def test_uploads_are_for_analysts(client: TestClient) -> None:
    body = gql(client, UPLOADS, n=5)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(ok(client, UPLOADS, bearer(Role.ANALYST), n=5)["uploads"]) == 5
    everything = "{ uploads(first: 100) { id startedAt } }"  # a small selection keeps under the cost limit
    all_uploads = ok(client, everything, bearer(Role.ADMIN))["uploads"]
    assert len(all_uploads) == 85  # one file per feed in the generated city
    started = [u["startedAt"] for u in all_uploads]
    assert started == sorted(started, reverse=True)
    unknown = gql(client, UPLOADS, bearer(Role.ANALYST), d="no_such_feed", n=5)
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_upload_counts_are_what_was_loaded(client: TestClient, resolved_city: Any) -> None:
    store = resolved_city.store
    for dataset in ("jj_project_approvals", "wh_social_insurance"):
        (upload,) = ok(client, UPLOADS, bearer(Role.ANALYST), d=dataset, n=10)["uploads"]
        assert upload["dataset"] == dataset and upload["status"] == "done"
        assert upload["loaded"] == upload["new"] + upload["updated"]
        # A first load: every loaded row is a new record of this file in the graph.
        assert upload["new"] == record_queries.record_count(store, dataset, upload["fileName"])
        assert (upload["updated"], upload["unchanged"]) == (0, 0)
        assert (
            upload["rowsRead"]
            == upload["new"] + upload["rejected"] + upload["duplicates"] + upload["skipped"]
        )
        parts = (upload["skippedBlank"], upload["skippedTotals"], upload["skippedHidden"])
        assert upload["skipped"] == sum(parts)
        assert upload["periods"] and upload["finishedAt"] >= upload["startedAt"]
        files = Path(resolved_city.files)
        assert (files / upload["fileName"]).is_file()


OFFICE = Path(__file__).parents[1] / "fixtures" / "office"


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        ("totals-rows.jj_government_subsidies.xlsx", {"skippedTotals": 4, "skippedBlank": 1}),
        ("hidden-sheet.wh_enterprise_electricity.xlsx", {}),
    ],
)
def test_an_upload_accounts_for_every_row_it_read(
    fresh_graph: Any, graph_api: Any, tmp_path: Path, name: str, skipped: dict[str, int]
) -> None:
    """Rows skipped on purpose (totals, blanks, hidden sheets) are counted, and the counts add up."""
    result = Loader(fresh_graph, Catalog.load(entry_points=False), tmp_path / "reports").load(OFFICE / name)
    (upload,) = graph_api.data(UPLOADS, Role.ANALYST, d=result.dataset, n=5)["uploads"]
    parts = {k: upload[k] for k in ("skippedBlank", "skippedTotals", "skippedHidden")}
    assert parts == {"skippedBlank": 0, "skippedTotals": 0, "skippedHidden": result.skipped_hidden} | skipped
    assert upload["skipped"] == sum(parts.values()) == result.skipped > 0
    counted = ("loaded", "unchanged", "rejected", "duplicates", "skipped")
    assert upload["rowsRead"] == result.rows_read == sum(upload[k] for k in counted)
