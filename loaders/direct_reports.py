"""Enterprise direct reports (企业直报): forms from the 企业（直报） specs, drafts, submissions, versions.

Seed 000 二(一): an enterprise reports its 企业基本信息 on change, and its 企业经营信息, 企业生产信息 and
能源消费信息 monthly, by a named person, before the 5th of the next month. Here:

* **A form per dataset**, generated from its spec: each column's header, type, unit, whether required,
  its closed value list; the credit code is the reporter's own (its role's scope) and never asked for.
* **Drafts** are saved as they are typed (one per enterprise, dataset and period) and cleared on submit.
* **A submission is validated as a file row is** (``records.build_row``), and stricter: a bad optional
  value refuses the form rather than being dropped. Refused, it says why per field; accepted, it is
  queued as a one-row file in the inbox and loaded by the worker like any upload, with the enterprise
  as the record's certain party (its code: no matching needed).
* **A correction is a new version**: each submission is kept (``DirectReport`` nodes, version 1, 2 ...,
  who, when, the values), the record in the graph is the latest.
* **The period and its deadline come from the spec** (``catalog/timeliness.py``): the period to report
  is the one that ended last; ``on_change`` reports have no period and no deadline.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import ColumnSpec, DatasetSpec, Frequency
from entgraph.catalog.timeliness import last_ended_period, period_end
from entgraph.graph import direct_report_queries
from entgraph.loaders.columns import BoundColumn
from entgraph.loaders.intake import Inbox, SubmissionRefused, now_iso
from entgraph.loaders.parsing import RowIssue
from entgraph.loaders.records import build_row
from entgraph.localtime import CST

DIRECT = "企业（直报）"
_FIXED = {"credit_code"}  # filled from the reporter's scope, never typed


@dataclass(frozen=True)
class FormField:
    field: str
    label: str
    type: str
    required: bool
    unit: str | None
    choices: tuple[str, ...]
    description: str | None


@dataclass(frozen=True)
class Form:
    dataset: str
    title: str
    frequency: str
    period: str | None  # the period to report now; None for on-change reports
    due: str | None  # its deadline (ISO, China Standard Time): the instant it passes
    due_by: str | None  # the last day to report on (the deadline's eve when it falls at midnight)
    fields: tuple[FormField, ...]


class ReportRefused(SubmissionRefused):
    """A submission that does not validate; ``issues`` say which field and why, in both languages."""

    def __init__(self, message: str, issues: list[RowIssue]) -> None:
        super().__init__(message)
        self.issues = issues


def direct_specs(catalog: Catalog) -> list[DatasetSpec]:
    return [feed.spec for feed in catalog if feed.spec.department == DIRECT]


def _field(column: ColumnSpec) -> FormField:
    return FormField(
        column.field,
        column.header,
        str(column.type),
        column.required,
        column.unit,
        tuple(column.values),
        column.description,
    )


def form(spec: DatasetSpec, now: dt.datetime | None = None) -> Form:
    """The form of ``spec`` for the period to report at ``now``."""
    moment = now or dt.datetime.now(CST)
    period = due = due_by = None
    if spec.frequency is not Frequency.ON_CHANGE:
        period = last_ended_period(moment, spec.frequency)
        if spec.deadline is not None:
            deadline = period_end(period) + spec.deadline
            due, due_by = deadline.isoformat(), (deadline - dt.timedelta(microseconds=1)).date().isoformat()
    fields = tuple(_field(c) for c in spec.columns if c.field not in _FIXED and c.role != "period")
    return Form(spec.key, spec.title, str(spec.frequency), period, due, due_by, fields)


class DirectReports:
    """An enterprise's reports: drafts, submissions (queued as one-row files) and their versions."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.store = inbox.store
        self.catalog = inbox.catalog
        self.store.ensure_schema(direct_report_queries.DIRECT_REPORT_SCHEMA)

    def spec(self, dataset: str) -> DatasetSpec:
        try:
            spec = self.catalog.get(dataset).spec
        except Exception:
            raise SubmissionRefused(f"no dataset {dataset!r} in the catalog") from None
        if spec.department != DIRECT:
            raise SubmissionRefused(f"{spec.key} is not reported by enterprises ({spec.owner})")
        return spec

    def save_draft(
        self, credit_code: str, dataset: str, period: str | None, values: dict[str, Any], by: str
    ) -> dict[str, Any]:
        spec = self.spec(dataset)
        return direct_report_queries.save_draft(
            self.store,
            {
                "id": _key(credit_code, spec.key, period),
                "credit_code": credit_code,
                "dataset": spec.key,
                "period": period or "",
                "values": json.dumps(_known(spec, values), ensure_ascii=False),
                "saved_by": by,
                "saved_at": now_iso(),
            },
        )

    def draft(self, credit_code: str, dataset: str, period: str | None) -> dict[str, Any] | None:
        found = direct_report_queries.draft(self.store, _key(credit_code, self.spec(dataset).key, period))
        return found and {**found, "values": json.loads(found["values"])}

    def submit(
        self, credit_code: str, dataset: str, period: str | None, values: dict[str, Any], by: str
    ) -> dict[str, Any]:
        """Validate and queue one report; the version it became."""
        spec = self.spec(dataset)
        period = period or None
        if spec.frequency is not Frequency.ON_CHANGE and not period:
            raise SubmissionRefused(f"{spec.title} is reported per period: say which (e.g. 2026-11)")
        row = {**_known(spec, values), "credit_code": credit_code}
        period_field = next((c.field for c in spec.columns if c.role == "period"), None)
        if period_field and period:
            row[period_field] = period
        columns = [c for c in spec.columns if c.field in row]
        cells = [row[c.field] for c in columns]
        bound = [BoundColumn(c, i, c.header, None) for i, c in enumerate(columns)]
        built = build_row(spec, "direct-report", spec.title, 1, cells, bound)
        # as a file row is checked, and stricter: a file keeps a row without a bad optional value (and
        # warns); a form refuses it, since the person who typed it is there to put it right
        errors = list(built.issues)
        missing = [c for c in spec.columns if c.required and c.field not in row]
        if missing:
            errors += [
                RowIssue(spec.title, 1, c.header, None, "必填项未填写", "required", "error") for c in missing
            ]
        if built.record_id is None or errors:
            reasons = "; ".join(f"{i.column}: {i.reason_zh}" for i in errors)
            raise ReportRefused(f"the report does not validate: {reasons}", errors)
        version = direct_report_queries.next_version(self.store, credit_code, spec.key, period or "")
        file_name = f"{spec.key}_{credit_code}_{period or 'profile'}_v{version}.csv"
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([c.header for c in columns])
        writer.writerow(["" if v is None else v for v in cells])
        job = self.inbox.accept_bytes(
            f"R-{credit_code}-{spec.key}-{period or 'profile'}-v{version}",
            out.getvalue().encode("utf-8"),
            file_name,
            dataset=spec.key,
            submitted_by=by,
            scope=None,  # the enterprise's own dataset: checked above, by code, not by department
            kind="direct-report",
            reporter=credit_code,
        )
        report = direct_report_queries.add_version(
            self.store,
            {
                "id": f"{_key(credit_code, spec.key, period)}#v{version}",
                "credit_code": credit_code,
                "dataset": spec.key,
                "period": period or "",
                "version": version,
                "values": json.dumps(row, ensure_ascii=False, default=str),
                "submitted_by": by,
                "submitted_at": now_iso(),
                "job_id": job["id"],
                "record_id": built.record_id,
            },
        )
        direct_report_queries.delete_draft(self.store, _key(credit_code, spec.key, period))
        return report

    def history(self, credit_code: str, dataset: str | None = None) -> list[dict[str, Any]]:
        rows = direct_report_queries.versions(self.store, credit_code, dataset)
        return [{**r, "values": json.loads(r["values"])} for r in rows]


def _key(credit_code: str, dataset: str, period: str | None) -> str:
    return f"{credit_code}|{dataset}|{period or ''}"


def _known(spec: DatasetSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The values of the form's fields (by field name or header), blanks dropped; others refused."""
    by_name = {c.field: c.field for c in spec.columns} | {c.header: c.field for c in spec.columns}
    unknown = [k for k in values if k not in by_name]
    if unknown:
        raise SubmissionRefused(f"{spec.title} has no field {', '.join(map(repr, unknown[:5]))}")
    return {
        by_name[k]: v
        for k, v in values.items()
        if v is not None and not (isinstance(v, str) and not v.strip()) and by_name[k] not in _FIXED
    }
