"""Honours published on application (seed 004 盘锦): apply, review, publish, withdraw on dishonesty, restore.

* An enterprise applies to publish an honour: its title, the awarding department (a department scope,
  ``city:department``), when it was recognised, the certificate files (kept, with their SHA-256, as
  provenance) and a statement that it is true (承诺属实). First recognitions are due a review within 30
  days (``due_at``).
* The awarding department reviews it: published, or rejected with a note.
* **A published honour is withdrawn from display when the enterprise shows dishonest behaviour**: a
  live record linked to it records a credit event whose kind names dishonesty (失信) or a serious
  violation. :meth:`Honours.check` looks (after every resolve run and every loaded upload) and
  withdraws with the reason, the records and the date.
* The awarding department may restore a withdrawn honour; the records it restored over no longer
  withdraw it, a new one does.
* **A published honour is updated within 15 working days of a change**: the enterprise (or the
  department) reports the change (renamed, expired, revoked by the awarding body ...), which is due
  ``change_due_at``; the department updates the honour (a new title or date, the old kept in
  ``history``) or revokes it (no longer shown), and either settles the change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from entgraph.catalog.registry import Catalog
from entgraph.graph import honour_queries
from entgraph.graph.port import GraphStore
from entgraph.loaders.intake import SubmissionRefused, now_iso
from entgraph.localtime import CST
from entgraph.workdays import add_workdays

# Credit-event kinds that withdraw an honour: the court's 失信被执行人, 严重失信 lists, serious
# violations (假冒伪劣, 传销, 非法集资). Administrative penalties in general do not.
DISHONESTY_WORDS = ("失信", "严重违法", "假冒伪劣", "传销", "非法集资")
REVIEW_DAYS = 30  # first recognitions are entered within 30 days of the application
CHANGE_WORKDAYS = 15  # published honours are updated within 15 working days of a change
# A settled change leaves these behind: the board counts honours that still carry change_due_at.
_CHANGE_FIELDS = ("change_reported_at", "change_reported_by", "change_note", "change_due_at")
MAX_FILES = 5
MAX_FILE_BYTES = 20 * 1024 * 1024
_SAFE = re.compile(r"[^\w.\-（）()]+")


class HonourRefused(SubmissionRefused):
    """An application or decision the platform will not take; the sentence says why."""


class Honours:
    def __init__(self, store: GraphStore, catalog: Catalog, files_root: Path) -> None:
        self.store = store
        self.catalog = catalog
        self.files_root = files_root
        store.ensure_schema(honour_queries.HONOUR_SCHEMA)

    def apply(
        self,
        credit_code: str,
        *,
        title: str,
        awarded_by: str,
        recognised_on: str | None,
        statement: bool,
        files: Iterable[tuple[str, BinaryIO]],
        by: str,
    ) -> dict[str, Any]:
        title = " ".join((title or "").split())
        if not title or len(title) > 100:
            raise HonourRefused("name the honour (at most 100 characters), e.g. 高新技术企业")
        if not statement:
            raise HonourRefused("an application needs the statement that it is true (承诺属实)")
        owners = sorted({feed.spec.owner for feed in self.catalog})
        if awarded_by not in owners:
            raise HonourRefused(
                f"{awarded_by!r} is not a department of the catalog; one of: {', '.join(owners)}"
            )
        if recognised_on:
            try:
                dt.date.fromisoformat(recognised_on)
            except ValueError:
                raise HonourRefused(f"recognised on {recognised_on!r}: a date, e.g. 2026-06-30") from None
        application_id = f"H-{uuid.uuid4().hex[:12]}"
        kept = self._keep(application_id, files)
        if not kept:
            raise HonourRefused("attach the certificate (a scan or photo, PDF or image)")
        applied = dt.datetime.now(dt.UTC)
        return honour_queries.apply(
            self.store,
            {
                "id": application_id,
                "credit_code": credit_code,
                "title": title,
                "awarded_by": awarded_by,
                "recognised_on": recognised_on or "",
                "statement": True,
                "files": json.dumps(kept, ensure_ascii=False),
                "applied_by": by,
                "applied_at": applied.isoformat(timespec="milliseconds"),
                "due_at": (applied + dt.timedelta(days=REVIEW_DAYS)).isoformat(timespec="milliseconds"),
            },
        )

    def _keep(self, application_id: str, files: Iterable[tuple[str, BinaryIO]]) -> list[dict[str, Any]]:
        kept = []
        folder = self.files_root / application_id
        for number, (name, stream) in enumerate(files, 1):
            if number > MAX_FILES:
                raise HonourRefused(f"attach at most {MAX_FILES} files")
            data = stream.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise HonourRefused(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB")
            if not data:
                continue
            safe = _SAFE.sub("_", Path(name or f"file{number}").name)[:80] or f"file{number}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{number}-{safe}"
            path.write_bytes(data)
            kept.append(
                {
                    "name": safe,
                    "path": str(path),
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
        return kept

    def review(
        self, application_id: str, *, scope: str | None, approve: bool, note: str, by: str
    ) -> dict[str, Any]:
        """The awarding department's decision (``scope``; None: an admin)."""
        found = self._awarded_by(application_id, scope)
        if not approve and not note.strip():
            raise HonourRefused("say why the application is rejected")
        now = now_iso()
        props = {"reviewed_by": by, "reviewed_at": now, "review_note": note.strip()}
        props |= {"status": "published", "published_at": now} if approve else {"status": "rejected"}
        decided = honour_queries.update(self.store, found["id"], "pending", props)
        if decided is None:
            raise HonourRefused(f"application {application_id} is not pending (it is {found['status']})")
        return self._check_one(decided) if approve else decided

    def restore(self, application_id: str, *, scope: str | None, note: str, by: str) -> dict[str, Any]:
        """Show a withdrawn honour again, over the records that withdrew it (a new one withdraws it anew)."""
        found = self._awarded_by(application_id, scope)
        over = json.loads(found.get("withdrawn_records") or "[]") + json.loads(
            found.get("restored_over") or "[]"
        )
        restored = honour_queries.update(
            self.store,
            found["id"],
            "withdrawn",
            {
                "status": "published",
                "restored_by": by,
                "restored_at": now_iso(),
                "restore_note": note.strip(),
                "restored_over": json.dumps(sorted(set(over))),
            },
        )
        if restored is None:
            raise HonourRefused(f"application {application_id} is not withdrawn (it is {found['status']})")
        return restored

    def report_change(
        self, application_id: str, *, credit_code: str | None, scope: str | None, note: str, by: str
    ) -> dict[str, Any]:
        """A change to a shown honour, reported by its enterprise (``credit_code``) or its awarding
        department (``scope``; both None: an admin); due within 15 working days."""
        found = honour_queries.application(self.store, application_id)
        mine = found is not None and (
            (credit_code is None or found["credit_code"] == credit_code)
            and (scope is None or found["awarded_by"] == scope)
        )
        if not mine:
            raise HonourRefused(f"no honour application {application_id} of yours")
        if not note.strip():
            raise HonourRefused("say what changed (e.g. 证书已到期, 更名为 …)")
        if found.get("change_due_at"):
            raise HonourRefused(f"a change is already reported, due {found['change_due_at']}")
        today = dt.datetime.now(CST).date()
        due = dt.datetime.combine(add_workdays(today, CHANGE_WORKDAYS) + dt.timedelta(days=1), dt.time(), CST)
        changed = honour_queries.update(
            self.store,
            found["id"],
            ("published", "withdrawn"),
            {
                "change_reported_at": now_iso(),
                "change_reported_by": by,
                "change_note": note.strip(),
                "change_due_at": due.isoformat(timespec="milliseconds"),
            },
        )
        if changed is None:
            raise HonourRefused(f"application {application_id} is not shown (it is {found['status']})")
        return changed

    def amend(
        self,
        application_id: str,
        *,
        scope: str | None,
        title: str | None,
        recognised_on: str | None,
        note: str,
        by: str,
    ) -> dict[str, Any]:
        """The awarding department updates a shown honour (a new title or date; the old kept in
        ``history``), settling a reported change."""
        found = self._awarded_by(application_id, scope)
        title = " ".join((title or "").split()) or found["title"]
        if len(title) > 100:
            raise HonourRefused("an honour's name has at most 100 characters")
        if recognised_on:
            try:
                dt.date.fromisoformat(recognised_on)
            except ValueError:
                raise HonourRefused(f"recognised on {recognised_on!r}: a date, e.g. 2026-06-30") from None
        recognised_on = recognised_on or found.get("recognised_on") or ""
        if title == found["title"] and recognised_on == (found.get("recognised_on") or ""):
            raise HonourRefused("nothing to update: give a new name or date, or revoke the honour")
        now = now_iso()
        earlier = {"title": found["title"], "recognised_on": found.get("recognised_on") or "", "until": now}
        history = [*json.loads(found.get("history") or "[]"), earlier]
        props = {
            "title": title,
            "recognised_on": recognised_on,
            "updated_at": now,
            "updated_by": by,
            "update_note": note.strip(),
            "history": json.dumps(history, ensure_ascii=False),
        }
        return self._settle(found, props)

    def revoke(self, application_id: str, *, scope: str | None, note: str, by: str) -> dict[str, Any]:
        """The awarding department revokes a shown honour (expired, cancelled): no longer displayed."""
        found = self._awarded_by(application_id, scope)
        if not note.strip():
            raise HonourRefused("say why the honour is revoked (e.g. 资格已到期)")
        props = {"status": "revoked", "revoked_at": now_iso(), "revoked_by": by, "revoke_note": note.strip()}
        return self._settle(found, props)

    def _settle(self, found: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        settled = honour_queries.update(
            self.store, found["id"], ("published", "withdrawn"), props, clear=_CHANGE_FIELDS
        )
        if settled is None:
            raise HonourRefused(f"application {found['id']} is not shown (it is {found['status']})")
        return settled

    def check(self) -> list[dict[str, Any]]:
        return withdraw_dishonest(self.store)

    def _check_one(self, shown: dict[str, Any]) -> dict[str, Any]:
        return _check_one(self.store, shown)

    def _awarded_by(self, application_id: str, scope: str | None) -> dict[str, Any]:
        found = honour_queries.application(self.store, application_id)
        # another department's application answers as a missing one
        if found is None or (scope is not None and found["awarded_by"] != scope):
            raise HonourRefused(f"no honour application {application_id} awarded by {scope or 'anyone'}")
        return found


def withdraw_dishonest(store: GraphStore) -> list[dict[str, Any]]:
    """Withdraw every published honour whose enterprise now has a dishonesty record (run after each
    resolve, when records are linked to enterprises); the honours withdrawn."""
    store.ensure_schema(honour_queries.HONOUR_SCHEMA)
    withdrawn = []
    for shown in honour_queries.applications(store, statuses=["published"]):
        after = _check_one(store, shown)
        if after["status"] == "withdrawn":
            withdrawn.append(after)
    return withdrawn


def _check_one(store: GraphStore, shown: dict[str, Any]) -> dict[str, Any]:
    records = honour_queries.dishonesty_records(store, shown["credit_code"], DISHONESTY_WORDS)
    seen = set(json.loads(shown.get("restored_over") or "[]"))
    new = [r for r in records if r["record"] not in seen]
    if not new:
        return shown
    reason = "；".join(sorted({f"{r['kind']}（{r['dataset']}）" for r in new}))
    return (
        honour_queries.update(
            store,
            shown["id"],
            "published",
            {
                "status": "withdrawn",
                "withdrawn_at": now_iso(),
                "withdrawn_reason": f"失信记录：{reason}",
                "withdrawn_records": json.dumps([r["record"] for r in new]),
            },
        )
        or shown
    )


def public_view(application: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a published honour: no files, no people, no notes."""
    return {
        "id": application["id"],
        "creditCode": application["credit_code"],
        "title": application["title"],
        "awardedBy": application["awarded_by"],
        "recognisedOn": application.get("recognised_on") or None,
        "publishedAt": application.get("published_at"),
    }


def full_view(application: dict[str, Any]) -> dict[str, Any]:
    """The applicant's, the awarding department's and staff's view: status, decisions, files' names."""
    files = json.loads(application.get("files") or "[]")
    return public_view(application) | {
        "status": application["status"],
        "appliedBy": application.get("applied_by"),
        "appliedAt": application.get("applied_at"),
        "dueAt": application.get("due_at"),
        "reviewedBy": application.get("reviewed_by"),
        "reviewedAt": application.get("reviewed_at"),
        "reviewNote": application.get("review_note"),
        "withdrawnAt": application.get("withdrawn_at"),
        "withdrawnReason": application.get("withdrawn_reason"),
        "restoredAt": application.get("restored_at"),
        "changeReportedAt": application.get("change_reported_at"),
        "changeNote": application.get("change_note"),
        "changeDueAt": application.get("change_due_at"),
        "updatedAt": application.get("updated_at"),
        "updateNote": application.get("update_note"),
        "revokedAt": application.get("revoked_at"),
        "revokeNote": application.get("revoke_note"),
        "history": [
            {"title": h["title"], "recognisedOn": h["recognised_on"] or None, "until": h["until"]}
            for h in json.loads(application.get("history") or "[]")
        ],
        "files": [{"name": f["name"], "bytes": f["bytes"], "sha256": f["sha256"]} for f in files],
    }
