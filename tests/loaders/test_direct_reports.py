"""Enterprise direct reports in the real store: forms from the specs, drafts, validation as a file row,
submission loaded by the worker with the enterprise's own code, corrections as versions, reminders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.graph import direct_report_queries
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.direct_reports import DirectReports, ReportRefused, direct_specs, form
from entgraph.loaders.intake import Inbox, SubmissionRefused, Worker
from entgraph.localtime import CST

pytestmark = pytest.mark.stores

CODE = make_credit_code("150302", "MA0DR001")
OPERATIONS = "wh_enterprise_operations"
PROFILE = "wh_enterprise_profile"


def _record(store: GraphStore, record_id: str) -> dict:
    return store.read("MATCH (r:SourceRecord {id: $id}) RETURN r AS r", {"id": record_id})[0]["r"]


def test_forms_come_from_the_four_direct_report_specs(catalog: Catalog) -> None:
    specs = {s.key for s in direct_specs(catalog)}
    monthly_ones = {"wh_enterprise_operations", "wh_enterprise_production", "wh_energy_consumption_report"}
    assert specs == {"wh_enterprise_profile", *monthly_ones}
    monthly = form(catalog.get(OPERATIONS).spec, dt.datetime(2026, 12, 3, 10, tzinfo=CST))
    # P5D after the month ends: through the 5th (the catalog's timeliness rule, as the board counts it)
    assert monthly.period == "2026-11" and monthly.due == "2026-12-06T00:00:00+08:00"
    assert monthly.due_by == "2026-12-05"  # "次月5日前": the 5th is the last day
    labels = {f.label: f for f in monthly.fields}
    assert "统一社会信用代码" not in labels and "所属期" not in labels  # the reporter's code; the period
    assert labels["工业总产值"].unit == "万元" and labels["工业总产值"].type == "amount"
    profile = form(catalog.get("wh_enterprise_profile").spec)
    assert profile.period is None and profile.due is None  # on change: no period, no deadline


def test_a_report_is_drafted_validated_submitted_loaded_and_corrected(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    reports = DirectReports(Inbox(fresh_graph, catalog, tmp_path / "inbox"))
    reports.save_draft(CODE, OPERATIONS, "2026-11", {"工业总产值": "1200.5", "职工人数": ""}, by="张会计")
    assert reports.draft(CODE, OPERATIONS, "2026-11")["values"] == {"gross_output": "1200.5"}

    with pytest.raises(ReportRefused) as refused:
        reports.submit(
            CODE, OPERATIONS, "2026-11", {"工业总产值": "一千万", "职工人数": "12.5人"}, by="张会计"
        )
    assert {i.column for i in refused.value.issues} >= {"工业总产值"}
    with pytest.raises(SubmissionRefused, match="per period"):
        reports.submit(CODE, OPERATIONS, None, {"工业总产值": "1"}, by="张会计")
    with pytest.raises(SubmissionRefused, match="has no field"):
        reports.submit(CODE, OPERATIONS, "2026-11", {"利润": "1"}, by="张会计")
    with pytest.raises(SubmissionRefused, match="not reported by enterprises"):
        reports.submit(CODE, "jj_tax_registration", None, {}, by="张会计")

    first = reports.submit(
        CODE, OPERATIONS, "2026-11", {"工业总产值": "1200.5", "职工人数": "85"}, by="张会计"
    )
    assert first["version"] == 1 and reports.draft(CODE, OPERATIONS, "2026-11") is None
    worker = Worker(fresh_graph, catalog, tmp_path / "reports")
    loaded = worker.run_once()
    assert loaded is not None and loaded["status"] == "done" and loaded["new"] == 1, loaded
    record = _record(fresh_graph, first["record_id"])
    assert record["credit_code"] == CODE and record["employees"] == 85

    second = reports.submit(
        CODE, OPERATIONS, "2026-11", {"工业总产值": "1300", "职工人数": "85"}, by="李经理"
    )
    assert second["version"] == 2 and second["record_id"] == first["record_id"]
    assert worker.run_once()["updated"] == 1
    record = _record(fresh_graph, first["record_id"])
    assert record["gross_output"] == pytest.approx(1300 * 10_000)  # 万元 as typed, yuan as stored
    history = reports.history(CODE, OPERATIONS)
    assert [(h["version"], h["submitted_by"], h["values"]["gross_output"]) for h in history] == [
        (2, "李经理", "1300"), (1, "张会计", "1200.5"),
    ]  # fmt: skip


def test_reminders_list_who_reported_last_period_and_not_this(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    reports = DirectReports(Inbox(fresh_graph, catalog, tmp_path / "inbox"))
    late = make_credit_code("150302", "MA0DR002")
    for code in (CODE, late):
        reports.submit(code, OPERATIONS, "2026-10", {"工业总产值": "10"}, by="x")
    reports.submit(CODE, OPERATIONS, "2026-11", {"工业总产值": "11"}, by="x")
    missing = direct_report_queries.not_reported(fresh_graph, OPERATIONS, "2026-11", "2026-10")
    assert [m["credit_code"] for m in missing] == [late]


def test_a_reporter_the_graph_does_not_know_yet_is_named_from_its_own_profile(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    reports = DirectReports(Inbox(fresh_graph, catalog, tmp_path / "inbox"))
    new = make_credit_code("150302", "MA0DR003")
    reports.submit(
        new, PROFILE, None, {"企业名称": "乌海市新锐材料有限公司", "统一社会信用代码": new}, by="x"
    )
    reports.submit(new, OPERATIONS, "2026-10", {"工业总产值": "10"}, by="x")
    [missing] = direct_report_queries.not_reported(fresh_graph, OPERATIONS, "2026-11", "2026-10")
    assert missing == {
        "credit_code": new, "enterprise": None, "name": "乌海市新锐材料有限公司", "town": None,
    }  # fmt: skip
