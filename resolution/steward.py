"""Data stewards' operations: every one stores a judgement, then lets the resolver replay it.

Operations never edit links directly. They record what the steward decided (who, when, why, which
records it touched), mark those records pending and run the resolver, which replays every active
judgement. So the same code path that honours a decision today honours it after a reload, a retrain
or a rerun from scratch, and an undo is just "mark the judgement undone and resolve again".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.errors import EntgraphError
from entgraph.graph import canonical_queries, judgement_queries, mention_queries, task_queries
from entgraph.graph import steward_queries as sq
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import EVERYTHING, Visibility
from entgraph.identity.chinese_names import parse_name
from entgraph.resolution.enterprises import provisional_id
from entgraph.resolution.golden import GOLDEN_FIELDS, recompute
from entgraph.resolution.judgements import Judgement, Kind, mention_key
from entgraph.resolution.mentions import mention_id, mentions_of, split_mention
from entgraph.resolution.resolver import Resolver, ResolveSummary
from entgraph.resolution.stake import StakeLine, default_table


class StewardError(EntgraphError):
    """A steward operation that cannot be applied (unknown task, merging a branch into its parent...)."""


@dataclass(frozen=True)
class Outcome:
    judgement: Judgement
    summary: ResolveSummary


@dataclass(frozen=True)
class TaskOutcome:
    """One task of a bulk accept: its judgement, or why it was left alone."""

    task_id: str
    judgement: Judgement | None = None
    skipped: str = ""


@dataclass(frozen=True)
class BulkOutcome:
    outcomes: list[TaskOutcome]
    summary: ResolveSummary

    @property
    def accepted(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.judgement is not None]


def best_probability(task: dict[str, Any]) -> float | None:
    """The probability of a task row's best candidate (None without one)."""
    candidates = task["candidates"] if isinstance(task.get("candidates"), list) else None
    if candidates is None:
        candidates = json.loads(task.get("candidates") or "[]")
    return float(candidates[0]["probability"]) if candidates else None


def stake_lines(task: dict[str, Any]) -> list[StakeLine]:
    """What is at stake in a task, by dataset category (resolution/stake.py)."""
    return default_table().explain(task.get("stake_records") or [])


class Steward:
    """Operations as ``user`` may see the graph (``sight``; the CLI's steward sees everything): an
    enterprise, record or judgement hidden from it is unknown to it (``no enterprise …``, ``no source
    record …``, ``no judgement …``, as for an id that does not exist), and a task's candidates are the
    enterprises it knows, numbered among themselves (``graph/steward_queries.py``).

    It decides only about records it may see. A task is what its records of datasets the user may see
    make of it; deciding one that also holds records hidden from it (accept, reject, unsure, link)
    makes a judgement scoped to its own mentions (``mentions``: it settles those, and not the name's
    other or later records, ``resolution/judgements.py``), and the task is handed back, holding the
    hidden records alone, to the stewards who may see them (``steward_queries.hand_back``). Undoing a
    judgement that also covers records hidden from it withdraws it for the user's records only: the
    same decision, by the same steward at the same time, is kept for the others.
    """

    def __init__(
        self,
        store: GraphStore,
        catalog: Catalog,
        resolver: Resolver,
        user: str,
        sight: Visibility = EVERYTHING,
    ) -> None:
        if not user:
            raise StewardError("say who you are: every judgement records its steward (--user)")
        self.store = store
        self.catalog = catalog
        self.resolver = resolver
        self.user = user
        self.sight = sight

    # --- reading --------------------------------------------------------------------------------

    def tasks(
        self,
        status: str = "open",
        town: str | None = None,
        dataset: str | None = None,
        min_probability: float | None = None,
        order: str = "stake",
    ) -> list[dict[str, Any]]:
        """The queue: largest stake first (``order="impact"``: most records first); ``min_probability``
        keeps tasks whose best candidate reaches it."""
        try:
            rows = task_queries.tasks(self.store, status, town, dataset, order)
        except ValueError as exc:
            raise StewardError(str(exc)) from None
        if min_probability is not None:
            rows = [t for t in rows if (best_probability(t) or 0.0) >= min_probability]
        return rows

    def towns(self, status: str = "open") -> list[dict[str, Any]]:
        """Per town: its tasks, their records and stake (what each town has to verify)."""
        return task_queries.town_queues(self.store, status)

    def task(self, task_id: str) -> dict[str, Any]:
        """One task as the user may see it (:meth:`_part`), with its candidates, records and stake."""
        stored = task_queries.task(self.store, task_id)
        task = self._part(stored) if stored is not None else None
        if task is None:
            raise StewardError(f"no steward task {task_id}; `entgraph steward tasks` lists them")
        task["candidates"] = self._known_candidates(json.loads(task.get("candidates") or "[]"))
        for candidate in task["candidates"]:
            candidate["enterprise"] = canonical_queries.enterprise(self.store, candidate["enterprise_id"])
        task["records"] = mention_queries.records_by_id(self.store, task.get("record_ids") or [])
        task["stake_lines"] = stake_lines(task)
        return task

    # --- operations -----------------------------------------------------------------------------

    def accept(self, task_id: str, candidate: int = 1, reason: str = "") -> Outcome:
        """The task's name is candidate N (1 = best)."""
        task = self.task(task_id)
        candidates = task["candidates"]
        if not 1 <= candidate <= len(candidates):
            raise StewardError(
                f"task {task_id} has {len(candidates)} candidate(s); choose 1..{len(candidates)}"
            )
        target = candidates[candidate - 1]["enterprise_id"]
        return self._decide(task, "link", target, reason)

    def accept_many(self, task_ids: Sequence[str], reason: str = "") -> BulkOutcome:
        """Each task's name is its best candidate: one judgement per task (each undoable on its own),
        one resolver run for all. An unknown id refuses the whole request (nothing is written); a task
        already resolved or without a candidate is skipped and says so."""
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            raise StewardError("name the tasks to accept (T-…)")
        stored = task_queries.tasks_by_id(self.store, ids)
        seen = self._seen_records([r for task in stored.values() for r in task.get("record_ids") or []])
        found = {task_id: part for task_id, task in stored.items() if (part := self._part(task, seen))}
        missing = [task_id for task_id in ids if task_id not in found]
        if missing:
            raise StewardError(
                f"no steward task {', '.join(missing)}; nothing was accepted (`entgraph steward tasks` "
                "lists them)"
            )
        outcomes: list[TaskOutcome] = []
        rows: list[dict[str, Any]] = []
        records: set[str] = set()
        ranked = {task_id: json.loads(found[task_id].get("candidates") or "[]") for task_id in ids}
        known = self._known([c["enterprise_id"] for cs in ranked.values() for c in cs])
        for task_id in ids:
            task = found[task_id]
            # the best candidate the user knows: one hidden from it is not its to accept
            candidates = [c for c in ranked[task_id] if known is None or c["enterprise_id"] in known]
            if task.get("status") == "resolved":
                outcomes.append(TaskOutcome(task_id, skipped="already resolved"))
                continue
            if not candidates:
                outcomes.append(TaskOutcome(task_id, skipped="no candidate to accept"))
                continue
            target = candidates[0]["enterprise_id"]
            judgement = Judgement.new("link", task["mention_key"], target, self.user, reason, task_id)
            task_records = list(task.get("record_ids") or [])
            rows.append({**judgement.props(), "records": task_records, **_scoped(task)})
            records.update(task_records)
            outcomes.append(TaskOutcome(task_id, judgement))
        if not rows:
            return BulkOutcome(outcomes, ResolveSummary())
        judgement_queries.save_judgements(self.store, rows)
        mention_queries.mark_pending(self.store, sorted(records))
        summary = self.resolver.run()
        for outcome in outcomes:
            if outcome.judgement is not None:
                self._hand_back(found[outcome.task_id])
        return BulkOutcome(outcomes, summary)

    def reject(self, task_id: str, enterprise_id: str | None = None, reason: str = "") -> Outcome:
        """The task's name is not that candidate (default: none of them)."""
        task = self.task(task_id)
        known = self._known([enterprise_id]) if enterprise_id else None
        if enterprise_id and known is not None and enterprise_id not in known:
            raise StewardError(f"no enterprise {enterprise_id}")
        targets = [enterprise_id] if enterprise_id else [c["enterprise_id"] for c in task["candidates"]]
        if not targets:
            raise StewardError(f"task {task_id} has no candidate to reject; name the enterprise")
        outcome = None
        for target in targets:
            outcome = self._decide(task, "reject", target, reason, resolve=False)
        assert outcome is not None
        summary = self.resolver.run()
        self._hand_back(task)
        return Outcome(outcome.judgement, summary)

    def unsure(self, task_id: str, reason: str = "") -> Outcome:
        task = self.task(task_id)
        best = task["candidates"][0]["enterprise_id"] if task["candidates"] else ""
        return self._decide(task, "unsure", best, reason)

    def link(self, task_or_record: str, enterprise_id: str, reason: str = "") -> Outcome:
        """Link a task's name, or one record (``<record id>|<party>``), to an enterprise of your choice."""
        self._require_enterprise(enterprise_id)
        if task_or_record.startswith("T-"):
            return self._decide(self.task(task_or_record), "link", enterprise_id, reason)
        record_id, party = split_mention(task_or_record)
        self._require_records([record_id])
        key = mention_key(mention_id(record_id, party))
        return self._judge("link", key, enterprise_id, reason, [record_id])

    def merge(self, loser: str, survivor: str, reason: str = "") -> Outcome:
        """Two ids are one enterprise: ``survivor`` keeps its id, ``loser`` redirects to it forever."""
        if loser == survivor:
            raise StewardError("an enterprise cannot be merged into itself")
        a, b = self._require_enterprise(loser), self._require_enterprise(survivor)
        for e in (a, b):
            if e.get("merged_into"):
                raise StewardError(f"{e['id']} was already merged into {e['merged_into']}; use that id")
        if _branch_pair(a, b):
            raise StewardError(
                f"{loser} and {survivor} are a branch and its parent (分公司/总公司): distinct enterprises, "
                "never merged"
            )
        # Every record linked to the loser goes with it: the judgement carries their mentions, replayed
        # as links to the survivor. Redirecting the id alone would leave a record the matcher had placed
        # (a name-only one) to be scored again, and it could land elsewhere (a task, a new provisional).
        # The loser's records are resolved again whole: a party of one of them linked to the survivor (a
        # land transfer between the two) stays with it too.
        records = sorted({record for record, _ in mention_queries.mentions_of_enterprise(self.store, loser)})
        carried = {
            "carried": [
                mention_id(row["record_id"], row["party"])
                for row in mention_queries.record_links(self.store, records)
                if row["enterprise_id"] in (loser, survivor)
            ]
        }
        judgement = self._save("merge", loser, survivor, reason, records, scope=carried)
        canonical_queries.set_redirect(self.store, loser, survivor)
        mention_queries.mark_pending(self.store, records)
        return Outcome(judgement, self.resolver.run())

    def split(self, mention_ids: Sequence[str], reason: str = "") -> Outcome:
        """These records (``<record id>|<party>``) are not the enterprise they are linked to."""
        if not mention_ids:
            raise StewardError("name the records to split off (<record id>|<party>)")
        self._require_records([split_mention(m)[0] for m in mention_ids])
        links = {(row["record_id"], row["party"]): row["enterprise_id"] for row in self._linked(mention_ids)}
        outcome = None
        touched = set()
        for mid in mention_ids:
            record_id, party = split_mention(mid)
            eid = links.get((record_id, party))
            if eid is None:
                raise StewardError(
                    f"record {record_id} ({party}) is not linked to any enterprise; nothing to split"
                )
            touched.add(eid)
            outcome = self._judge("split", mention_key(mid), eid, reason, [record_id], resolve=False)
        assert outcome is not None
        summary = self.resolver.run()
        self.recompute_golden(sorted(touched))
        return Outcome(outcome.judgement, summary)

    def undo(self, judgement_id: str, reason: str = "") -> Outcome:
        """Withdraw a judgement; its records are resolved again as if it had never been made."""
        # as the user may see it: one naming an enterprise or holding only records hidden from it is not
        # there; of the others it withdraws the decision about its records (kept for the rest)
        seen = sq.judgement(self.store, judgement_id, self.sight)
        row = judgement_queries.judgement(self.store, judgement_id) if seen is not None else None
        if seen is None or row is None:
            raise StewardError(f"no judgement {judgement_id}; `entgraph steward judgements` lists them")
        if row.get("undone"):
            raise StewardError(f"judgement {judgement_id} was already undone at {row['undone_at']}")
        if row["kind"] == "meter":
            raise StewardError(
                f"judgement {judgement_id} attaches a meter: undo it with `entgraph telemetry meters unpin "
                f"{judgement_id}` (or the undoJudgement mutation), which gives the meter back to the registry"
            )
        judgement = Judgement(**{k: row.get(k, "") for k in Judgement.__dataclass_fields__})
        records = list(seen.get("records") or [])
        hidden = [r for r in row.get("records") or [] if r not in records]
        if hidden and row["kind"] in ("link", "reject", "unsure"):
            self._keep_for_others(row, hidden)
        affected = [row["object"]]
        if row["kind"] == "merge":
            canonical_queries.remove_redirect(self.store, row["subject"])
            records = sorted(
                set(records) | set(mention_queries.records_of_enterprises(self.store, [row["object"]]))
            )
            affected.append(row["subject"])
            # The survivor learned the loser's names; both relearn from their own records, which are
            # all resolved again below (coded ones first, so names are back before anything is matched).
            canonical_queries.reset_profiles(self.store, affected, GOLDEN_FIELDS)
        elif row["kind"] == "split":
            # The enterprise the split created stood only for the split-off record: it redirects back,
            # so it cannot compete with the original for the record it was made for.
            split_off = provisional_id(row["subject"].removeprefix("mention:"))
            if canonical_queries.enterprise(self.store, split_off) is not None:
                canonical_queries.set_redirect(self.store, split_off, row["object"])
            records = sorted(
                set(records) | set(mention_queries.records_of_enterprises(self.store, [split_off]))
            )
        else:
            records = sorted(
                set(records) | set(mention_queries.records_of_enterprises(self.store, [row["object"]]))
            )
            if row["kind"] == "link":
                # The enterprise learned the linked name from the steward's link; unlearned, so the
                # matcher cannot put the records straight back where the withdrawn judgement put them.
                canonical_queries.reset_profiles(self.store, [row["object"]], GOLDEN_FIELDS)
        judgement_queries.save_judgement(
            self.store,
            {
                "id": judgement_id,
                "undone": True,
                "undone_by": self.user,
                "undone_at": _now(),
                "undo_reason": reason,
            },
        )
        mention_queries.mark_pending(self.store, records)
        summary = self.resolver.run()
        self.recompute_golden(affected)
        return Outcome(judgement, summary)

    def judgements(self, include_undone: bool = True) -> list[dict[str, Any]]:
        return judgement_queries.judgements(self.store, include_undone=include_undone)

    # --- golden records -------------------------------------------------------------------------

    def recompute_golden(self, enterprise_ids: Sequence[str]) -> None:
        """Golden records from scratch, for enterprises that lost records (split, undo)."""
        specs = {spec.key: spec for spec in self.catalog.specs}
        by_enterprise: dict[str, list] = {eid: [] for eid in enterprise_ids}
        for row in mention_queries.linked_mentions(self.store, list(enterprise_ids)):
            spec = specs.get(row["r"].get("dataset"))
            if spec is None:
                continue
            for mention in mentions_of(spec, row["r"]):
                if mention.party == row["party"]:
                    by_enterprise[row["enterprise_id"]].append((mention, row["r"].get("period")))
        rows = []
        for eid, mentions in by_enterprise.items():
            golden = recompute(mentions, self.resolver.source_priority)
            rows.append({"id": eid, "props": golden.props()})
        canonical_queries.upsert_enterprises(self.store, rows)
        canonical_queries.set_legal_representatives(
            self.store,
            [
                {"enterprise": row["id"], "name": rep, "key": f"{rep}|{row['id']}"}
                for row in rows
                if (rep := row["props"].get("legal_rep"))
            ],
        )

    # --- internals ------------------------------------------------------------------------------

    def _judge(
        self,
        kind: Kind,
        subject: str,
        obj: str,
        reason: str,
        records: Sequence[str],
        task_id: str = "",
        resolve: bool = True,
        scope: dict[str, Any] | None = None,
    ) -> Outcome:
        judgement = self._save(kind, subject, obj, reason, records, task_id, scope)
        mention_queries.mark_pending(self.store, records)
        if task_id and kind == "unsure":
            task_queries.close_tasks(self.store, [task_id], "unsure", judgement.at)
        return Outcome(judgement, self.resolver.run() if resolve else ResolveSummary())

    def _decide(
        self, task: dict[str, Any], kind: Kind, obj: str, reason: str, resolve: bool = True
    ) -> Outcome:
        """A judgement about task ``task`` (as :meth:`task` gives it): about the records the user may
        see of it, scoped to their mentions when it holds others, and then the task handed back."""
        outcome = self._judge(
            kind, task["mention_key"], obj, reason, task["record_ids"], task["id"], resolve, _scoped(task)
        )
        if resolve:
            self._hand_back(task)
        return outcome

    def _hand_back(self, task: dict[str, Any]) -> None:
        """Leave a task the user decided for its records alone to those who may see the others."""
        if task.get("hidden_records"):
            sq.hand_back(self.store, task["id"], task["record_ids"], task)

    def _save(
        self,
        kind: Kind,
        subject: str,
        obj: str,
        reason: str,
        records: Sequence[str],
        task_id: str = "",
        scope: dict[str, Any] | None = None,
    ) -> Judgement:
        judgement = Judgement.new(kind, subject, obj, self.user, reason, task_id)
        judgement_queries.save_judgement(
            self.store, {**judgement.props(), "records": list(records), **(scope or {})}
        )
        return judgement

    def _keep_for_others(self, row: dict[str, Any], hidden: list[str]) -> None:
        """Before the user withdraws judgement ``row`` for the records it may see, keep it for
        ``hidden`` (the others): the same decision, by the same steward at the same time, scoped to
        their mentions (read from the judgement's scope, or its task's mentions)."""
        mentions = list(row.get("mentions") or [])
        if not mentions and row.get("task"):
            mentions = list((task_queries.task(self.store, row["task"]) or {}).get("mention_ids") or [])
        others = set(hidden)
        mentions = [m for m in mentions if split_mention(m)[0] in others]
        if not mentions:
            return
        kept = Judgement.new(row["kind"], row["subject"], row["object"], row["user"], row.get("reason") or "")
        kept = replace(kept, at=row["at"], task=row.get("task") or "")
        judgement_queries.save_judgement(
            self.store, {**kept.props(), "records": hidden, "mentions": mentions, "kept_from": row["id"]}
        )

    def _part(self, task: dict[str, Any], seen: set[str] | None = None) -> dict[str, Any] | None:
        """A stored task as the user may see it: ``record_ids``, ``mention_ids`` and ``stake_records``
        of its records of datasets it may see, ``hidden_records`` the others (``seen``: the visible
        records, when already read). None when they are all hidden."""
        records = list(task.get("record_ids") or [])
        if self.sight.datasets is None:
            return {**task, "hidden_records": []}
        seen = self._seen_records(records) if seen is None else seen
        if not any(r in seen for r in records):
            return None

        def mine(items: str) -> list[str]:
            return [x for x in task.get(items) or [] if split_mention(x)[0] in seen]

        return {
            **task,
            "record_ids": [r for r in records if r in seen],
            "mention_ids": mine("mention_ids"),
            "stake_records": [x for x in task.get("stake_records") or [] if x.split("|")[0] in seen],
            "hidden_records": [r for r in records if r not in seen],
        }

    def _seen_records(self, record_ids: Sequence[str]) -> set[str]:
        """Those of ``record_ids`` the user may see (all, for a user who sees every dataset)."""
        if self.sight.datasets is None:
            return set(record_ids)
        return sq.visible_records(self.store, record_ids, self.sight) if record_ids else set()

    def _known(self, enterprise_ids: Sequence[str]) -> set[str] | None:
        """Those of ``enterprise_ids`` the user knows; None when it knows every enterprise."""
        if self.sight.datasets is None:
            return None
        return sq.known_enterprises(self.store, enterprise_ids, self.sight) if enterprise_ids else set()

    def _known_candidates(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        known = self._known([c["enterprise_id"] for c in candidates])
        return [c for c in candidates if known is None or c["enterprise_id"] in known]

    def _require_enterprise(self, enterprise_id: str) -> dict[str, Any]:
        row = canonical_queries.enterprise(self.store, enterprise_id)
        known = self._known([enterprise_id]) if row is not None else None
        if row is None or (known is not None and enterprise_id not in known):
            raise StewardError(f"no enterprise {enterprise_id}")
        return row

    def _require_records(self, record_ids: Sequence[str]) -> None:
        """Every one of ``record_ids`` exists and the user may see it (a hidden one is unknown)."""
        found = sq.visible_records(self.store, record_ids, self.sight)
        missing = [r for r in dict.fromkeys(record_ids) if r not in found]
        if missing:
            raise StewardError(f"no source record {', '.join(missing)}")

    def _linked(self, mention_ids: Sequence[str]) -> list[dict[str, Any]]:
        record_ids = [split_mention(m)[0] for m in mention_ids]
        return mention_queries.record_links(self.store, record_ids)


def _scoped(task: dict[str, Any]) -> dict[str, Any]:
    """What scopes a judgement about ``task`` (as :meth:`Steward.task` gives it) to the mentions the
    user may see of it: nothing when it may see them all (a judgement about the name)."""
    return {"mentions": list(task["mention_ids"])} if task.get("hidden_records") else {}


def _branch_pair(a: dict[str, Any], b: dict[str, Any]) -> bool:
    pa, pb = parse_name(a.get("name") or ""), parse_name(b.get("name") or "")
    if pa is None or pb is None:
        return False
    return (pa.branch is None) != (pb.branch is None) and pa.core == pb.core


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
