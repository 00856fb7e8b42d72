"""``entgraph resolve``: link every pending mention to a canonical enterprise, explainably.

One run, in the order evidence is trusted:

1. **Judgements** replayed: a steward's link or split decides a mention outright.
2. **Credit code** (valid, GB 32100): links deterministically to ``E-<code>``.
3. **Organisation code** embedded in a credit code, and **remembered identifiers** (a taxpayer id or a
   utility account once seen on a record with a code): deterministic too.
4. **Splink** scores the rest against the enterprises (incrementally, ``predict_between``); decision
   bands: link / steward task / below review.
5. Mentions below review are clustered among themselves into **provisional** enterprises, which merge
   into a coded enterprise when the evidence arrives.

Records are marked resolved only after their links are written, so a run killed half-way and rerun
picks up exactly the records it had not finished, and the deterministic ids make the redo idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec
from entgraph.errors import EntgraphError
from entgraph.graph import (
    canonical_queries,
    judgement_queries,
    mention_queries,
    resolution_schema,
    run_queries,
    task_queries,
)
from entgraph.graph.port import GraphStore
from entgraph.identity.chinese_names import parent_name, parse_name
from entgraph.identity.codes import division_name
from entgraph.loaders.honours import withdraw_dishonest
from entgraph.resolution import features as ft
from entgraph.resolution import name_memo
from entgraph.resolution.ambiguity import REQUIRED_BITS, Separation, separation
from entgraph.resolution.enterprises import (
    EnterpriseIndex,
    credit_code_id,
    org_code_id,
    provisional_id,
)
from entgraph.resolution.fidelity import NameFidelity, Parts
from entgraph.resolution.fidelity import observations as fidelity_observations
from entgraph.resolution.golden import DEFAULT_SOURCE_PRIORITY, source_of
from entgraph.resolution.judgements import Judgement, JudgementBook, mention_key, name_key
from entgraph.resolution.matching import Candidate, MatchModel, MatchSettings, PairScorer
from entgraph.resolution.mentions import Mention, enterprise_parties, mentions_of
from entgraph.resolution.sound_alike import SoundAlikeTally, SoundIndex, other_evidence
from entgraph.resolution.stake import StakeTable

log = logging.getLogger(__name__)

TRUSTED_METHODS = frozenset({"credit_code", "org_code", "identifier", "steward", "split"})
SYSTEM_USER = "entgraph"
# links that name the enterprise by a code: what the mention wrote as a name played no part
CODE_METHODS = frozenset({"credit_code", "org_code", "identifier"})


class ResolveBusy(EntgraphError):
    """Another resolution is running against the same graph."""


@dataclass(frozen=True)
class Bands:
    """Decision bands on the match probability of a code-less mention's best candidate."""

    link: float = 0.95
    review: float = 0.50
    # A runner-up this close (in match weight) to the best makes the choice a steward's, however high.
    ambiguity_weight: float = 2.0
    # When other enterprises share the mention's core, the best must lead each of them by this many
    # bits of evidence other than the shared name (see resolution/ambiguity.py).
    shared_core_bits: float = REQUIRED_BITS

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.link < 1:
            raise ValueError("decision bands need 0 < review <= link < 1")


@dataclass
class ResolveSummary:
    records: int = 0
    mentions: int = 0
    methods: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tasks: int = 0  # mentions awaiting a steward
    task_groups: int = 0  # the tasks they are in: one per distinct name (and town)
    enterprises_created: int = 0
    enterprises_coded: int = 0  # of those, known by a credit or organisation code (not provisional)
    merged: int = 0
    trained: bool = False
    training: str | None = None  # how the matcher was trained, or why there is none
    shared_core_tasks: int = 0  # mentions a shared core sent to stewards instead of linking
    honours_withdrawn: int = 0  # published honours taken down: their enterprise now has a 失信 record

    def line(self) -> str:
        """One line whose figures add up: every mention is decided or awaits a steward, and every
        enterprise created is known by a code or provisional."""
        methods = ", ".join(f"{k} {v}" for k, v in sorted(self.methods.items()))
        decided = sum(self.methods.values())
        shared = f", {self.shared_core_tasks} of them because other enterprises share their name's core"
        provisional = self.enterprises_created - self.enterprises_coded
        return (
            f"{self.records} records, {self.mentions} mentions: {decided} decided ({methods or 'none'}), "
            f"{self.tasks} awaiting a steward in {self.task_groups} tasks (one per distinct name"
            + (shared if self.shared_core_tasks else "")
            + f"); {self.enterprises_created} enterprises created ({self.enterprises_coded} known by a "
            f"code, {provisional} provisional: known by name only), {self.merged} merged"
            + (
                f"; {self.honours_withdrawn} published honours withdrawn (失信)"
                if self.honours_withdrawn
                else ""
            )
        )


@dataclass
class _Pending:
    mention: Mention
    period: str | None
    keys: list[str]


@dataclass
class _Decision:
    enterprise_id: str | None
    method: str
    probability: float | None = None
    explanation: str | None = None  # the matcher's match weights, as JSON, so every link explains itself


class Resolver:
    def __init__(
        self,
        store: GraphStore,
        catalog: Catalog,
        model_path: Path,
        bands: Bands | None = None,
        source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
        threads: int = 2,
        match_settings: MatchSettings | None = None,
        progress: Callable[[str], None] | None = None,
        scorer: PairScorer | None = None,
    ) -> None:
        self.store = store
        self.scorer = scorer  # None: the matcher scores in DuckDB; else e.g. Spark (the caller closes it)
        # told each phase as it starts (the CLI prints it with the time taken so far): a city's run takes
        # minutes, and a terminal silent that long looks hung
        self.progress = progress or (lambda _phase: None)
        self.match_settings = match_settings  # None: the platform's matcher (benchmarks pass a baseline)
        self.catalog = catalog
        self.model_path = model_path
        self.bands = bands or Bands()
        self.source_priority = tuple(source_priority)
        self.threads = threads

    # --- entry point ------------------------------------------------------------------------------

    def run(self, from_scratch: bool = False, retrain: bool = False) -> ResolveSummary:
        self.store.ensure_schema(resolution_schema.RESOLUTION_SCHEMA)
        self._recover()
        if from_scratch:
            run_queries.reset_resolution(self.store)
        summary = ResolveSummary()
        self.now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        run_id = f"R-{uuid.uuid4().hex[:16]}"
        run_queries.start_run(
            self.store,
            {
                "id": run_id,
                "status": "running",
                "started_at": self.now,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
        )
        self.book = JudgementBook(judgement_queries.judgements(self.store))
        if not from_scratch and self._nothing_to_do():
            # a scheduled run with nothing new: no reason to read the city's enterprises
            run_queries.finish_run(
                self.store, run_id, {"status": "done", "finished_at": _now(), "records": 0}
            )
            return summary
        self._read_city()
        self.index.run_id = run_id
        self._offered: set[str] = set()
        self._apply_merges(summary)
        self.progress("reading the records waiting to be resolved")
        pending, record_ids = self._read_pending(summary)
        self.progress(f"{summary.records:,} records, {summary.mentions:,} mentions: linking by codes")
        decided: dict[str, _Decision] = {}
        undecided: list[_Pending] = []
        for item in pending:
            decision = self._deterministic(item)
            if decision is None:
                undecided.append(item)
            else:
                decided[item.mention.id] = decision
        learned = {
            key: decided[p.mention.id].enterprise_id
            for p in pending
            if p.mention.id in decided and decided[p.mention.id].method == "credit_code"
            for key in p.mention.identifiers
        }
        decided |= self._by_codes(undecided, learned)
        undecided = [p for p in undecided if p.mention.id not in decided]
        # Coded evidence teaches enterprises their names and attributes before anything is matched.
        self._offer(pending, decided)
        self._merge_provisional_into_new(summary)
        self._learn_fidelity(pending, decided)
        model = self._model(pending, undecided, decided, retrain, summary)
        todo = sum(1 for p in undecided if p.mention.id not in decided)
        self.progress(f"matching {todo:,} mentions without a usable code")
        try:
            if model is None:
                self._by_exact_name(undecided, decided)
            tasks = self._match(undecided, model, decided, summary)
            self._settle_fidelity()  # when nothing was matched, what the codes taught
            leftovers = [p for p in undecided if p.mention.id not in decided and p.mention.id not in tasks]
            self._provisional(leftovers, model, decided)
            self._offer(undecided, decided)
        finally:
            if model is not None:
                model.close()
        self.progress("writing links, enterprises and steward tasks")
        self._write(pending, decided, tasks, record_ids, summary)
        # records now linked may show an enterprise's dishonesty: its published honours come down
        summary.honours_withdrawn = len(withdraw_dishonest(self.store))
        run_queries.finish_run(
            self.store,
            run_id,
            {
                "status": "done",
                "finished_at": _now(),
                "records": summary.records,
                "mentions": summary.mentions,
                "tasks": summary.tasks,
            },
        )
        return summary

    def _read_city(self) -> None:
        """The city's enterprises, with the name parses an earlier run saved (resolution/name_memo.py)."""
        self.progress("reading the city's enterprises")
        name_memo.prime(self._memo_path)
        self._parses_before = name_memo.size()
        self.index = EnterpriseIndex.load(self.store)

    @property
    def _memo_path(self) -> Path:
        return self.model_path.with_name("name-memo.json")

    def _nothing_to_do(self) -> bool:
        """No record waits, and every merge judgement is in place (a rerun from scratch replays them)."""
        if mention_queries.anything_pending(self.store):
            return False
        placed = canonical_queries.redirects(self.store) if self.book.merges else {}
        return all(placed.get(loser) == survivor for loser, survivor in self.book.merges.items())

    def _recover(self) -> None:
        """Roll back a run that died before finishing, so its half-written state cannot steer this one."""
        for run in run_queries.unfinished_runs(self.store):
            here = run.get("host") == socket.gethostname()
            alive = (
                psutil.pid_exists(int(run.get("pid") or 0)) and run.get("pid") != os.getpid()
                if here
                else _age_seconds(run.get("started_at")) < 3600  # another host: trust a recent lease
            )
            if alive:
                raise ResolveBusy(
                    f"another entgraph resolve (pid {run['pid']}, started {run['started_at']}) is running "
                    "on this graph; wait for it to finish"
                )
            log.warning("rolling back resolution run %s, which did not finish", run["id"])
            run_queries.roll_back_run(self.store, run["id"])

    # --- reading ----------------------------------------------------------------------------------

    def _enterprise_specs(self) -> list[DatasetSpec]:
        return [spec for spec in self.catalog.specs if enterprise_parties(spec)]

    def _read_pending(self, summary: ResolveSummary) -> tuple[list[_Pending], list[str]]:
        from sys import intern  # a run holds every pending mention: one copy of a repeated text

        pending: list[_Pending] = []
        record_ids: list[str] = []
        for spec in self._enterprise_specs():
            for record in mention_queries.pending_records(self.store, spec.key):
                record_ids.append(record["id"])
                period = record.get("period")
                period = intern(period) if type(period) is str else period
                for mention in mentions_of(spec, record):
                    keys = [mention_key(mention.id)]
                    sig = ft.signature(mention)
                    if sig:
                        keys.append(intern(name_key(sig)))  # a name in a town recurs on many records
                    pending.append(_Pending(mention, period, keys))
        summary.records = len(record_ids)
        summary.mentions = len(pending)
        return pending, record_ids

    # --- deterministic evidence -------------------------------------------------------------------

    def _deterministic(self, item: _Pending) -> _Decision | None:
        split_from = self.book.split_from(item.keys[:1])
        if split_from is not None:
            split_off = provisional_id(item.mention.id)
            if split_off in self.index.redirects and split_off not in self.book.merges:
                # split again after an undo: the split-off enterprise stands on its own once more
                del self.index.redirects[split_off]
                canonical_queries.remove_redirect(self.store, split_off)
            return _Decision(self.index.ensure(split_off), "split")
        linked = self.book.link_for(item.keys)
        if linked is not None:
            return _Decision(self.index.ensure(linked), "steward", 1.0)
        code = item.mention.credit_code
        if code:
            target = self.index.ensure(credit_code_id(code))
            if not self.book.forbids(item.keys[:1], target):
                return _Decision(target, "credit_code", 1.0)
        return None

    def _by_codes(self, undecided: list[_Pending], learned: dict[str, str]) -> dict[str, _Decision]:
        """Organisation codes and remembered identifiers, once every coded mention has its enterprise."""
        keys = sorted({k for p in undecided for k in p.mention.identifiers})
        remembered = canonical_queries.identifier_links(self.store, keys) if keys else {}
        remembered |= learned
        out: dict[str, _Decision] = {}
        for item in undecided:
            org = item.mention.org_code
            target = None
            method = "org_code"
            if org and org in self.index.by_org:
                target = self.index.by_org[org]
            else:
                for key in item.mention.identifiers:
                    if key in remembered:
                        target, method = remembered[key], "identifier"
                        break
            if target is None and org:
                target = org_code_id(org)
            if target is not None:
                target = self.index.ensure(target)
                if not self.book.forbids(item.keys[:1], target):
                    out[item.mention.id] = _Decision(target, method, 1.0)
        return out

    def _apply_merges(self, summary: ResolveSummary) -> None:
        """Replay merge judgements whose redirect is missing (after a rerun from scratch)."""
        for loser, survivor in self.book.merges.items():
            if self.index.redirects.get(loser) != survivor and loser in self.index and survivor in self.index:
                self.index.redirects[loser] = survivor
                canonical_queries.set_redirect(self.store, loser, survivor)
                summary.merged += 1

    def _merge_provisional_into_new(self, summary: ResolveSummary) -> None:
        """An ``O-<org>`` enterprise merges into the ``E-<code>`` that arrived carrying its org code."""
        for eid in sorted(self.index.created):
            if not eid.startswith("E-"):
                continue
            org = self.index.props[eid].get("org_code")
            loser = org_code_id(org) if org else None
            if loser and loser in self.index and loser not in self.index.redirects:
                if self.book.merges.get(loser) == eid:  # decided before (a run that was rolled back)
                    self.index.redirects[loser] = eid
                    canonical_queries.set_redirect(self.store, loser, eid)
                    continue
                self._system_merge(
                    loser, eid, f"组织机构代码 {org} 与统一社会信用代码一致 (org code inside credit code)"
                )
                summary.merged += 1

    def _system_merge(self, loser: str, survivor: str, reason: str) -> None:
        judgement = Judgement.new("merge", loser, survivor, SYSTEM_USER, reason)
        judgement_queries.save_judgement(self.store, judgement.props())
        self.book.merges[loser] = survivor
        self.index.redirects[loser] = survivor
        self.index.touched.add(survivor)
        canonical_queries.set_redirect(self.store, loser, survivor)
        mention_queries.mark_pending(self.store, mention_queries.records_of_enterprises(self.store, [loser]))

    # --- probabilistic matching -------------------------------------------------------------------

    def _model(
        self,
        pending: list[_Pending],
        undecided: list[_Pending],
        decided: dict[str, _Decision],
        retrain: bool,
        summary: ResolveSummary,
    ) -> MatchModel | None:
        """The matcher, if this run needs one: trained when there is none, on ``--retrain``, and
        when labels have grown well past what it was trained on (coded records, steward links)."""
        to_match = [p for p in undecided if p.mention.name]
        if not to_match:
            return None  # coded records need no model at all
        if self.model_path.exists() and not retrain:
            saved = MatchModel.from_json(
                self.model_path.read_text(encoding="utf-8"), threads=self.threads, scorer=self.scorer
            )
            # counted cheaply (names per enterprise), not built: most runs keep the saved model
            labels = {
                (p.mention.name, decided[p.mention.id].enterprise_id)
                for p in pending
                if p.mention.name
                and p.mention.id in decided
                and decided[p.mention.id].method in {"credit_code", "org_code"}
            }
            if not _outgrown(saved, len(labels) + len(self.book.name_links())):
                summary.training = f"matcher reused ({self.model_path.name}; --retrain to train anew)"
                return saved
            saved.close()
        labelled = self._labelled_rows(pending, decided)
        enterprises = self._right_rows()
        unlabelled, _ = self._profiles(to_match)
        self.progress("training the matcher")
        model = MatchModel(self.match_settings, threads=self.threads, scorer=self.scorer)
        try:
            report = model.train(
                ft.to_table(labelled),
                enterprises=ft.to_table(enterprises),
                unlabelled=ft.to_table(unlabelled),
            )
        except ValueError as exc:  # too little of anything to learn from: a tiny or empty city
            model.close()
            summary.training = f"matcher not trained ({exc}); exact names link, the rest wait"
            log.warning("%s", summary.training)
            return None
        self.model_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.model_path.with_suffix(".tmp")
        tmp.write_text(model.to_json(), encoding="utf-8")
        tmp.replace(self.model_path)
        summary.trained = True
        summary.training = report.line()
        return model

    def _labelled_rows(self, pending: list[_Pending], decided: dict[str, _Decision]) -> list[dict[str, Any]]:
        """Free labels: mentions a code decided, and names a steward linked (one row per profile)."""
        rows: dict[str, dict[str, Any]] = {}
        for item in pending:
            decision = decided.get(item.mention.id)
            if (
                decision is None
                or decision.method not in {"credit_code", "org_code"}
                or not item.mention.name
            ):
                continue
            features = ft.mention_features(item.mention)
            target = self.index.resolve_id(decision.enterprise_id)
            key = f"L{ft.profile_id(features)}:{target}"
            rows.setdefault(key, {**features, "unique_id": key, "enterprise_id": target})
        for key, target in self.book.name_links().items():
            name, _, town = key.partition("|")
            features = {**ft.name_features(name), "town": town or None}
            uid = f"J{ft.profile_id(features)}:{target}"
            rows.setdefault(
                uid, {**features, "unique_id": uid, "enterprise_id": self.index.resolve_id(target)}
            )
        return list(rows.values())

    def _learn_fidelity(self, pending: list[_Pending], decided: dict[str, _Decision]) -> None:
        """Start this run's lesson on how each dataset writes names: from its records linked by a code
        (credit, organisation or a remembered identifier), against the name another dataset gave the
        enterprise, so the register does not grade itself. ``_match`` adds the records whose core only
        one registered enterprise has, then ``_settle_fidelity`` learns from all of them."""
        self._fidelity_seen: list[tuple[str, str, str]] = []
        self._parts_cache: dict[str, tuple[str | None, str | None]] = {}  # golden names change per run
        for item in pending:
            decision = decided.get(item.mention.id)
            if decision is None or decision.method not in CODE_METHODS or not item.mention.name:
                continue
            parts = parse_name(item.mention.name)
            if parts is not None:
                self._observe_name(item, (parts.region_code, parts.legal_form), decision.enterprise_id)
        self.fidelity = NameFidelity.load(self._fidelity_path)
        self._learn_sound_alike(pending, decided)

    def _learn_sound_alike(self, pending: list[_Pending], decided: dict[str, _Decision]) -> None:
        """Count how often a coded record written like no registered name, and sounding like exactly
        one, was that enterprise (resolution/sound_alike.py)."""
        self.sound = SoundIndex(
            (props, target) for props, target in self.index.matchable() if not target.startswith("P-")
        )
        path = self.model_path.with_name("sound-alike.json")
        self.sound_tally = SoundAlikeTally.load(path)
        outcomes = []
        for item in pending:
            decision = decided.get(item.mention.id)
            if decision is None or decision.method not in CODE_METHODS:
                continue
            owner = self.sound.only_sound_alike(item.mention.name)
            if owner is not None:
                outcomes.append(owner == self.index.resolve_id(decision.enterprise_id))
        if outcomes:
            self.sound_tally.learn(outcomes)
            self.sound_tally.save(path)

    def _observe_name(self, item: _Pending, written: Parts, enterprise_id: str) -> None:
        target = self.index.resolve_id(enterprise_id)
        golden = self.index.golden.get(target)
        source = golden.sources.get("name") if golden else None
        if source is None or source.dataset == item.mention.dataset:
            return
        registered = self._registered_parts(target)
        self._fidelity_seen += fidelity_observations(item.mention.dataset, written, registered)

    def _former_rows(
        self, members: dict[str, list[_Pending]]
    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
        """A row per former name (曾用名) a mention gives, scored beside its own: a feed that writes an
        enterprise's new name with the old one finds it in a register that still has the old.
        Returns the rows and, per mention giving former names, the ids of their rows."""
        rows: dict[str, dict[str, Any]] = {}
        aliases: dict[str, list[str]] = defaultdict(list)
        for items in members.values():
            for item in items:
                for former in ft.former_names(item.mention):
                    features = {**ft.mention_features(item.mention), **ft.name_features(former)}
                    alias = "F" + ft.profile_id(features)  # never a mention profile's own id
                    aliases[item.mention.id].append(alias)
                    rows[alias] = {**features, "unique_id": alias}
        return list(rows.values()), aliases

    def _learn_from_unique_cores(
        self,
        members: dict[str, list[_Pending]],
        cores: dict[str, Any],
        written: dict[str, Parts],
        owners: dict[str, set[str]],
    ) -> None:
        """A core only one registered enterprise has names it whatever the region and legal form: how
        the department wrote those is the lesson for the cores several enterprises share."""
        for pid, items in members.items():
            found = owners.get(cores.get(pid) or "", ())
            if len(found) == 1:
                (target,) = found
                for item in items:
                    if self._allowed(item, target):
                        self._observe_name(item, written[pid], target)
        self._settle_fidelity()

    def _settle_fidelity(self) -> None:
        if self._fidelity_seen:
            self.fidelity.learn(self._fidelity_seen)
            self.fidelity.save(self._fidelity_path)
            self._fidelity_seen = []

    @property
    def _fidelity_path(self) -> Path:
        return self.model_path.with_name("name-fidelity.json")

    def _by_exact_name(self, undecided: list[_Pending], decided: dict[str, _Decision]) -> None:
        """Without a matcher, a name written exactly as one (and only one) enterprise's links to it."""
        owners: dict[str, set[str]] = defaultdict(set)
        for props, target in self.index.matchable():
            for name in (props.get("name"), *(props.get("names") or [])):
                parts = parse_name(name) if name else None
                if parts and parts.normalised:
                    owners[parts.normalised].add(target)
        for item in undecided:
            parts = parse_name(item.mention.name) if item.mention.name else None
            found = owners.get(parts.normalised, set()) if parts else set()
            if len(found) == 1:
                target = next(iter(found))
                if self._allowed(item, target):
                    decided[item.mention.id] = _Decision(target, "exact_name", 1.0)

    def _right_rows(self) -> list[dict[str, Any]]:
        return [row for props, target in self.index.matchable() for row in ft.enterprise_rows(props, target)]

    def _profiles(self, items: list[_Pending]) -> tuple[list[dict[str, Any]], dict[str, list[_Pending]]]:
        rows: dict[str, dict[str, Any]] = {}
        members: dict[str, list[_Pending]] = defaultdict(list)
        for item in items:
            features = ft.mention_features(item.mention)
            pid = ft.profile_id(features)
            rows.setdefault(pid, {**features, "unique_id": pid})
            members[pid].append(item)
        return list(rows.values()), members

    def _match(
        self,
        undecided: list[_Pending],
        model: MatchModel | None,
        decided: dict[str, _Decision],
        summary: ResolveSummary | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Score code-less mentions; link, or open a task. Returns mention id -> task row."""
        todo = [p for p in undecided if p.mention.name and p.mention.id not in decided]
        if not todo or model is None:
            return {}
        left, members = self._profiles(todo)
        right = self._right_rows()
        # core -> registered enterprises known by a name with it. Provisional ones (known by a name
        # no code vouches for, often a registered one's that earlier evidence could not place) are
        # no rivals: otherwise every monthly run would find more shared cores than the first.
        owners: dict[str, set[str]] = defaultdict(set)
        # Keyed by core and branch marker: two 支行 of one bank share a core, and the branch marker
        # (西园支行 / 青阳支行) that tells them apart is a veto in the matcher already.
        for row in right:
            if row.get("name_core") and not row["enterprise_id"].startswith("P-"):
                owners[_core_key(row)].add(row["enterprise_id"])
        cores = {row["unique_id"]: row.get("name_core") and _core_key(row) for row in left}
        written = {row["unique_id"]: (row.get("region"), row.get("legal_form")) for row in left}
        self._learn_from_unique_cores(members, cores, written, owners)
        former_rows, aliases = self._former_rows(members)
        for row in former_rows:
            cores[row["unique_id"]] = row.get("name_core") and _core_key(row)
            written[row["unique_id"]] = (row.get("region"), row.get("legal_form"))
        by_profile: dict[str, list[Candidate]] = defaultdict(list)
        for candidate in model.score(ft.to_table([*left, *former_rows]), ft.to_table(right)):
            by_profile[candidate.mention_id].append(candidate)
        tasks: dict[str, dict[str, Any]] = {}
        for pid, items in members.items():
            candidates = sorted(by_profile.get(pid, []), key=lambda c: -c.match_weight)
            for item in items:
                own = aliases.get(item.mention.id)
                scored = _with_former(candidates, own, by_profile) if own else candidates
                if scored:
                    self._decide(item, scored, cores, written, owners, decided, tasks, summary)
        return tasks

    def _decide(
        self,
        item: _Pending,
        candidates: list[Candidate],
        cores: dict[str, Any],
        written: dict[str, Parts],
        owners: dict[str, set[str]],
        decided: dict[str, _Decision],
        tasks: dict[str, dict[str, Any]],
        summary: ResolveSummary | None,
    ) -> None:
        """One mention's outcome from its scored candidates: a link, a steward task, or nothing."""
        allowed = [c for c in candidates if self._allowed(item, c.enterprise_id)]
        if not allowed:
            return
        row = allowed[0].mention_id  # the mention's own row, or its former name's
        apart = separation(
            allowed[0],
            allowed,
            cores.get(row),
            owners,
            written[row],
            self._registered_parts,
            self.fidelity,
            item.mention.dataset,
            lambda eid: self._allowed(item, eid),
        )
        if apart is not None and apart.winner != allowed[0].enterprise_id:
            # the department's habits rank same-core candidates the matcher could not
            allowed.sort(key=lambda c: c.enterprise_id != apart.winner)
        decision = self._band(allowed, apart) or self._sound_alike(item, allowed)
        if decision is not None:
            decided[item.mention.id] = decision
        elif allowed[0].match_probability >= self.bands.review:
            tasks[item.mention.id] = self._task_row(item, allowed[:3], apart)
            if summary is not None and apart is not None and allowed[0].match_probability >= self.bands.link:
                summary.shared_core_tasks += 1

    def _allowed(self, item: _Pending, enterprise_id: str) -> bool:
        target = self.index.resolve_id(enterprise_id)
        if self.book.forbids(item.keys, target):
            return False
        # A branch is never its parent (nor a parent its branch): names must agree on being a branch.
        mention_parts = parse_name(item.mention.name)
        props = self.index.props.get(target, {})
        target_parts = parse_name(props.get("name") or next(iter(props.get("names") or []), ""))
        if mention_parts and target_parts:
            return (mention_parts.branch is None) == (target_parts.branch is None)
        return True

    def _band(self, candidates: list[Candidate], apart: Separation | None = None) -> _Decision | None:
        if not candidates:
            return None
        best = candidates[0]
        separated = apart is None or apart.separated(self.bands.shared_core_bits)
        # same-core rivals the separation already ruled out are no runners-up
        beaten = apart.rivals if apart is not None and separated else frozenset()
        runner_up = next(
            (
                c
                for c in candidates[1:]
                if c.enterprise_id != best.enterprise_id and c.enterprise_id not in beaten
            ),
            None,
        )
        clear = runner_up is None or best.match_weight - runner_up.match_weight >= self.bands.ambiguity_weight
        if best.match_probability >= self.bands.link and clear and separated:
            steps = [list(step) for step in best.explanation]
            if apart is not None:
                steps.append(list(apart.step(self.bands.shared_core_bits)))
            return _Decision(
                self.index.resolve_id(best.enterprise_id), "splink", best.match_probability, _json(steps)
            )
        return None

    def _sound_alike(self, item: _Pending, candidates: list[Candidate]) -> _Decision | None:
        """Link a name written like no registered enterprise and sounding like exactly one, the best
        candidate, when coded records say such names are it often enough and nothing else competes."""
        best = candidates[0]
        target = self.index.resolve_id(best.enterprise_id)
        precision = self.sound_tally.precision
        if (
            precision is None
            or precision < self.bands.link
            or self.sound.only_sound_alike(item.mention.name) != target
            or other_evidence(best.explanation) < 0  # a phone, person, town... says someone else
        ):
            return None
        resolve = self.index.resolve_id
        runner_up = next((c for c in candidates[1:] if resolve(c.enterprise_id) != target), None)
        if runner_up is not None and best.match_weight - runner_up.match_weight < self.bands.ambiguity_weight:
            return None
        steps = [list(step) for step in best.explanation] + [list(self.sound_tally.step())]
        return _Decision(target, "splink", precision, _json(steps))

    def _task_row(
        self, item: _Pending, candidates: list[Candidate], apart: Separation | None = None
    ) -> dict[str, Any]:
        shared = [list(apart.step(self.bands.shared_core_bits))] if apart is not None else []
        return {
            "key": item.keys[-1],
            "mention_id": item.mention.id,
            "record_id": item.mention.record_id,
            "dataset": item.mention.dataset,
            # a record that names no town goes to the town of its likeliest enterprise for verification
            "town": item.mention.attributes.get("town") or self._town_of(candidates[0].enterprise_id),
            "name": item.mention.name,
            "candidates": [
                {
                    "enterprise_id": self.index.resolve_id(c.enterprise_id),
                    "probability": c.match_probability,
                    "match_weight": c.match_weight,
                    "explanation": [list(step) for step in c.explanation] + (shared if k == 0 else []),
                }
                for k, c in enumerate(candidates)
            ],
            "parked": any(self.book.parked(item.keys, c.enterprise_id) for c in candidates),
        }

    def _registered_parts(self, enterprise_id: str) -> tuple[str | None, str | None]:
        """Region code and legal form of an enterprise's registered (golden) name, parsed once."""
        cache = self._parts_cache
        if enterprise_id not in cache:
            target = self.index.resolve_id(enterprise_id)
            golden = self.index.golden.get(target)
            name = (golden.values.get("name") if golden else None) or self.index.props.get(target, {}).get(
                "name"
            )
            parts = parse_name(name) if name else None
            cache[enterprise_id] = (parts.region_code, parts.legal_form) if parts else (None, None)
        return cache[enterprise_id]

    def _town_of(self, enterprise_id: str) -> str | None:
        target = self.index.resolve_id(enterprise_id)
        golden = self.index.golden.get(target)
        town = golden.values.get("town") if golden else None
        return town or self.index.props.get(target, {}).get("town")

    def _provisional(
        self, leftovers: list[_Pending], model: MatchModel | None, decided: dict[str, _Decision]
    ) -> None:
        """Cluster mentions nobody matched into provisional enterprises (ids from their first mention)."""
        if not leftovers:
            return
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.get(x, x) != x:
                parent[x] = parent.get(parent[x], parent[x])
                x = parent[x]
            return x

        named = [p for p in leftovers if p.mention.name]
        left, members = self._profiles(named)
        if model is not None and len(left) > 1:
            right = [{**row, "enterprise_id": row["unique_id"]} for row in left]
            for c in model.score(ft.to_table(left), ft.to_table(right)):
                if c.mention_id != c.enterprise_id and c.match_probability >= self.bands.link:
                    a, b = find(c.mention_id), find(c.enterprise_id)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        clusters: dict[str, list[_Pending]] = defaultdict(list)
        for pid, items in members.items():
            clusters[find(pid)].extend(items)
        for item in leftovers:
            if not item.mention.name:
                clusters[f"unnamed:{item.mention.id}"].append(item)
        for items in clusters.values():
            first = min(items, key=lambda p: p.mention.id)
            eid = self.index.ensure(provisional_id(first.mention.id))
            for item in items:
                decided[item.mention.id] = _Decision(eid, "provisional")

    def _offer(self, items: list[_Pending], decided: dict[str, _Decision]) -> None:
        """Let each decided mention update its enterprise's golden record (once per run)."""
        self.index.read_whole(
            self.store,
            (
                self.index.resolve_id(decided[item.mention.id].enterprise_id)
                for item in items
                if item.mention.id in decided and item.mention.id not in self._offered
            ),
        )
        for item in items:
            decision = decided.get(item.mention.id)
            if decision is None or item.mention.id in self._offered:
                continue
            self._offered.add(item.mention.id)
            target = self.index.resolve_id(decision.enterprise_id)
            source = source_of(item.mention, item.period, self.source_priority)
            self.index.offer(target, item.mention, source, decision.method in TRUSTED_METHODS)

    # --- writing ----------------------------------------------------------------------------------

    def _write(
        self,
        pending: list[_Pending],
        decided: dict[str, _Decision],
        tasks: dict[str, dict[str, Any]],
        record_ids: list[str],
        summary: ResolveSummary,
    ) -> None:
        learned: list[dict[str, str]] = []

        def links() -> Iterable[dict[str, Any]]:
            """One row per mention, made as write_links sends them (a run's links are not all held)."""
            for item in pending:
                decision = decided.get(item.mention.id)
                mention = item.mention
                if decision is None:
                    yield {"record_id": mention.record_id, "party": mention.party, "enterprise_id": None}
                    continue
                target = self.index.resolve_id(decision.enterprise_id)
                summary.methods[decision.method] += 1
                yield {
                    "record_id": mention.record_id,
                    "party": mention.party,
                    "enterprise_id": target,
                    "method": decision.method,
                    "probability": decision.probability,
                    "relation": mention.relation,
                    "explanation": decision.explanation,
                }
                # Only codes teach identifiers: a steward's decision can be undone, a code cannot.
                if decision.method in {"credit_code", "org_code"}:
                    learned.extend({"key": key, "enterprise_id": target} for key in mention.identifiers)

        summary.enterprises_created = len(self.index.created)
        summary.enterprises_coded = sum(1 for eid in self.index.created if not eid.startswith("P-"))
        enterprise_rows = self.index.rows_to_write()
        canonical_queries.upsert_enterprises(self.store, enterprise_rows)
        canonical_queries.set_legal_representatives(
            self.store,
            [
                {"enterprise": row["id"], "name": rep, "key": f"{rep}|{row['id']}"}
                for row in enterprise_rows
                if (rep := row["props"].get("legal_rep"))
            ],
        )
        self._branch_links()
        canonical_queries.set_registration_regions(
            self.store,
            [
                {"enterprise": eid, "region": region, "division": self.index.props[eid]["division"]}
                for eid in sorted(self.index.created)
                if (region := division_name(self.index.props[eid].get("division")))
            ],
        )
        mention_queries.write_links(
            self.store, links(), self.now
        )  # counts methods and fills `learned` as it goes
        canonical_queries.remember_identifiers(self.store, learned)
        task_rows = _group_tasks(tasks.values(), self.now, StakeTable.load(self.catalog))
        task_queries.upsert_tasks(self.store, task_rows)
        summary.tasks = sum(row["props"]["impact"] for row in task_rows)
        summary.task_groups = len(task_rows)
        # A task closes when every mention of its key is decided (by a steward, or by new evidence).
        self._settle_tasks(pending, decided)
        mention_queries.mark_resolved(self.store, record_ids)
        if name_memo.size() > self._parses_before:  # new names: next month need not parse them again
            name_memo.save(self._memo_path)

    def _settle_tasks(self, pending: list[_Pending], decided: dict[str, _Decision]) -> None:
        """Take the mentions this run decided (by a steward, or by new evidence) out of the open tasks
        they were in; a task closes once none is left, not when one of its records is decided (a
        record-level decision, or one for the records a steward may see, leaves the others waiting)."""
        existing = task_queries.open_task_ids(self.store)
        settled: dict[str, list[str]] = defaultdict(list)
        for item in pending:
            if item.mention.id in decided:
                for key in item.keys:
                    task_id = _task_id(key)
                    if task_id in existing:
                        settled[task_id].append(item.mention.id)
        rows = [{"id": task_id, "decided": ids} for task_id, ids in sorted(settled.items())]
        task_queries.settle_tasks(self.store, rows, "resolved", self.now)

    def _branch_links(self) -> None:
        rows = []
        for eid in sorted(self.index.touched):
            props = self.index.props[eid]
            parts = parse_name(props.get("name")) if props.get("name") else None
            parent = parent_name(parts) if parts and parts.branch else None
            parent_id = self.index.by_name.get(parent) if parent else None
            if parent_id and parent_id != eid:
                rows.append({"branch": eid, "parent": self.index.resolve_id(parent_id)})
        canonical_queries.set_branch_links(self.store, rows)


def _with_former(
    own: list[Candidate], aliases: Iterable[str], by_profile: dict[str, list[Candidate]]
) -> list[Candidate]:
    """A mention's candidates by its own name and by its former names: per enterprise the better one
    (a former name's saying so in its explanation), best first."""
    best = {c.enterprise_id: c for c in own}
    for alias in aliases:
        for c in by_profile.get(alias, ()):
            if c.enterprise_id not in best or c.match_weight > best[c.enterprise_id].match_weight:
                step = ("former name", "matched by the former name the record gives (曾用名)", 0.0)
                best[c.enterprise_id] = replace(c, explanation=[*c.explanation, step])
    return sorted(best.values(), key=lambda c: -c.match_weight)


def _core_key(row: dict[str, Any]) -> str:
    """What same-core rivals share: the name's core and its branch marker (none for a head office)."""
    return f"{row['name_core']}|{row.get('branch') or ''}"


def _outgrown(model: MatchModel, labelled_rows: int) -> bool:
    """Retrain when labels arrived that the saved model never had: the first ones after a cold start,
    or four times as many as it was trained on. Models saved before training was reported are kept."""
    report = model.training
    if report is None:
        return False
    if "labels" not in report.m_sources:
        return labelled_rows >= 50
    return labelled_rows >= max(200, 4 * report.labelled_rows)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _age_seconds(started_at: str | None) -> float:
    try:
        started = dt.datetime.fromisoformat(str(started_at))
    except ValueError:
        return float("inf")
    return (dt.datetime.now(dt.UTC) - started).total_seconds()


def _task_id(key: str) -> str:
    return "T-" + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _group_tasks(tasks: Iterable[dict[str, Any]], now: str, stakes: Any = None) -> list[dict[str, Any]]:
    """One task per mention key (a name in a town): deciding it settles every record that writes it.

    Each task is weighed by what is at stake (``resolution/stake.py``): its records' datasets' weights
    (``stakes``, a ``StakeTable``; by default the packaged table over the built-in catalog), one
    ``<record id>|<category>|<weight>`` entry per record, summed by ``task_queries.upsert_tasks`` over
    the runs.
    """
    from entgraph.resolution.stake import default_table, stake_of

    table = stakes if stakes is not None else default_table()
    grouped: dict[str, dict[str, Any]] = {}
    sources: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for task in tasks:
        row = grouped.get(task["key"])
        if row is None:
            row = grouped[task["key"]] = {
                "id": _task_id(task["key"]),
                "props": {
                    "mention_key": task["key"],
                    "name": task["name"],
                    "town": task["town"],
                    "datasets": [],
                    "mention_ids": [],
                    "record_ids": [],
                    "candidates": task["candidates"],
                    "status": "unsure" if task["parked"] else "open",
                    "created_at": now,
                },
            }
        props = row["props"]
        props["mention_ids"].append(task["mention_id"])
        props["record_ids"].append(task["record_id"])
        sources[task["key"]].append((task["record_id"], task["dataset"]))
        if task["dataset"] not in props["datasets"]:
            props["datasets"].append(task["dataset"])
    for key, row in grouped.items():
        props = row["props"]
        props["impact"] = len(props["mention_ids"])
        props["candidates"] = _json(props["candidates"])
        props["stake_records"] = table.entries(sources[key])
        props["stake"] = stake_of(props["stake_records"])
    return list(grouped.values())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
