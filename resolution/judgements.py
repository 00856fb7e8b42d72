"""Steward judgements as first-class data, and their replay.

A judgement is what a person decided, kept forever (an undo marks it undone, it is never deleted):

* ``link``   subject (a mention key) IS enterprise ``object``          (accept; link to another)
* ``reject`` subject is NOT enterprise ``object``                      (never proposed again)
* ``unsure`` the steward could not tell; the task is parked, nothing is linked
* ``merge``  enterprise ``subject`` is the same as ``object`` (the survivor); subject redirects to it,
  and the records linked to it then (``carried``: their mentions) are the survivor's
* ``split``  mention ``subject`` is not ``object`` and stands as its own enterprise
* ``meter``  meter ``subject`` (``meter:<key>``) measures exactly ``enterprises`` (``object``: the first
  of them, or empty) — the meter registry's (``telemetry/meter_registry.py``), which replays it; the
  resolver has nothing to replay in it

Mention keys are ``mention:<record id>|<party>`` for one record, or ``name:<normalised name>|<town>``
for every record that writes that name in that town, so a decision about a name also settles next
month's rows. A ``link``, ``reject`` or ``unsure`` judgement may instead be scoped to some mentions
(``mentions``: ``<record id>|<party>`` ids): it is then a decision about each of them alone, as if made
under its ``mention:`` key, and settles no other record of the name (a steward deciding a task for the
records it may see, ``resolution/steward.py``). The resolver replays the active judgements on every run:
nothing a steward decided is ever undone by new data, retraining or a rerun from scratch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["link", "reject", "unsure", "merge", "split", "meter"]
KINDS: tuple[str, ...] = ("link", "reject", "unsure", "merge", "split", "meter")


@dataclass(frozen=True, slots=True)
class Judgement:
    id: str
    kind: str
    subject: str
    object: str
    user: str
    at: str
    reason: str = ""
    task: str = ""

    @classmethod
    def new(
        cls, kind: Kind, subject: str, obj: str, user: str, reason: str = "", task: str = ""
    ) -> Judgement:
        if kind not in KINDS:
            raise ValueError(f"unknown judgement kind {kind!r}")
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        return cls(f"J-{uuid.uuid4().hex[:16]}", kind, subject, obj, user, at, reason, task)

    def props(self) -> dict[str, Any]:
        return asdict(self)


def mention_key(mention_id: str) -> str:
    return f"mention:{mention_id}"


def name_key(signature: str) -> str:
    return f"name:{signature}"


# Kinds that may be scoped to some of their subject's mentions (merges are about enterprises, splits
# about one mention already).
_SCOPED_KINDS = ("link", "reject", "unsure")


class JudgementBook:
    """Active judgements, indexed for replay. Later judgements on the same subject win."""

    def __init__(self, judgements: Iterable[Mapping[str, Any]] = ()) -> None:
        self.links: dict[str, str] = {}
        self.negatives: set[tuple[str, str]] = set()
        self.unsure: set[tuple[str, str]] = set()
        self.merges: dict[str, str] = {}
        self.splits: dict[str, str] = {}
        self._rejected: dict[str, set[str]] | None = None
        for row in sorted(judgements, key=lambda j: j["at"]):
            self._apply(row)

    def _apply(self, j: Mapping[str, Any]) -> None:
        kind, obj = j["kind"], j["object"]
        # A judgement scoped to some mentions (``mentions``: a steward deciding a task for the records
        # it may see) is a decision about each of them, as a record-level judgement would be.
        scope = j.get("mentions") if kind in _SCOPED_KINDS else None
        for subject in [mention_key(m) for m in scope] if scope else [j["subject"]]:
            self._apply_to(kind, subject, obj)
        if kind == "merge":  # the loser's records at the time go with it (``carried``, their mentions)
            for mention in j.get("carried") or ():
                self._apply_to("link", mention_key(mention), obj)

    def _apply_to(self, kind: str, subject: str, obj: str) -> None:
        if kind == "link":
            self.links[subject] = obj
            self.negatives.discard((subject, obj))
        elif kind == "reject":
            self.negatives.add((subject, obj))
            if self.links.get(subject) == obj:
                del self.links[subject]
        elif kind == "unsure":
            self.unsure.add((subject, obj))
        elif kind == "merge":
            self.merges[subject] = obj
        elif kind == "split":
            self.splits[subject] = obj
            self.negatives.add((subject, obj))
            if self.links.get(subject) == obj:
                del self.links[subject]

    def canonical(self, enterprise_id: str) -> str:
        """Follow merges to the surviving id (cycles cannot form: a merge into a loser is refused)."""
        seen = set()
        while enterprise_id in self.merges and enterprise_id not in seen:
            seen.add(enterprise_id)
            enterprise_id = self.merges[enterprise_id]
        return enterprise_id

    def link_for(self, keys: Sequence[str]) -> str | None:
        """The enterprise a steward linked this mention to (record-level decisions first)."""
        for key in keys:
            if key in self.links:
                return self.canonical(self.links[key])
        return None

    def name_links(self) -> dict[str, str]:
        """Names (``normalised name|town``) a steward linked, with their enterprise: training labels."""
        prefix = name_key("")
        return {
            k.removeprefix(prefix): self.canonical(e) for k, e in self.links.items() if k.startswith(prefix)
        }

    def split_from(self, keys: Sequence[str]) -> str | None:
        for key in keys:
            if key in self.splits:
                return self.splits[key]
        return None

    def forbids(self, keys: Sequence[str], enterprise_id: str) -> bool:
        """Was this mention rejected from this enterprise (or from one since merged into it)?"""
        target = self.canonical(enterprise_id)
        rejected = self._rejected_by_key()
        return any(
            enterprise_id in rejected.get(key, ())
            or target in {self.canonical(e) for e in rejected.get(key, ())}
            for key in keys
        )

    def _rejected_by_key(self) -> dict[str, set[str]]:
        if self._rejected is None:
            self._rejected = {}
            for key, enterprise_id in self.negatives:
                self._rejected.setdefault(key, set()).add(enterprise_id)
        return self._rejected

    def parked(self, keys: Sequence[str], enterprise_id: str) -> bool:
        return any((key, enterprise_id) in self.unsure for key in keys)
