"""A warning's life: the finding a rule makes, storing findings, and the status moves stewards make.

Status lifecycle: ``open`` → ``acknowledged`` → ``resolved`` (or ``open`` → ``resolved``); resolving
needs a feedback note, resolved is final: a condition that comes back is a new warning (a new period,
so a new id). The rules (``warnings.py``) produce :class:`Finding` values; this module decides what a
change may be, and ``graph/warning_queries.py`` stores and reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from entgraph.errors import EntgraphError
from entgraph.graph import warning_queries as wq
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import EVERYTHING, Visibility

STATUSES = wq.STATUSES
# Allowed moves; resolved is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved"}),
    "resolved": frozenset(),
}
SYSTEM_ACTOR = "system"


class WarningError(EntgraphError):
    """A warning cannot be changed as asked."""


class UnknownWarning(WarningError):
    """No warning has that id."""


class InvalidTransition(WarningError):
    """The status change is not allowed from the warning's current status, or lacks its note."""


@dataclass(frozen=True)
class Finding:
    """One rule's verdict about one enterprise (or meter) for one period, before it is stored."""

    id: str  # rule:subject:period
    rule: str
    severity: str
    period: str
    message_zh: str
    message_en: str
    enterprise_id: str | None = None
    meter_id: str | None = None
    town: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    # What the figures it states were computed from (``<dataset>:<metric>``), which evidence keys hold
    # them, and the messages without them (``***``): for callers who may not see every source.
    figure_sources: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    masked_zh: str | None = None
    masked_en: str | None = None


def _row(f: Finding) -> dict[str, Any]:
    """The properties a finding's warning stores (``graph/warning_queries.py`` names them)."""
    return {
        "id": f.id,
        "rule": f.rule,
        "severity": f.severity,
        "period": f.period,
        "message_zh": f.message_zh,
        "message_en": f.message_en,
        "evidence": json.dumps(f.evidence, ensure_ascii=False, sort_keys=True),
        "town": f.town,
        "enterprise": f.enterprise_id,
        "meter": f.meter_id,
        "figure_sources": sorted(set(f.figure_sources)),
        "figures": list(f.figures),
        "masked_zh": f.masked_zh if f.figures else None,
        "masked_en": f.masked_en if f.figures else None,
    }


def store_findings(store: GraphStore, findings: Iterable[Finding], now_ms: int) -> dict[str, int]:
    """Store an evaluation's findings: ``{created, refreshed, kept_resolved}``.

    New ids open a warning; open and acknowledged ones get the new evidence, message and severity;
    resolved ones are not touched. The last of duplicate ids wins, as a re-run would."""
    unique = {f.id: _row(f) for f in findings}
    return wq.upsert_warnings(store, [unique[i] for i in sorted(unique)], now_ms, SYSTEM_ACTOR)


def set_status(
    store: GraphStore,
    warning_id: str,
    status: str,
    note: str | None,
    actor: str,
    now_ms: int,
    sight: Visibility = EVERYTHING,
) -> dict[str, Any]:
    """Move a warning to ``status`` (acknowledged, with an optional note, or resolved, with the feedback
    note it needs); returns the warning with its history, as the caller (``sight``) may see it. Raises
    :class:`UnknownWarning` (also for a warning the caller may not see) or :class:`InvalidTransition`."""
    if status not in STATUSES:
        raise InvalidTransition(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    if not actor.strip():
        raise InvalidTransition("a status change must name who makes it (actor)")
    note = note.strip() if note and note.strip() else None
    if status == "resolved" and note is None:
        raise InvalidTransition(f"resolving warning {warning_id} needs a feedback note saying what was found")
    current = _status(store, warning_id, sight)
    if status not in TRANSITIONS[current]:
        raise InvalidTransition(f"warning {warning_id} is {current}: it cannot become {status}")
    action = f"{warning_id}#{now_ms}#{status}"
    moved = wq.move_status(
        store, warning_id, current, status, now_ms,
        note=note, feedback=note if status == "resolved" else None, actor=actor, action=action,
    )  # fmt: skip
    if not moved and not wq.action_recorded(store, action):
        # not moved and no action of ours: someone changed the status between our read and our write (a
        # retried write of ours would have left the action behind)
        raise InvalidTransition(f"warning {warning_id} changed meanwhile (now {_status(store, warning_id)})")
    found = wq.get(store, warning_id, sight)
    assert found is not None  # it was there a moment ago and warnings are never deleted
    return found


def _status(store: GraphStore, warning_id: str, sight: Visibility = EVERYTHING) -> str:
    status = wq.status_of(store, warning_id, sight)
    if status is None:
        raise UnknownWarning(f"no warning has id {warning_id!r}")
    return status
