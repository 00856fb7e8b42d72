"""Upload reports over HTTP: UploadSummary.errorReport and GET /reports/{upload id} on the loaded city
(whose loader wrote its reports under <city root>/reports, the report directory of a home there)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import bearer, data_of, post_graphql
from entgraph.api.reports import XLSX
from entgraph.catalog.registry import Catalog
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

SECRET = "r" * 40
UPLOADS = "{ uploads(first: 500) { id dataset rejected errorReport } }"


def settings_for(home: Path, keys: Path) -> Settings:
    return Settings(
        home=home, api_mode="development", api_jwt_secret=SECRET, api_keys_file=keys, api_cors_origins=""
    )


@pytest.fixture(scope="module")
def api_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("report-keys") / "api-keys.toml"
    return path, ApiKeyFile(path).create(Role.ANALYST, "clerk-desk")


@pytest.fixture(scope="module")
def client(resolved_city: Any, city_root: Path, api_key: tuple[Path, str]) -> Iterator[TestClient]:
    app = create_app(settings_for(city_root, api_key[0]), resolved_city.store, resolved_city.catalog)
    with TestClient(app) as test_client:
        yield test_client


def analyst() -> dict[str, str]:
    return bearer(SECRET, Role.ANALYST, "ann")


def refused_upload(client: TestClient) -> dict[str, Any]:
    uploads = data_of(post_graphql(client, UPLOADS, analyst()))["uploads"]
    return max(uploads, key=lambda u: (u["rejected"] or 0, u["id"]))


def test_uploads_link_their_reports(client: TestClient, resolved_city: Any, city_root: Path) -> None:
    uploads = data_of(post_graphql(client, UPLOADS, analyst()))["uploads"]
    assert uploads and all(u["errorReport"] == f"/reports/{u['id']}" for u in uploads)
    # Outside the loader's report directory there is nothing to download: null, not a dead link.
    elsewhere = settings_for(city_root / "elsewhere", city_root / "elsewhere-keys.toml")
    with TestClient(create_app(elsewhere, resolved_city.store, resolved_city.catalog)) as other:
        moved = data_of(post_graphql(other, UPLOADS, analyst()))["uploads"]
    assert moved and all(u["errorReport"] is None for u in moved)


def test_the_report_is_the_xlsx_with_the_refused_rows(client: TestClient) -> None:
    upload = refused_upload(client)
    assert upload["rejected"] > 0
    response = client.get(upload["errorReport"], headers=analyst())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    assert ".report.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["汇总 Summary", "问题 Issues", "待修正 To fix"]
    to_fix = [row for row in book["待修正 To fix"].iter_rows(values_only=True) if isinstance(row[1], int)]
    assert len(to_fix) == upload["rejected"]
    summary = dict(book["汇总 Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["拒收 Refused"] == upload["rejected"]


def test_an_api_key_authenticates_as_for_graphql(client: TestClient, api_key: tuple[Path, str]) -> None:
    path = refused_upload(client)["errorReport"]
    assert client.get(path, headers={"X-API-Key": api_key[1]}).status_code == 200
    bad = client.get(path, headers={"X-API-Key": "not-a-key"})
    assert bad.status_code == 401
    assert bad.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_public_callers_are_forbidden(client: TestClient) -> None:
    path = refused_upload(client)["errorReport"]
    for headers in ({}, bearer(SECRET, Role.PUBLIC, "web")):
        response = client.get(path, headers=headers)
        assert response.status_code == 403
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "FORBIDDEN", "requiredRole": "analyst"}


def test_unknown_uploads_are_not_found(client: TestClient) -> None:
    response = client.get("/reports/jj_tax_receipts:nope", headers=analyst())
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_report_path_outside_the_report_dir_is_refused(fresh_graph: GraphStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    inside = home / "reports" / "x" / "ok.report.xlsx"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"PK fake")
    outside = tmp_path / "secret.xlsx"
    outside.write_bytes(b"PK secret")
    paths = {
        "in": str(inside),
        "out": str(outside),
        "dots": str(home / "reports" / ".." / ".." / "secret.xlsx"),
        "gone": str(home / "reports" / "x" / "missing.xlsx"),
    }
    fresh_graph.write(
        "UNWIND $rows AS row CREATE (:Upload {id: row.id, dataset: 'x', file_name: 'f.xlsx', "
        "status: 'done', started_at: '2024-01-01', report_path: row.path})",
        {"rows": [{"id": key, "path": path} for key, path in paths.items()]},
    )
    settings = settings_for(home, tmp_path / "keys.toml")
    with TestClient(create_app(settings, fresh_graph, Catalog.load(entry_points=False))) as client:
        reports = {
            u["id"]: u["errorReport"] for u in data_of(post_graphql(client, UPLOADS, analyst()))["uploads"]
        }
        assert reports == {"in": "/reports/in", "out": None, "dots": None, "gone": None}
        assert client.get("/reports/in", headers=bearer(SECRET, Role.ADMIN, "root")).content == b"PK fake"
        assert client.get("/reports/in", headers=analyst()).status_code == 404  # no workbook to mask
        for key in ("out", "dots", "gone"):
            assert client.get(f"/reports/{key}", headers=analyst()).status_code == 404
