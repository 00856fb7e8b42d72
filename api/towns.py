"""The towns' verification lists over GraphQL: the items, the verdicts a town records, their undo.

``verificationItems(town, round)`` lists what a town verifies that month (``resolution/verification.py``
says which items a round holds); ``recordVerdict`` keeps the town's verdict as a judgement and, for
``matched``, makes the graph say so through the stewards' own operations, replayed like theirs: a
name-only enterprise or an unregistered taxpayer is merged into the enterprise it is (its records with
it), a task's records are linked to it, a meter is pinned to it. Town verification is stewards' work
(they see the records unmasked); analysts read the lists.
"""

from __future__ import annotations

import re
from enum import Enum

import strawberry
from strawberry.types import Info

from entgraph.api.auth import Role, requires
from entgraph.api.client_errors import BadInput, NotFound
from entgraph.api.context import Context
from entgraph.api.stewardship import enterprise_records, operate, task_records
from entgraph.api.visibility import visibility
from entgraph.resolution import verification
from entgraph.resolution.cross_checks import CHECKS
from entgraph.telemetry import meter_registry

ROUND = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@strawberry.enum(description="What a town found on site or on the phone about an item.")
class Verdict(Enum):
    MATCHED = "matched"  # it is the enterprise named (merged, linked or pinned to it)
    NOT_OURS = "not_ours"  # not an enterprise of this town / city
    CLOSED = "closed"  # closed down
    MOVED = "moved"  # moved away
    FOLLOW_UP = "follow_up"  # to follow up: stays open


@strawberry.type(description="A town's verdict on an item: a judgement, kept and replayed.")
class VerdictRecord:
    id: str
    verdict: str
    enterprise: str | None
    note: str
    user: str
    at: str
    round: str


@strawberry.type(
    description="One thing a town verifies (核实比对): why, about whom, since when, its verdict."
)
class VerificationItem:
    key: str = strawberry.field(description="check:<check>:<subject>, stable from month to month.")
    check: str = strawberry.field(description=f"One of: {', '.join(CHECKS)}.")
    town: str | None
    name: str = strawberry.field(description="The enterprise's name, or the meter's number.")
    enterprise: str | None
    credit_code: str | None
    evidence: list[str] = strawberry.field(description="Datasets, meters or enterprises that raise it.")
    evidence_labels: list[str] = strawberry.field(
        description="The evidence as people read it: a dataset as its department and title."
    )
    since: str | None = strawberry.field(description="The earliest period of its evidence.")
    received_at: str = strawberry.field(description="When a refresh first put it on the town's list.")
    status: str = strawberry.field(description="open, settled (a verdict) or cleared (by new data).")
    verdict: VerdictRecord | None


@strawberry.type(description="What a refresh of the lists found.")
class RefreshResult:
    items: int
    new: int
    cleared: int


def _item(row: dict, titles: dict[str, str]) -> VerificationItem:
    verdict = row.get("verdict")
    evidence = list(row.get("evidence") or [])
    return VerificationItem(
        key=row["key"],
        check=row["check"],
        town=row.get("town"),
        name=row.get("name") or "",
        enterprise=row.get("enterprise"),
        credit_code=row.get("credit_code"),
        evidence=evidence,
        evidence_labels=[titles.get(e, e) for e in evidence],
        since=row.get("since"),
        received_at=row["first_seen_at"],
        status=row["status"],
        verdict=_verdict(verdict) if verdict else None,
    )


def _titles(info: Info[Context, None]) -> dict[str, str]:
    return {f.spec.key: f"{f.spec.department}·{f.spec.title}" for f in info.context.catalog}


def _verdict(row: dict) -> VerdictRecord:
    return VerdictRecord(
        id=row["id"],
        verdict=row["verdict"],
        enterprise=row.get("object") or None,
        note=row.get("reason") or "",
        user=row["user"],
        at=row["at"],
        round=row["round"],
    )


def checked_round(round_: str | None) -> str:
    if round_ is None:
        return verification.current_round()
    if not ROUND.match(round_):
        raise BadInput(f"round {round_!r}: a month, e.g. 2026-11")
    return round_


@strawberry.type
class TownsQuery:
    @strawberry.field(
        description="A town's verification list for a round (a month; the current one by default): open "
        "items, those settled in that round and those new data cleared in it. Null town: every town.",
        permission_classes=[requires(Role.ANALYST)],
    )
    async def verification_items(
        self,
        info: Info[Context, None],
        town: str | None = None,
        round: str | None = None,
        checks: list[str] | None = None,
    ) -> list[VerificationItem]:
        unknown = sorted(set(checks or ()) - set(CHECKS))
        if unknown:
            raise BadInput(f"unknown checks {', '.join(unknown)}; one of: {', '.join(CHECKS)}")
        rows = await info.context.in_thread(
            verification.listing, info.context.store, town, checked_round(round), checks
        )
        seen = visibility(info.context).datasets
        if seen is not None:  # an item is raised by its evidence: one hidden from the caller raises nothing
            known = set(seen)
            rows = [r for r in rows if r["check"].startswith("meter") or known & set(r.get("evidence") or [])]
        return [_item(row, _titles(info)) for row in rows]


@strawberry.type
class TownsMutation:
    @strawberry.mutation(
        description="Compute every town's lists from the graph now (the upload worker does after each "
        "resolve).",
        permission_classes=[requires(Role.STEWARD)],
    )
    async def refresh_verification_items(self, info: Info[Context, None]) -> RefreshResult:
        done = await info.context.in_thread(verification.refresh, info.context.store, info.context.catalog)
        return RefreshResult(items=done.items, new=done.new, cleared=done.cleared)

    @strawberry.mutation(
        description="Record a town's verdict on an item; MATCHED also merges, links or pins it to "
        "`enterprise` as a steward would.",
        permission_classes=[requires(Role.STEWARD)],
    )
    async def record_verdict(
        self,
        info: Info[Context, None],
        item: str,
        verdict: Verdict,
        enterprise: str | None = None,
        note: str = "",
        round: str | None = None,
    ) -> VerificationItem:
        store, user = info.context.store, info.context.principal.subject or "steward"
        found = await info.context.in_thread(verification.item, store, item[:300])
        if found is None:
            raise NotFound(f"no item {item[:300]} to verify; refresh the lists or check the key")
        if verdict is Verdict.MATCHED:
            if not enterprise:
                raise BadInput("a matched item names the enterprise it is (enterprise: E-…)")
            await _make_it_so(info, found, enterprise, note)
        try:
            kept = await info.context.in_thread(
                lambda: verification.record(
                    store,
                    found["key"],
                    verdict.value,
                    user=user,
                    note=note,
                    enterprise=enterprise,
                    round_=checked_round(round),
                )
            )
        except verification.VerificationError as exc:
            raise BadInput(str(exc)) from None
        status = "open" if verdict is Verdict.FOLLOW_UP else "settled"
        return _item({**found, "status": status, "verdict": kept}, _titles(info))

    @strawberry.mutation(
        description="Withdraw a town's verdict: the item is open again (what MATCHED changed stays, as "
        "the steward's judgement it made; undo that in the steward's audit).",
        permission_classes=[requires(Role.STEWARD)],
    )
    async def undo_verdict(self, info: Info[Context, None], id: str) -> VerdictRecord:
        user = info.context.principal.subject or "steward"
        try:
            row = await info.context.in_thread(verification.undo, info.context.store, id[:100], user)
        except verification.VerificationError as exc:
            raise NotFound(str(exc)) from None
        return _verdict(row)


async def _make_it_so(info: Info[Context, None], found: dict, enterprise: str, note: str) -> None:
    """What a matched verdict changes in the graph, as the steward's or the meter registry's judgement."""
    check, reason = found["check"], note or f"town verification {found['key']}"
    extra = verification.extra_of(found)
    if "task" in extra:
        task = extra["task"]
        await operate(info, task_records(task), lambda s: s.link(task, enterprise, reason), task)
    elif check.startswith("meter"):
        meter = found.get("name") or ""
        sight = visibility(info.context)
        try:
            await info.context.in_thread(
                meter_registry.pin, info.context.store, meter, "electricity", [enterprise],
                info.context.principal.subject or "steward", sight, reason,
            )  # fmt: skip
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    elif found.get("enterprise") and found["enterprise"] != enterprise:
        loser = found["enterprise"]  # a name-only enterprise, or one known by a code too: its records go
        scope = enterprise_records([loser, enterprise])
        await operate(info, scope, lambda s: s.merge(loser, enterprise, reason))
