"""Honours published on application, in the real store: applied for with a certificate and a statement,
reviewed by the awarding department, withdrawn when a 失信 record is loaded and resolved to the
enterprise, restored by the department, withdrawn again by a new record."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph import honour_queries
from entgraph.graph.port import GraphStore
from entgraph.identity.codes import make_credit_code
from entgraph.loaders.engine import Loader
from entgraph.loaders.honours import HonourRefused, Honours, public_view
from entgraph.localtime import CST
from entgraph.resolution.resolver import Resolver
from entgraph.workdays import add_workdays

pytestmark = pytest.mark.stores

CODE = make_credit_code("150302", "MA0HN001")
MIIT = "乌海:市工信局"
CERTIFICATE = [("高新证书.pdf", io.BytesIO(b"%PDF-1.4 certificate"))]
HEADER = ["数据类别", "企业名称", "统一社会信用代码", "文书号", "事由", "认定机关", "决定日期"]


def _credit_file(folder: Path, *rows: tuple[str, str]) -> Path:
    """A 信用乌海 export with the enterprise's entries: (kind, document number)."""
    lines = [
        [kind, "乌海市恒达化工有限公司", CODE, number, "未履行生效判决", "乌海市中级人民法院", "2026-11-20"]
        for kind, number in rows
    ]
    return write_csv(folder / "信用乌海_2026-11.csv", HEADER, lines)


def test_applications_are_refused_with_reasons(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    honours = Honours(fresh_graph, catalog, tmp_path / "honours")
    base = {"title": "高新技术企业", "awarded_by": MIIT, "recognised_on": "2026-06-30", "by": "张会计"}
    with pytest.raises(HonourRefused, match="承诺属实"):
        honours.apply(CODE, **base, statement=False, files=CERTIFICATE)
    with pytest.raises(HonourRefused, match="not a department of the catalog"):
        honours.apply(CODE, **(base | {"awarded_by": "乌海:魔法局"}), statement=True, files=CERTIFICATE)
    with pytest.raises(HonourRefused, match="attach the certificate"):
        honours.apply(CODE, **base, statement=True, files=[])
    with pytest.raises(HonourRefused, match="a date"):
        honours.apply(CODE, **(base | {"recognised_on": "去年"}), statement=True, files=CERTIFICATE)
    assert honour_queries.applications(fresh_graph) == []


def test_an_honour_is_published_withdrawn_on_dishonesty_and_restored(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    honours = Honours(fresh_graph, catalog, tmp_path / "honours")
    applied = honours.apply(
        CODE, title="高新技术企业", awarded_by=MIIT, recognised_on="2026-06-30", statement=True,
        files=[("高新证书.pdf", io.BytesIO(b"%PDF-1.4 certificate"))], by="张会计",
    )  # fmt: skip
    assert applied["status"] == "pending" and applied["due_at"] > applied["applied_at"]
    [kept] = json.loads(applied["files"])
    assert Path(kept["path"]).read_bytes() == b"%PDF-1.4 certificate" and len(kept["sha256"]) == 64

    with pytest.raises(HonourRefused, match="no honour application"):  # another department
        honours.review(applied["id"], scope="乌海:市发改委", approve=True, note="", by="x")
    with pytest.raises(HonourRefused, match="say why"):
        honours.review(applied["id"], scope=MIIT, approve=False, note=" ", by="王科长")
    published = honours.review(applied["id"], scope=MIIT, approve=True, note="核实无误", by="王科长")
    assert published["status"] == "published"
    assert public_view(published) == {
        "id": applied["id"], "creditCode": CODE, "title": "高新技术企业", "awardedBy": MIIT,
        "recognisedOn": "2026-06-30", "publishedAt": published["published_at"],
    }  # fmt: skip

    # a 红名单 entry is no dishonesty; a court's 失信被执行人 entry is
    loader = Loader(fresh_graph, catalog, tmp_path / "reports")
    resolver = Resolver(fresh_graph, catalog, tmp_path / "model.json")
    loader.load(_credit_file(tmp_path, ("法人红名单信息", "红-1")))
    assert resolver.run().honours_withdrawn == 0
    loader.load(
        _credit_file(tmp_path, ("法人红名单信息", "红-1"), ("法院失信被执行人信息", "(2026)蒙03执1号"))
    )
    summary = resolver.run()
    assert summary.honours_withdrawn == 1 and "published honours withdrawn" in summary.line()
    withdrawn = honour_queries.application(fresh_graph, applied["id"])
    assert withdrawn["status"] == "withdrawn" and "法院失信被执行人信息" in withdrawn["withdrawn_reason"]
    assert withdrawn["withdrawn_at"] >= published["published_at"]

    restored = honours.restore(applied["id"], scope=MIIT, note="已履行，信用修复", by="王科长")
    assert restored["status"] == "published"
    assert honours.check() == [], "the records it was restored over no longer withdraw it"
    with pytest.raises(HonourRefused, match="not withdrawn"):
        honours.restore(applied["id"], scope=MIIT, note="", by="王科长")

    loader.load(
        _credit_file(
            tmp_path, ("法人红名单信息", "红-1"), ("法院失信被执行人信息", "(2026)蒙03执1号"),
            ("法院失信被执行人信息", "(2026)蒙03执9号"),
        )
    )  # fmt: skip
    assert resolver.run().honours_withdrawn == 1, "a new 失信 record withdraws it again"


def test_a_change_is_settled_by_an_update_or_a_revocation_within_15_working_days(
    fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path
) -> None:
    honours = Honours(fresh_graph, catalog, tmp_path / "honours")

    def published(title: str) -> dict:
        applied = honours.apply(
            CODE, title=title, awarded_by=MIIT, recognised_on="2025-06-30", statement=True,
            files=[("证书.pdf", io.BytesIO(b"%PDF-1.4"))], by="张会计",
        )  # fmt: skip
        with pytest.raises(HonourRefused, match="is not shown"):  # a pending one has nothing to change
            honours.report_change(applied["id"], credit_code=CODE, scope=None, note="更名", by="张会计")
        return honours.review(applied["id"], scope=MIIT, approve=True, note="", by="王科长")

    renamed = published("专精特新中小企业")
    with pytest.raises(HonourRefused, match="of yours"):  # another enterprise's honour
        honours.report_change(renamed["id"], credit_code="91350582MA2XN6QLXM", scope=None, note="x", by="x")
    with pytest.raises(HonourRefused, match="say what changed"):
        honours.report_change(renamed["id"], credit_code=CODE, scope=None, note=" ", by="张会计")
    changed = honours.report_change(
        renamed["id"], credit_code=CODE, scope=None, note="复核后更名为专精特新“小巨人”", by="张会计"
    )
    reported = dt.datetime.fromisoformat(changed["change_reported_at"]).astimezone(CST).date()
    due = dt.datetime.fromisoformat(changed["change_due_at"])
    assert due.date() == add_workdays(reported, 15) + dt.timedelta(days=1) and due.time() == dt.time()
    with pytest.raises(HonourRefused, match="already reported"):
        honours.report_change(renamed["id"], credit_code=CODE, scope=None, note="again", by="张会计")
    assert [(r["kind"], r["department"]) for r in honour_queries.open_deadlines(fresh_graph)] == [
        ("change", MIIT)
    ]

    with pytest.raises(HonourRefused, match="no honour application"):  # another department
        honours.amend(renamed["id"], scope="乌海:市发改委", title="x", recognised_on=None, note="", by="x")
    with pytest.raises(HonourRefused, match="nothing to update"):
        honours.amend(
            renamed["id"], scope=MIIT, title="专精特新中小企业", recognised_on=None, note="", by="王"
        )
    updated = honours.amend(
        renamed["id"],
        scope=MIIT,
        title="专精特新“小巨人”企业",
        recognised_on="2026-07-01",
        note="复核",
        by="王科长",
    )
    assert updated["status"] == "published" and "change_due_at" not in updated
    assert public_view(updated)["title"] == "专精特新“小巨人”企业"
    assert public_view(updated)["recognisedOn"] == "2026-07-01"
    [before] = json.loads(updated["history"])
    assert (before["title"], before["recognised_on"]) == ("专精特新中小企业", "2025-06-30")
    assert honour_queries.open_deadlines(fresh_graph) == []

    expired = published("高新技术企业")
    honours.report_change(expired["id"], credit_code=None, scope=MIIT, note="证书已到期", by="王科长")
    with pytest.raises(HonourRefused, match="say why"):
        honours.revoke(expired["id"], scope=MIIT, note="", by="王科长")
    revoked = honours.revoke(expired["id"], scope=MIIT, note="资格已到期", by="王科长")
    assert revoked["status"] == "revoked" and "change_due_at" not in revoked
    shown = honour_queries.applications(fresh_graph, statuses=["published"])
    assert [h["title"] for h in shown] == ["专精特新“小巨人”企业"], "a revoked honour is not displayed"
    with pytest.raises(HonourRefused, match="is not shown"):
        honours.revoke(expired["id"], scope=MIIT, note="again", by="王科长")
