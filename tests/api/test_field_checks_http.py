"""Field checks over HTTP, served over TCP with a key per role: a steward records a visit with its photo
(multipart) and without (GraphQL), on a merged-away id too; each role reads what it may (the checker's
name masked for analysts, the photo for stewards only, nothing for the public and the channel roles); an
enterprise only a 不予共享 dataset knows cannot be checked or seen by a steward."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import SAMPLE_SCOPES
from entgraph.catalog.registry import Catalog, Feed
from entgraph.catalog.spec import Sharing, Usage
from entgraph.graph import canonical_queries
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.resolution.field_checks import MAX_PHOTO_BYTES, this_month
from entgraph.settings import Settings

pytestmark = pytest.mark.stores

OPEN = f"E-{make_credit_code('350582', 'MA2FC101')}"
HIDDEN = f"E-{make_credit_code('350582', 'MA2FC102')}"
OLD = "P-merged-away"
TOWN = "安海镇"
CLOSED = "jj_tax_registration"  # made 不予共享 here: the enterprise only it knows is for admins
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"

CHECKS = """query ($id: String!) { enterprise(id: $id) { id fieldChecks { id enterpriseId recordedOn
  statusSeen employeesSeen note town month checkedAt checkedBy checkedRole device via lng lat hasPhoto
  photo { name bytes sha256 type url } } } }"""
RECORD = """mutation ($id: String!, $status: FieldCheckStatus!, $n: Int, $note: String!, $key: String) {
  recordFieldCheck(enterpriseId: $id, status: $status, employeesSeen: $n, note: $note, key: $key) {
    id enterpriseId statusSeen employeesSeen note checkedBy via device } }"""
TOWN_CHECKS = """query ($town: String!, $month: String, $after: String) { fieldChecks(town: $town,
  month: $month, first: 1, after: $after) { totalCount edges { cursor node { id enterpriseId
  enterpriseName statusSeen checkedBy } } pageInfo { hasNextPage endCursor } } }"""


@dataclass
class Site:
    base: str
    keys: dict[str, str]
    http: httpx.Client

    def headers(self, who: str) -> dict[str, str]:
        return {"User-Agent": PHONE} | ({"X-API-Key": self.keys[who]} if who != "public" else {})

    def gql(self, who: str, query: str, **variables: Any) -> dict[str, Any]:
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers(who)
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    def codes(self, who: str, query: str, **variables: Any) -> list[str]:
        return [e["extensions"]["code"] for e in self.gql(who, query, **variables).get("errors") or []]

    def post_check(self, who: str, photo: bytes | None = None, **fields: str) -> httpx.Response:
        files = {"photo": ("IMG_0001.jpg", photo, "image/jpeg")} if photo is not None else None
        return self.http.post("/field-checks", data=fields, files=files, headers=self.headers(who))


def _closed(catalog: Catalog) -> Catalog:
    feeds = []
    for feed in catalog:
        spec = feed.spec
        if spec.key == CLOSED:
            columns = [column.model_copy(update={"sharing": None}) for column in spec.columns]
            spec = spec.model_copy(update={"sharing": Sharing(usage=Usage.NOT_SHARED), "columns": columns})
        feeds.append(Feed(spec, feed.loader, feed.origin))
    return Catalog(feeds)


@pytest.fixture
def site(
    fresh_graph: GraphStore,
    catalog: Catalog,
    tmp_path: Path,
    over_tcp: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[Site]:
    canonical_queries.upsert_enterprises(
        fresh_graph,
        [
            {"id": OPEN, "props": {"name": "晋江市恒安鞋业有限公司", "town": TOWN, "credit_code": OPEN[2:]}},
            {"id": HIDDEN, "props": {"name": "晋江市隐秘贸易有限公司", "town": TOWN}},
            {"id": OLD, "props": {"name": "恒安鞋业", "town": TOWN}},
        ],
    )
    canonical_queries.set_redirect(fresh_graph, OLD, OPEN)
    for record, dataset, enterprise in (
        ("r-open", "jj_enterprise_registration", OPEN),
        ("r-hidden", CLOSED, HIDDEN),
    ):
        fresh_graph.write(
            "MATCH (e:Enterprise {id: $e}) CREATE (:SourceRecord {id: $r, dataset: $d})-[:ABOUT "
            "{party: 'subject'}]->(e)",
            {"e": enterprise, "r": record, "d": dataset},
        )
    home = tmp_path / "home"
    keys_file = ApiKeyFile(home / "api-keys.toml")
    keys = {
        role.value: keys_file.create(role, f"{role.value}-wang", SAMPLE_SCOPES.get(role))
        for role in Role
        if role is not Role.PUBLIC
    }
    settings = Settings(home=home, api_mode="production", api_keys_file=home / "api-keys.toml")
    app = create_app(settings, fresh_graph, _closed(catalog))
    with over_tcp(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield Site(base, keys, http)


def test_a_steward_records_checks_and_each_role_reads_what_it_may(site: Site) -> None:
    # From the phone: a multipart form with the photo, on an id since merged into OPEN.
    form = {"enterpriseId": OLD, "status": "operating", "employeesSeen": "42", "note": "车间开工"}
    sent = site.post_check("steward", JPEG, **form, lng="118.58", lat="24.63", key="visit-1")
    assert sent.status_code == 201, sent.text
    first = sent.json()
    assert (first["enterpriseId"], first["recordedOn"], first["statusSeen"]) == (OPEN, OPEN, "operating")
    assert (first["checkedBy"], first["checkedRole"], first["via"], first["device"]) == (
        "steward-wang",
        "steward",
        "http",
        PHONE,
    )
    assert first["photo"]["sha256"] == hashlib.sha256(JPEG).hexdigest() and first["hasPhoto"]
    again = site.post_check("steward", JPEG, enterpriseId=OLD, status="operating", key="visit-1")
    assert again.status_code == 201 and again.json()["id"] == first["id"], "a retry records nothing new"

    # From an app without a photo: GraphQL.
    later = site.gql("steward", RECORD, id=OPEN, status="CLOSED", n=0, note="人去楼空", key="visit-2")
    later = later["data"]["recordFieldCheck"]
    assert (later["statusSeen"], later["employeesSeen"], later["via"]) == ("CLOSED", 0, "graphql")

    steward = site.gql("steward", CHECKS, id=OLD)["data"]["enterprise"]
    assert steward["id"] == OPEN
    assert [c["id"] for c in steward["fieldChecks"]] == [later["id"], first["id"]], "latest first"
    shown = steward["fieldChecks"][1]
    assert (shown["lng"], shown["lat"], shown["device"]) == (118.58, 24.63, PHONE)
    photo = site.http.get(shown["photo"]["url"], headers=site.headers("steward"))
    assert photo.status_code == 200 and photo.content == JPEG
    assert photo.headers["content-type"] == "image/jpeg"

    analyst = site.gql("analyst", CHECKS, id=OPEN)["data"]["enterprise"]["fieldChecks"][1]
    assert analyst["checkedBy"] == "s***********" and analyst["hasPhoto"] and analyst["photo"] is None
    assert (analyst["note"], analyst["employeesSeen"], analyst["town"]) == ("车间开工", 42, TOWN)
    assert [analyst[k] for k in ("device", "checkedRole", "via", "lng", "lat")] == [None] * 5
    assert site.http.get(shown["photo"]["url"], headers=site.headers("analyst")).status_code == 403

    for who in ("public", "enterprise", "department"):
        assert site.gql(who, CHECKS, id=OPEN)["data"]["enterprise"]["fieldChecks"] is None, who
        assert site.codes(who, TOWN_CHECKS, town=TOWN) == ["FORBIDDEN"], who
        assert site.http.get(shown["photo"]["url"], headers=site.headers(who)).status_code == 403, who

    # A town's checks of the month, a page at a time.
    page = site.gql("analyst", TOWN_CHECKS, town=TOWN, month=this_month())["data"]["fieldChecks"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    node = page["edges"][0]["node"]
    assert (node["id"], node["enterpriseName"], node["checkedBy"]) == (
        later["id"],
        "晋江市恒安鞋业有限公司",
        "s***********",
    )
    rest = site.gql("analyst", TOWN_CHECKS, town=TOWN, after=page["pageInfo"]["endCursor"])["data"]
    assert [e["node"]["id"] for e in rest["fieldChecks"]["edges"]] == [first["id"]]
    assert (
        site.gql("analyst", TOWN_CHECKS, town=TOWN, month="2001-01")["data"]["fieldChecks"]["totalCount"] == 0
    )


def test_who_may_record_and_what_is_refused(site: Site) -> None:
    for who in ("analyst", "public", "enterprise", "department"):
        assert site.codes(who, RECORD, id=OPEN, status="OPERATING", note="") == ["FORBIDDEN"], who
        assert site.post_check(who, enterpriseId=OPEN, status="operating").status_code == 403, who

    refused = [
        ({"status": "MOVED", "note": ""}, "BAD_INPUT"),  # a move says where to
        ({"status": "OPERATING", "note": "", "n": -3}, "BAD_INPUT"),
        ({"status": "OPERATING", "note": "", "key": "两 个"}, "BAD_INPUT"),
    ]
    for change, code in refused:
        assert site.codes("steward", RECORD, **({"id": OPEN} | change)) == [code], change
    assert site.codes("steward", TOWN_CHECKS, town=TOWN, month="2026-13") == ["BAD_INPUT"]
    for fields, photo in (
        ({"enterpriseId": OPEN, "status": "operating"}, b"MZ\x90\x00 not a photo"),
        ({"enterpriseId": OPEN, "status": "operating", "employeesSeen": "很多"}, None),
        ({"enterpriseId": OPEN, "status": "bankrupt"}, None),
        ({"enterpriseId": OPEN, "status": "operating", "lng": "118.5"}, None),
        ({"status": "operating"}, None),
    ):
        answer = site.post_check("steward", photo, **fields)
        assert answer.status_code == 400 and answer.json()["errors"][0]["message"], fields
    huge = b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES + 70_000)
    too_big = site.post_check("steward", huge, enterpriseId=OPEN, status="operating")
    assert too_big.status_code == 413

    # An enterprise only a 不予共享 dataset knows: not there for a steward, checked by an admin.
    assert site.codes("steward", RECORD, id=HIDDEN, status="OPERATING", note="") == ["NOT_FOUND"]
    assert site.post_check("steward", enterpriseId=HIDDEN, status="operating").status_code == 404
    hidden = site.post_check("admin", JPEG, enterpriseId=HIDDEN, status="stopped", note="停产").json()
    assert hidden["enterpriseId"] == HIDDEN
    url = hidden["photo"]["url"]
    assert site.http.get(url, headers=site.headers("steward")).status_code == 404
    assert site.http.get(url, headers=site.headers("admin")).content == JPEG
    ids = {
        who: [e["node"]["id"] for e in site.gql(who, TOWN_CHECKS, town=TOWN)["data"]["fieldChecks"]["edges"]]
        for who in ("steward", "admin")
    }
    assert ids == {"steward": [], "admin": [hidden["id"]]}
    assert site.http.get("/field-checks/FC-nothing/photo", headers=site.headers("admin")).status_code == 404
