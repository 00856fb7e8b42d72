"""Enterprises' direct reports in the graph: drafts, every submitted version, and who has not reported.

Graph shape (see docs/graph-model.md):
    (:DirectReportDraft {id: "<credit code>|<dataset>|<period>", values (JSON), saved_by, saved_at})
    (:DirectReport {id: "<draft id>#v<n>", credit_code, dataset, period, version, values (JSON),
                    submitted_by, submitted_at, job_id, record_id})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey

DIRECT_REPORT_SCHEMA = GraphSchema(
    unique=(UniqueKey("DirectReportDraft", "id"), UniqueKey("DirectReport", "id")),
    indexes=(PropertyIndex("DirectReport", "credit_code"), PropertyIndex("DirectReport", "dataset")),
)


def save_draft(store: GraphStore, draft: Mapping[str, Any]) -> dict[str, Any]:
    rows = store.write(
        "MERGE (d:DirectReportDraft {id: $d.id}) SET d += $d RETURN d AS d", {"d": dict(draft)}
    )
    return dict(rows[0]["d"])


def draft(store: GraphStore, draft_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (d:DirectReportDraft {id: $id}) RETURN d AS d", {"id": draft_id})
    return dict(rows[0]["d"]) if rows else None


def delete_draft(store: GraphStore, draft_id: str) -> None:
    store.write("MATCH (d:DirectReportDraft {id: $id}) DELETE d", {"id": draft_id})


def next_version(store: GraphStore, credit_code: str, dataset: str, period: str) -> int:
    rows = store.read(
        "MATCH (r:DirectReport {credit_code: $code, dataset: $dataset, period: $period}) "
        "RETURN max(r.version) AS v",
        {"code": credit_code, "dataset": dataset, "period": period},
    )
    return int(rows[0]["v"] or 0) + 1


def add_version(store: GraphStore, report: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a submitted version (a resubmission of the same version id is the same version)."""
    rows = store.write(
        "MERGE (r:DirectReport {id: $r.id}) ON CREATE SET r += $r RETURN r AS r", {"r": dict(report)}
    )
    return dict(rows[0]["r"])


def versions(store: GraphStore, credit_code: str, dataset: str | None) -> list[dict[str, Any]]:
    """Every version an enterprise submitted (of one dataset, or all), newest period and version first."""
    where = "AND r.dataset = $dataset " if dataset else ""
    return [
        dict(row["r"])
        for row in store.read(
            f"MATCH (r:DirectReport) WHERE r.credit_code = $code {where}"
            "RETURN r AS r ORDER BY r.dataset, r.period DESC, r.version DESC",
            {"code": credit_code, "dataset": dataset},
        )
    ]


def not_reported(store: GraphStore, dataset: str, period: str, previous: str) -> list[dict[str, Any]]:
    """Enterprises that reported ``dataset`` for ``previous`` and not for ``period``, with their town
    (from the graph's enterprise, when its code links to one): the reminder list.

    An enterprise the graph does not know yet (its first reports came after the last resolve) has no
    enterprise and no town; its name comes from its own reports (企业基本信息's 企业名称), if any."""
    rows = [
        dict(row)
        for row in store.read(
            "MATCH (r:DirectReport {dataset: $dataset, period: $previous}) "
            "WITH DISTINCT r.credit_code AS code "
            "OPTIONAL MATCH (now:DirectReport {dataset: $dataset, period: $period, credit_code: code}) "
            "WITH code, count(now) AS reported WHERE reported = 0 "
            "OPTIONAL MATCH (e:Enterprise {credit_code: code}) "
            "RETURN code AS credit_code, e.id AS enterprise, e.name AS name, e.town AS town "
            "ORDER BY town, code",
            {"dataset": dataset, "period": period, "previous": previous},
        )
    ]
    unknown = [row["credit_code"] for row in rows if row["enterprise"] is None]
    if unknown:
        names = _reported_names(store, unknown)
        for row in rows:
            row["name"] = row["name"] or names.get(row["credit_code"])
    return rows


def _reported_names(store: GraphStore, codes: list[str]) -> dict[str, str]:
    """The name each enterprise last wrote in its own reports."""
    names: dict[str, str] = {}
    for row in store.read(
        "MATCH (r:DirectReport) WHERE r.credit_code IN $codes "
        "RETURN r.credit_code AS code, r.values AS values ORDER BY r.submitted_at",
        {"codes": codes},
    ):
        name = json.loads(row["values"] or "{}").get("enterprise_name")
        if name:
            names[row["code"]] = name  # the newest wins
    return names
