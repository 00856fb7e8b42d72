"""Stewardship over GraphQL: the review queue, both sides of a task, the audit trail, and judgements.

Every mutation goes through :class:`entgraph.resolution.steward.Steward`, exactly as ``entgraph steward``
does: it stores a judgement (with the caller as its user), marks the touched records pending and runs
the resolver. The API never edits links itself, so a decision made here replays after reloads,
retraining and reruns like any other.

Steward data is unmasked (stewards see everything shared), so these fields are for the ``steward``
role and above only. A task record's identifying fields still go through the masking policy with the
caller's role and the sharing of the column each came from, so a 不予共享 column stays null for stewards;
and a candidate is the enterprise as the steward may see it (``api/visibility.py``): each golden value
as the column that stated it allows, and one only datasets hidden from it know is not a candidate at all
(left out, the others numbered among themselves; acceptTask's ``candidate`` counts the same way, and
acceptTasks takes the best candidate the caller knows). Likewise a task is what records of datasets the
caller may see make of it (``graph/task_queries.py``): one whose records are all hidden from it is not
there (``NOT_FOUND``, also for the mutations that take its id), and of the others the records, mentions,
datasets, impact, stake, name and town, and the town queues, count and show only what such records (and
golden towns it may see) state. The steward acts as the caller may see the graph
(``graph/steward_queries.py``): an enterprise, record or judgement hidden from it is ``NOT_FOUND`` to
every mutation, as an unknown id is; the audit trail shows only judgements naming no enterprise hidden
from it and holding a record it may see (with those records alone), and ``changedEnterprises`` only
enterprises it knows whose links to records it may see changed. It decides only about records it may
see (``resolution/steward.py``): a task also holding records hidden from it is decided for its own
records (a judgement scoped to their mentions) and handed back, with the others alone, to the stewards
who may see them (its ``taskStatus`` is then ``resolved`` for the caller, as for a task of its records
alone); an undo of a judgement also covering such records withdraws it for the caller's records only.
Nothing in an answer names the hidden records or says that there are any.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.types import Info

from entgraph.api.auth import Role, requires
from entgraph.api.client_errors import ApiError, BadInput, Busy, NotFound
from entgraph.api.context import Context
from entgraph.api.masking import mask_kind
from entgraph.api.visibility import golden_value, visibility
from entgraph.graph import enterprise_queries, judgement_queries, mention_queries, meter_queries, task_queries
from entgraph.graph import steward_queries as sq
from entgraph.resolution.enterprises import provisional_id
from entgraph.resolution.mentions import party_fields, split_mention
from entgraph.resolution.resolver import Bands, ResolveBusy, Resolver
from entgraph.resolution.stake import describe
from entgraph.resolution.steward import (
    BulkOutcome,
    Outcome,
    Steward,
    StewardError,
    best_probability,
    stake_lines,
)
from entgraph.telemetry.meter_registry import undo_pin

STEWARD_ONLY = [requires(Role.STEWARD)]
MAX_PAGE = 500

# Each operation runs the resolver over the whole pending set; two at once in one process would
# resolve the same records twice and race on the links they write, so they take turns.
_OPERATIONS = threading.Lock()


# --- types ----------------------------------------------------------------------------------------


@strawberry.type(description="One comparison's contribution to a candidate's match weight.")
class MatchWeightTerm:
    comparison: str = strawberry.field(description="name, trade_name, phone, ... or prior.")
    level: str = strawberry.field(description="The comparison level met, e.g. 'Same full name'.")
    weight: float = strawberry.field(description="Its match weight (log2 Bayes factor).")


@strawberry.type(description="An enterprise as a steward compares it with a task's name.")
class CandidateEnterprise:
    id: str
    name: str | None
    legal_rep: str | None
    phone: str | None
    town: str | None
    address: str | None
    merged_into: str | None = strawberry.field(description="Set when this id was merged away.")


@strawberry.type(description="An enterprise the matcher proposes for a task's name.")
class TaskCandidate:
    rank: int = strawberry.field(description="1 = best; what acceptTask's candidate argument takes.")
    enterprise_id: str
    probability: float
    match_weight: float
    terms: strawberry.Private[list[MatchWeightTerm]]

    @strawberry.field(
        description="The waterfall: prior, then each comparison; the weights sum to the match weight."
    )
    def explanation(self, first: int = 20) -> list[MatchWeightTerm]:
        # ``first`` lets the query-cost estimate count the real size (about 13 terms), not 100.
        return self.terms[: _page(first)]

    @strawberry.field(description="The candidate's golden record (null if it no longer exists).")
    async def enterprise(self, info: Info[Context, None]) -> CandidateEnterprise | None:
        row = await _enterprise_loader(info).load(self.enterprise_id)
        return _candidate_enterprise(info.context, row) if row else None


@strawberry.type(
    description="A source record behind a task: where it came from, and what it says about the task's "
    "party on it, to compare with a candidate's golden record (CandidateEnterprise). The identifying "
    "fields are masked by the caller's role with the sharing of the column each came from."
)
class TaskRecord:
    id: str
    dataset: str | None
    file: str | None
    sheet: str | None
    row: int | None
    party: str | None = strawberry.field(
        default=None, description="The task's mention on this record: subject, or a declared party."
    )
    name: str | None = strawberry.field(default=None, description="The enterprise name the record gives.")
    legal_rep: str | None = strawberry.field(default=None, description="Personal data: masked by role.")
    phone: str | None = strawberry.field(default=None, description="Personal data: masked by role.")
    address: str | None = None
    town: str | None = None
    credit_code: str | None = strawberry.field(
        default=None,
        description="The valid credit code (also one derived from an 18-character taxpayer id) or, if "
        "it failed validation, the code as written.",
    )


@strawberry.type(description="One dataset category's share of a task's stake.")
class StakeShare:
    category: str = strawberry.field(description="tax, electricity, credit, ... or other.")
    label: str
    records: int
    weight: float = strawberry.field(description="What one record of this category weighs.")
    stake: float = strawberry.field(description="records × weight.")


@strawberry.enum(description="How the review queue is ordered (largest first).")
class TaskOrder(enum.Enum):
    STAKE = "stake"
    IMPACT = "impact"


@strawberry.type(description="A town's (镇/街道) review queue: what it has to verify.")
class TownQueue:
    town: str | None = strawberry.field(description="Null: records that name no town.")
    tasks: int = strawberry.field(description="Tasks of the status asked for.")
    records: int = strawberry.field(description="Records those tasks hold (the sum of their impact).")
    stake: float = strawberry.field(description="The sum of their stake.")


@strawberry.type(description="Records writing one name in one town that the matcher could not settle.")
class StewardTask:
    id: str
    status: str = strawberry.field(description="open, unsure or resolved.")
    name: str | None
    town: str | None
    datasets: list[str]
    impact: int = strawberry.field(description="Records affected (the queue's second order).")
    stake: float = strawberry.field(
        description="What is at stake: the records weighed by their datasets (tax, electricity and credit "
        "records weigh more than a park list; resolution/stake.toml). The queue is ordered by it."
    )
    mention_key: str
    mentions: list[str] = strawberry.field(description="<record id>|<party>: what splitRecords takes.")
    created_at: str | None
    updated_at: str | None
    closed_at: str | None
    record_ids: strawberry.Private[list[str]]
    ranked: strawberry.Private[list[TaskCandidate]]
    stake_records: strawberry.Private[list[str]]

    @strawberry.field(description="The stake by dataset category, largest share first.")
    def stake_breakdown(self, first: int = 10) -> list[StakeShare]:
        return [
            StakeShare(category=x.category, label=x.label, records=x.records, weight=x.weight, stake=x.stake)
            for x in stake_lines({"stake_records": self.stake_records})[: _page(first)]
        ]

    @strawberry.field(description="The stake in words, e.g. '3 税务 tax records (×5), 12 电力 … (×4)'.")
    def stake_explanation(self) -> str:
        return describe(stake_lines({"stake_records": self.stake_records}))

    @strawberry.field(description="Up to three enterprises the matcher proposes, best first.")
    def candidates(self, first: int = 3) -> list[TaskCandidate]:
        return self.ranked[: _page(first)]

    @strawberry.field(
        description="The task's source records (file, row, dataset) and what each says about the "
        "task's party on it (name, legal rep, phone, address, town, credit code)."
    )
    async def records(self, info: Info[Context, None], first: int = 100) -> list[TaskRecord]:
        wanted = self.record_ids[: _page(first)]
        # One statement for all records; the fields come from their properties and the catalog.
        rows = await info.context.in_thread(mention_queries.records_by_id, info.context.store, wanted)
        parties = _parties(self.mentions)
        return [_task_record(info.context, row, parties.get(row["id"])) for row in rows]


@strawberry.type(description="A steward's decision, kept forever (an undo marks it, never deletes it).")
class Judgement:
    id: str
    kind: str = strawberry.field(
        description="link, reject, unsure, merge, split or meter (a meter attachment)."
    )
    subject: str = strawberry.field(
        description="A mention key (name:… / mention:…) or, for merge, the loser."
    )
    object: str = strawberry.field(description="The enterprise id decided about (for merge, the survivor).")
    user: str = strawberry.field(description="Who decided: the token's subject or the API key's name.")
    at: str
    reason: str
    task: str | None
    records: list[str]
    undone: bool
    undone_by: str | None
    undone_at: str | None
    undo_reason: str | None


@strawberry.type(description="One task of acceptTasks.")
class TaskAcceptance:
    task_id: str
    accepted: bool
    skipped: str | None = strawberry.field(description="Why it was left alone (already resolved, ...).")
    judgement: Judgement | None = strawberry.field(description="Its own judgement: undo it on its own.")
    task_status: str | None = strawberry.field(description="The task's status afterwards.")


@strawberry.type(description="What a bulk accept did: one judgement per task, one resolver run.")
class BulkAcceptPayload:
    outcomes: list[TaskAcceptance]
    accepted: int = strawberry.field(description="How many tasks were accepted.")
    changed_enterprises: list[str] = strawberry.field(
        description="Enterprises that gained or lost links to the tasks' records."
    )
    summary: str = strawberry.field(description="The resolver's one-line summary of the run.")


@strawberry.type(description="What a steward operation did.")
class StewardPayload:
    judgement: Judgement
    changed_enterprises: list[str] = strawberry.field(
        description="Enterprises that gained or lost links to the records the operation touched."
    )
    task_id: str | None
    task_status: str | None = strawberry.field(description="The task's status after the operation.")
    summary: str = strawberry.field(description="The resolver's one-line summary of the rerun.")


# --- root types -----------------------------------------------------------------------------------


@strawberry.type
class StewardQuery:
    @strawberry.field(
        description="The review queue, most at stake first (orderBy: IMPACT for most records first). "
        "minProbability: best candidate at least this.",
        permission_classes=STEWARD_ONLY,
    )
    async def steward_tasks(
        self,
        info: Info[Context, None],
        status: str = "open",
        town: str | None = None,
        dataset: str | None = None,
        min_probability: float | None = None,
        order_by: TaskOrder = TaskOrder.STAKE,
        first: int = 50,
    ) -> list[StewardTask]:
        context = info.context
        rows = await context.in_thread(
            task_queries.tasks, context.store, status, town, dataset, order_by.value, visibility(context)
        )
        rows = await context.in_thread(_known_candidates, context, rows)
        if min_probability is not None:
            rows = [t for t in rows if (best_probability(t) or 0.0) >= min_probability]
        return [_task(row) for row in rows[: _page(first)]]

    @strawberry.field(
        description="The queue per town (镇/街道): its tasks of this status, their records and stake, "
        "largest stake first.",
        permission_classes=STEWARD_ONLY,
    )
    async def steward_town_queues(
        self, info: Info[Context, None], status: str = "open", first: int = 100
    ) -> list[TownQueue]:
        context = info.context
        rows = await context.in_thread(task_queries.town_queues, context.store, status, visibility(context))
        return [
            TownQueue(
                town=row["town"] or None,
                tasks=int(row["tasks"]),
                records=int(row["records"] or 0),
                stake=float(row["stake"] or 0.0),
            )
            for row in rows[: _page(first)]
        ]

    @strawberry.field(description="One task with both sides.", permission_classes=STEWARD_ONLY)
    async def steward_task(self, info: Info[Context, None], id: str) -> StewardTask:
        row = await _visible_task(info, id)
        return _task((await info.context.in_thread(_known_candidates, info.context, [row]))[0])

    @strawberry.field(
        description="The audit trail, newest first. subject: only judgements naming it on either side.",
        permission_classes=STEWARD_ONLY,
    )
    async def judgements(
        self, info: Info[Context, None], first: int = 100, subject: str | None = None
    ) -> list[Judgement]:
        context = info.context
        rows = await context.in_thread(
            sq.audit_trail, context.store, _page(first), subject, visibility(context)
        )
        return [_judgement(row) for row in rows]


@strawberry.type
class StewardMutation:
    @strawberry.mutation(
        description="The task's name IS candidate N (1 = best).", permission_classes=STEWARD_ONLY
    )
    async def accept_task(
        self, info: Info[Context, None], id: str, candidate: int = 1, reason: str = ""
    ) -> StewardPayload:
        await _visible_task(info, id)
        return await operate(info, task_records(id), lambda s: s.accept(id, candidate, reason), id)

    @strawberry.mutation(
        description="Each task's name IS its best candidate: one judgement per task (each undone on its "
        "own), one resolver run for all. An unknown id refuses the whole request; a task already resolved "
        f"or without a candidate is skipped and says so. At most {MAX_PAGE} ids.",
        permission_classes=STEWARD_ONLY,
    )
    async def accept_tasks(
        self, info: Info[Context, None], ids: list[str], reason: str = ""
    ) -> BulkAcceptPayload:
        if not ids:
            raise BadInput("name the tasks to accept")
        if len(ids) > MAX_PAGE:
            raise BadInput(f"at most {MAX_PAGE} tasks at once; got {len(ids)}")
        context = info.context
        missing = await context.in_thread(task_queries.hidden, context.store, ids, visibility(context))
        if missing:  # as the steward refuses unknown ids: nothing accepted
            raise NotFound(f"no steward task {', '.join(dict.fromkeys(missing))}; nothing was accepted")
        return await info.context.in_thread(_run_bulk, info.context, list(ids), reason)

    @strawberry.mutation(
        description="The task's name is NOT that candidate (default: none of them).",
        permission_classes=STEWARD_ONLY,
    )
    async def reject_task(
        self, info: Info[Context, None], id: str, enterprise_id: str | None = None, reason: str = ""
    ) -> StewardPayload:
        await _visible_task(info, id)
        return await operate(info, task_records(id), lambda s: s.reject(id, enterprise_id, reason), id)

    @strawberry.mutation(description="Cannot tell: park the task.", permission_classes=STEWARD_ONLY)
    async def mark_unsure(self, info: Info[Context, None], id: str, reason: str = "") -> StewardPayload:
        await _visible_task(info, id)
        return await operate(info, task_records(id), lambda s: s.unsure(id, reason), id)

    @strawberry.mutation(
        description="Link a task's name (T-…) or one record (<record id>|<party>) to an enterprise.",
        permission_classes=STEWARD_ONLY,
    )
    async def link_to_enterprise(
        self, info: Info[Context, None], task_or_record: str, enterprise_id: str, reason: str = ""
    ) -> StewardPayload:
        if task_or_record.startswith("T-"):
            await _visible_task(info, task_or_record)
            scope, task_id = task_records(task_or_record), task_or_record
        else:
            scope, task_id = _fixed([split_mention(task_or_record)[0]]), None
        return await operate(info, scope, lambda s: s.link(task_or_record, enterprise_id, reason), task_id)

    @strawberry.mutation(
        description="Two ids are one enterprise: survivor keeps its id, loser redirects to it forever.",
        permission_classes=STEWARD_ONLY,
    )
    async def merge_enterprises(
        self, info: Info[Context, None], loser: str, survivor: str, reason: str = ""
    ) -> StewardPayload:
        scope = enterprise_records([loser, survivor])
        return await operate(info, scope, lambda s: s.merge(loser, survivor, reason))

    @strawberry.mutation(
        description="These records (<record id>|<party>) are not the enterprise they are linked to.",
        permission_classes=STEWARD_ONLY,
    )
    async def split_records(
        self, info: Info[Context, None], mentions: list[str], reason: str = ""
    ) -> StewardPayload:
        scope = _fixed([split_mention(m)[0] for m in mentions])
        return await operate(info, scope, lambda s: s.split(mentions, reason))

    @strawberry.mutation(
        description="Withdraw a judgement: its records are resolved again as if it had never been made.",
        permission_classes=STEWARD_ONLY,
    )
    async def undo_judgement(self, info: Info[Context, None], id: str, reason: str = "") -> StewardPayload:
        if await info.context.in_thread(_attaches_a_meter, info.context, id):
            return await info.context.in_thread(_undo_meter_judgement, info.context, id, reason)
        return await operate(info, _undo_records(id), lambda s: s.undo(id, reason), undo_of=id)


# --- running an operation -------------------------------------------------------------------------

# Which records an operation may relink, read before it runs: their links before and after say which
# enterprises changed.
Scope = Callable[[Any], list[str]]


async def operate(
    info: Info[Context, None],
    scope: Scope,
    operation: Callable[[Steward], Outcome],
    task_id: str | None = None,
    undo_of: str | None = None,
) -> StewardPayload:
    """Run a steward's operation for the caller (as it may see the graph), with the links of the records
    ``scope`` names before and after: the towns' verdicts (``api/towns.py``) act through it too."""
    return await info.context.in_thread(_run, info.context, scope, operation, task_id, undo_of)


def _run(
    context: Context,
    scope: Scope,
    operation: Callable[[Steward], Outcome],
    task_id: str | None,
    undo_of: str | None,
) -> StewardPayload:
    steward = _steward(context)  # builds the resolver, which reads its model: off the event loop too
    store = steward.store
    with _OPERATIONS:
        records = _visible(steward, scope(store))
        before = _links(store, records)
        try:
            outcome = operation(steward)
        except StewardError as exc:
            raise _api_error(exc) from None
        except ResolveBusy as exc:  # the upload worker's (or a shell's) resolution is running
            raise Busy(f"{exc}; retry in a minute", retryAfter=30) from None
        after = _links(store, records)
    # An undo returns the judgement it withdrew; show it as stored now (undone, by whom), as the caller
    # may see it (its records of datasets hidden from it left out).
    row = sq.judgement(store, undo_of or outcome.judgement.id, steward.sight) or outcome.judgement.props()
    task_id = task_id or row.get("task") or None
    return StewardPayload(
        judgement=_judgement(row),
        changed_enterprises=_changed(steward, before, after),
        task_id=task_id,
        task_status=_task_status(steward, [task_id]).get(task_id) if task_id else None,
        summary=outcome.summary.line(),
    )


def _run_bulk(context: Context, ids: list[str], reason: str) -> BulkAcceptPayload:
    steward = _steward(context)
    store = steward.store
    with _OPERATIONS:
        records = sorted(
            {
                r
                for task in task_queries.tasks_by_id(store, ids).values()
                for r in task.get("record_ids") or []
            }
        )
        records = _visible(steward, records)
        before = _links(store, records)
        try:
            outcome: BulkOutcome = steward.accept_many(ids, reason)
        except StewardError as exc:
            raise _api_error(exc) from None
        except ResolveBusy as exc:
            raise Busy(f"{exc}; retry in a minute", retryAfter=30) from None
        after = _links(store, records)
    accepted = [o.judgement.id for o in outcome.accepted]
    stored = {row["id"]: row for row in sq.judgements_by_id(store, accepted, steward.sight)}
    statuses = _task_status(steward, ids)
    return BulkAcceptPayload(
        outcomes=[
            TaskAcceptance(
                task_id=o.task_id,
                accepted=o.judgement is not None,
                skipped=o.skipped or None,
                judgement=_judgement(stored.get(o.judgement.id) or o.judgement.props())
                if o.judgement
                else None,
                task_status=statuses.get(o.task_id),
            )
            for o in outcome.outcomes
        ],
        accepted=len(outcome.accepted),
        changed_enterprises=_changed(steward, before, after),
        summary=outcome.summary.line(),
    )


async def _visible_task(info: Info[Context, None], task_id: str) -> dict[str, Any]:
    """The task as the caller may see it; ``NOT_FOUND`` for an unknown id and for a task whose records
    all belong to datasets hidden from the caller (it cannot learn that the task exists)."""
    context = info.context
    row = await context.in_thread(task_queries.task, context.store, task_id, visibility(context))
    if row is None:
        raise NotFound(f"no steward task {task_id}")
    return row


def _steward(context: Context) -> Steward:
    settings = context.settings
    bands = Bands(link=settings.link_threshold, review=settings.review_threshold)
    resolver = Resolver(context.store, context.catalog, settings.model_path, bands, threads=settings.threads)
    # It acts as the caller may see the graph: what is hidden from it is unknown to it.
    return Steward(context.store, context.catalog, resolver, _user(context), visibility(context))


def _user(context: Context) -> str:
    # Judgements record who decided; an API key has a name, a token a subject. The role is the fallback
    # so a judgement is never anonymous.
    return context.principal.subject or context.principal.role.value


def _attaches_a_meter(context: Context, judgement_id: str) -> bool:
    """Whether ``judgement_id`` is a meter judgement the caller may see (the registry undoes those)."""
    row = sq.judgement(context.store, judgement_id, visibility(context))
    return row is not None and row.get("kind") == "meter"


def _undo_meter_judgement(context: Context, judgement_id: str, reason: str) -> StewardPayload:
    """Withdraw a steward's meter attachment: the meter is the registry's again (``meter_registry``)."""
    store = context.store
    meter = [(judgement_queries.judgement(store, judgement_id) or {}).get("meter") or ""]
    before = {row["enterprise"] for row in meter_queries.owners(store, meter)}
    with _OPERATIONS:
        try:
            undo_pin(store, context.catalog, judgement_id, _user(context), reason)
        except ValueError as exc:
            raise _api_error(StewardError(str(exc))) from None
    after = {row["enterprise"] for row in meter_queries.owners(store, meter)}
    row = sq.judgement(store, judgement_id, visibility(context))
    assert row is not None  # the caller saw it a moment ago; judgements are never deleted
    known = sq.known_enterprises(store, sorted(before ^ after), visibility(context))
    return StewardPayload(
        judgement=_judgement(row),
        changed_enterprises=sorted(known),
        task_id=None,
        task_status=None,
        summary=f"meter {row.get('meter')} is the registry's again",
    )


def _api_error(exc: StewardError) -> ApiError:
    # The steward names unknown ids as "no steward task …", "no enterprise …", "no judgement …",
    # "no source record …"; everything else is a request that cannot be applied.
    message = str(exc)
    return NotFound(message) if message.startswith("no ") else BadInput(message)


def task_records(task_id: str) -> Scope:
    def scope(store: Any) -> list[str]:
        task = task_queries.task(store, task_id)
        return list(task.get("record_ids") or []) if task else []

    return scope


def enterprise_records(enterprise_ids: Sequence[str]) -> Scope:
    return lambda store: mention_queries.records_of_enterprises(store, list(enterprise_ids))


def _fixed(record_ids: Sequence[str]) -> Scope:
    return lambda store: list(record_ids)


def _undo_records(judgement_id: str) -> Scope:
    """What an undo resolves again: the judgement's records, and those of the enterprises it named."""

    def scope(store: Any) -> list[str]:
        row = judgement_queries.judgement(store, judgement_id)
        if row is None:
            return []
        enterprises = [row["object"]]
        if row["kind"] == "merge":
            enterprises.append(row["subject"])
        elif row["kind"] == "split":
            enterprises.append(provisional_id(row["subject"].removeprefix("mention:")))
        return sorted(
            set(row.get("records") or []) | set(mention_queries.records_of_enterprises(store, enterprises))
        )

    return scope


def _visible(steward: Steward, record_ids: Sequence[str]) -> list[str]:
    """Those of ``record_ids`` the caller may see: what ``changedEnterprises`` is worked out from, so
    that it says nothing of records hidden from the caller (an undo resolves an enterprise's records
    of every dataset again, and they may move between enterprises the caller knows)."""
    if steward.sight.datasets is None or not record_ids:
        return list(record_ids)
    return sorted(sq.visible_records(steward.store, record_ids, steward.sight))


def _task_status(steward: Steward, task_ids: Sequence[str]) -> dict[str, str | None]:
    """Each task's status after an operation as the caller may see it: a task it decided for its own
    records, handed back to the stewards who may see its other records, is resolved for it (as it is
    when it held its records alone). Unknown tasks have no entry."""
    stored = task_queries.tasks_by_id(steward.store, list(task_ids))
    gone = set(task_queries.hidden(steward.store, list(stored), steward.sight)) if stored else set()
    return {tid: "resolved" if tid in gone else task.get("status") for tid, task in stored.items()}


def _links(store: Any, record_ids: Sequence[str]) -> dict[tuple[str, str], str]:
    if not record_ids:
        return {}
    rows = mention_queries.record_links(store, list(record_ids))
    return {(row["record_id"], row["party"]): row["enterprise_id"] for row in rows}


def _changed(
    steward: Steward, before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]
) -> list[str]:
    """Enterprises whose links to the records changed, those the caller knows: a task's records of
    datasets hidden from it may move between enterprises it may not learn of."""
    changed: set[str] = set()
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old != new:
            changed.update(e for e in (old, new) if e)
    if steward.sight.datasets is not None and changed:
        changed &= sq.known_enterprises(steward.store, sorted(changed), steward.sight)
    return sorted(changed)


# --- conversions ----------------------------------------------------------------------------------


def _page(first: int) -> int:
    if first < 1:
        raise BadInput("first must be at least 1")
    return min(first, MAX_PAGE)


def _enterprise_loader(info: Info[Context, None]):
    """Enterprises by id, merged-away ones included; None for one only datasets hidden from the caller
    know (the panorama's rule: ``enterprise_queries.enterprises``)."""
    context = info.context
    sight = visibility(context)

    async def load(ids: list[str]) -> list[dict[str, Any] | None]:
        rows = await context.in_thread(enterprise_queries.enterprises, context.store, ids, sight)
        found = {row["id"]: row["e"] for row in rows}
        return [found.get(i) for i in ids]

    return context.loader("steward.enterprise", load)


def _known_candidates(context: Context, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task rows with only the candidates the caller knows (as :class:`Steward` numbers them for
    acceptTask): one only datasets hidden from it know is left out, not shown as a bare id, as every
    list leaves out such enterprises; the others are numbered among themselves, so no gap in the ranks
    says one was there. One statement for all the rows."""
    sight = visibility(context)
    if sight.datasets is None:
        return rows
    ranked = [json.loads(row.get("candidates") or "[]") for row in rows]
    ids = sorted({c["enterprise_id"] for candidates in ranked for c in candidates})
    known = sq.known_enterprises(context.store, ids, sight) if ids else set()
    return [
        {**row, "candidates": json.dumps([c for c in candidates if c["enterprise_id"] in known])}
        for row, candidates in zip(rows, ranked, strict=True)
    ]


def _task(row: dict[str, Any]) -> StewardTask:
    candidates = json.loads(row.get("candidates") or "[]")
    return StewardTask(
        id=row["id"],
        status=row.get("status") or "",
        name=row.get("name"),
        town=row.get("town") or None,
        datasets=list(row.get("datasets") or []),
        impact=int(row.get("impact") or 0),
        mention_key=row.get("mention_key") or "",
        mentions=list(row.get("mention_ids") or []),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
        closed_at=row.get("closed_at"),
        record_ids=list(row.get("record_ids") or []),
        ranked=[_candidate(n, c) for n, c in enumerate(candidates, 1)],
        stake=float(row.get("stake") or 0.0),
        stake_records=list(row.get("stake_records") or []),
    )


def _candidate(rank: int, c: dict[str, Any]) -> TaskCandidate:
    return TaskCandidate(
        rank=rank,
        enterprise_id=c["enterprise_id"],
        probability=float(c["probability"]),
        match_weight=float(c["match_weight"]),
        terms=[
            MatchWeightTerm(comparison=str(comparison), level=str(level), weight=float(weight))
            for comparison, level, weight in c.get("explanation") or []
        ],
    )


def _candidate_enterprise(context: Context, row: dict[str, Any]) -> CandidateEnterprise:
    def shown(field: str) -> str | None:
        value = golden_value(context, row, field)  # as the column that stated it allows
        return None if value is None else str(value)

    return CandidateEnterprise(
        id=row["id"],
        name=row.get("name"),
        legal_rep=shown("legal_rep"),
        phone=shown("phone"),
        town=shown("town"),
        address=shown("address"),
        merged_into=row.get("merged_into"),
    )


def _parties(mentions: Sequence[str]) -> dict[str, str]:
    """record id -> the task's party on it, from ``<record id>|<party>``. A record naming the task's
    name for two parties (rare) shows the first."""
    parties: dict[str, str] = {}
    for mention in mentions:
        record_id, party = split_mention(mention)
        parties.setdefault(record_id, party)
    return parties


def _task_record(context: Context, row: dict[str, Any], party: str | None) -> TaskRecord:
    number = row.get("row")
    spec = context.spec(row.get("dataset"))
    fields = party_fields(spec, row, party) if spec and party else {}

    def shown(field: str) -> str | None:
        if field not in fields:
            return None
        value, column = fields[field]
        # Masked by the column the value came from: the same policy as every other field.
        seen = context.mask(spec.sharing_of(column), mask_kind(column), value) if spec else None
        return None if seen is None else str(seen)

    return TaskRecord(
        id=row["id"],
        dataset=row.get("dataset"),
        file=row.get("file_name"),
        sheet=row.get("sheet"),
        row=int(number) if number is not None else None,
        party=party,
        name=shown("name"),
        legal_rep=shown("legal_rep"),
        phone=shown("phone"),
        address=shown("address"),
        town=shown("town"),
        credit_code=shown("credit_code"),
    )


def _judgement(row: dict[str, Any]) -> Judgement:
    return Judgement(
        id=row["id"],
        kind=row["kind"],
        subject=row["subject"],
        object=row["object"],
        user=row["user"],
        at=row["at"],
        reason=row.get("reason") or "",
        task=row.get("task") or None,
        records=list(row.get("records") or []),
        undone=bool(row.get("undone")),
        undone_by=row.get("undone_by"),
        undone_at=row.get("undone_at"),
        undo_reason=row.get("undo_reason"),
    )
