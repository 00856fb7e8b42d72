"""Field checks in the real store: recorded with their provenance and photo, refused with reasons, carried
to the survivor of a merge, retried once, hidden where the caller may not see the enterprise, listed and
counted per town and month."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from entgraph.graph import canonical_queries, field_check_queries
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import Visibility
from entgraph.identity.codes import make_credit_code
from entgraph.resolution.field_checks import (
    UNPLACED,
    FieldCheckRefused,
    FieldChecks,
    checks_per_town,
    latest_checks,
    photo_of,
    this_month,
)

pytestmark = pytest.mark.stores

CODE = make_credit_code("350582", "MA2FC001")
# The smallest JPEG header a camera writes, then some bytes: enough to be told a photo.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
WHO = {"by": "town.wang", "role": "steward", "device": "Mozilla/5.0 (iPhone) Mobile"}


@pytest.fixture
def checks(fresh_graph: GraphStore, tmp_path: Path) -> FieldChecks:
    canonical_queries.upsert_enterprises(
        fresh_graph,
        [
            {
                "id": f"E-{CODE}",
                "props": {"name": "晋江市恒安鞋业有限公司", "credit_code": CODE, "town": "安海镇"},
            },
            {"id": "P-merged", "props": {"name": "恒安鞋业", "town": "安海镇"}},
            {"id": "P-nowhere", "props": {"name": "无名小店"}},
        ],
    )
    return FieldChecks(fresh_graph, tmp_path / "field-checks")


def test_a_check_is_kept_with_its_provenance_and_photo(checks: FieldChecks, fresh_graph: GraphStore) -> None:
    kept = checks.record(
        f"E-{CODE}",
        status="operating",
        employees_seen=42,
        note="  车间开工，门卫在岗 ",
        photo=("IMG_0001.jpg", io.BytesIO(JPEG)),
        lng=118.58,
        lat=24.63,
        **WHO,
    )
    assert kept["id"].startswith("FC-")
    assert kept["enterprise_id"] == f"E-{CODE}" and kept["credit_code"] == CODE and kept["town"] == "安海镇"
    assert (kept["status_seen"], kept["employees_seen"], kept["note"]) == (
        "operating",
        42,
        "车间开工，门卫在岗",
    )
    assert (kept["checked_by"], kept["checked_role"], kept["via"]) == ("town.wang", "steward", "graphql")
    assert kept["device"] == WHO["device"] and kept["checked_at"].endswith("+08:00")
    assert kept["month"] == this_month() == kept["checked_at"][:7]
    assert (kept["lng"], kept["lat"]) == (118.58, 24.63)
    photo = photo_of(kept)
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest() and photo["type"] == "image/jpeg"
    assert Path(photo["path"]).read_bytes() == JPEG and photo["name"] == "IMG_0001.jpg"
    # linked to the enterprise; no department record was written or changed
    assert fresh_graph.read("MATCH (:FieldCheck)-[:CHECKED]->(e:Enterprise) RETURN e.id AS id") == [
        {"id": f"E-{CODE}"}
    ]
    assert fresh_graph.read("MATCH (r:SourceRecord) RETURN count(r) AS n") == [{"n": 0}]
    golden = fresh_graph.read("MATCH (e:Enterprise {id: $id}) RETURN e.status AS s", {"id": f"E-{CODE}"})
    assert golden == [{"s": None}], "a check is its own source: the golden record is not touched"


def test_checks_are_refused_with_reasons(checks: FieldChecks, fresh_graph: GraphStore) -> None:
    base = {"status": "operating", "employees_seen": 3, "note": "", **WHO}
    refusals = [
        ({"status": "bankrupt"}, "one of operating, stopped, moved, closed"),
        ({"employees_seen": -1}, "employees seen"),
        ({"note": "很" * 501}, "at most 500"),
        ({"status": "moved"}, "迁往何处"),
        ({"lng": 118.5}, "both longitude and latitude"),
        ({"lng": 500.0, "lat": 24.6}, "longitude is -180 to 180"),
        ({"photo": ("virus.exe", io.BytesIO(b"MZ\x90\x00"))}, "not a photo"),
        ({"key": "a b"}, "key:"),
    ]
    for change, reason in refusals:
        with pytest.raises(FieldCheckRefused, match=reason):
            checks.record(f"E-{CODE}", **(base | change))
    with pytest.raises(FieldCheckRefused, match="no enterprise with id 'E-nobody'"):
        checks.record("E-nobody", **base)
    assert fresh_graph.read("MATCH (c:FieldCheck) RETURN count(c) AS n") == [{"n": 0}]


def test_a_merged_away_id_checks_its_survivor_and_later_merges_carry_checks(
    checks: FieldChecks, fresh_graph: GraphStore
) -> None:
    early = checks.record("P-merged", status="stopped", employees_seen=0, note="大门紧闭", **WHO)
    canonical_queries.set_redirect(fresh_graph, "P-merged", f"E-{CODE}")
    later = checks.record("P-merged", status="operating", employees_seen=30, note="复工", **WHO)
    assert later["enterprise_id"] == f"E-{CODE}", "a merged-away id is checked on its survivor"
    on_survivor = field_check_queries.for_enterprises(fresh_graph, [f"E-{CODE}"], 10)[f"E-{CODE}"]
    assert [c["id"] for c in on_survivor] == [later["id"], early["id"]], "latest first, the merged one's too"
    assert latest_checks(fresh_graph, [f"E-{CODE}", "P-nowhere"]) == {f"E-{CODE}": later}
    assert field_check_queries.current_enterprise(fresh_graph, early["id"]) == f"E-{CODE}"


def test_a_retried_submission_is_one_check(checks: FieldChecks, fresh_graph: GraphStore) -> None:
    first = checks.record(f"E-{CODE}", status="closed", employees_seen=None, note="", key="visit-1", **WHO)
    again = checks.record(f"E-{CODE}", status="closed", employees_seen=None, note="", key="visit-1", **WHO)
    assert again == first
    with pytest.raises(FieldCheckRefused, match="another enterprise"):
        checks.record("P-nowhere", status="closed", employees_seen=None, note="", key="visit-1", **WHO)
    other = checks.record(f"E-{CODE}", status="closed", employees_seen=None, note="", key="visit-2", **WHO)
    assert other["id"] != first["id"]
    assert fresh_graph.read("MATCH (c:FieldCheck) RETURN count(c) AS n") == [{"n": 2}]


def test_an_enterprise_the_caller_may_not_see_cannot_be_checked(
    checks: FieldChecks, fresh_graph: GraphStore
) -> None:
    fresh_graph.write(
        "MATCH (e:Enterprise {id: $id}) CREATE (:SourceRecord {id: 'r1', dataset: 'secret'})-[:ABOUT]->(e)",
        {"id": f"E-{CODE}"},
    )
    blind = Visibility(datasets=("open",))
    with pytest.raises(FieldCheckRefused, match="no enterprise"):
        checks.record(f"E-{CODE}", status="operating", employees_seen=1, note="", sight=blind, **WHO)
    kept = checks.record(f"E-{CODE}", status="operating", employees_seen=1, note="", **WHO)
    assert field_check_queries.current_enterprise(fresh_graph, kept["id"], blind) is None
    month = kept["month"]
    assert field_check_queries.by_town(fresh_graph, "安海镇", month, 10, sight=blind)["total"] == 0


def test_checks_are_listed_and_counted_per_town_and_month(
    checks: FieldChecks, fresh_graph: GraphStore
) -> None:
    made = [
        checks.record(f"E-{CODE}", status=s, employees_seen=n, note="见", **WHO)
        for s, n in (("operating", 10), ("stopped", 0), ("closed", 0))
    ]
    nowhere = checks.record("P-nowhere", status="closed", employees_seen=None, note="", **WHO)
    assert nowhere["town"] == UNPLACED
    month = this_month()
    page = field_check_queries.by_town(fresh_graph, "安海镇", month, 2)
    assert page["total"] == 3 and page["has_next"]
    assert [c["id"] for c in page["items"]] == [made[2]["id"], made[1]["id"]]
    assert page["items"][0]["enterprise"] == f"E-{CODE}"
    assert page["items"][0]["enterprise_name"] == "晋江市恒安鞋业有限公司"
    last = page["items"][-1]
    rest = field_check_queries.by_town(fresh_graph, "安海镇", month, 2, (last["checked_at"], last["id"]))
    assert [c["id"] for c in rest["items"]] == [made[0]["id"]] and not rest["has_next"]
    assert field_check_queries.by_town(fresh_graph, "安海镇", "2001-01", 10)["total"] == 0
    assert checks_per_town(fresh_graph, month) == {
        "安海镇": {"total": 3, "operating": 1, "stopped": 1, "closed": 1},
        UNPLACED: {"total": 1, "closed": 1},
    }
    with pytest.raises(FieldCheckRefused, match="YYYY-MM"):
        checks_per_town(fresh_graph, "2026-13")
    assert json.loads(json.dumps(page)) == page  # plain data, ready for any caller
