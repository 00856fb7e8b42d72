"""Names that sound like exactly one registered enterprise: slips of the pinyin input method.

A name written like no registered enterprise but sounding like exactly one is a slip of the pinyin
input method (华达 typed 化达, 荣鑫 typed 容鑫), linked when the city's coded records say such names are that
enterprise often enough.

The matcher weighs "same core pinyin" as an average over random pairs: in a city where one core in
twelve has a sound-alike twin (鑫荣织造 / 信荣织造), that is worth about ten bits, and a record giving
nothing but such a name stays below the link band. The situation here is narrower and says more: no
registered name has the written core, and exactly one registered enterprise has a core that sounds like
it. How often such a record is that enterprise is not assumed but counted, on the records whose
enterprise a code names (``SoundAlikeTally``), and the rule links only when that share clears the link
band. Only registered names (the golden name and former names, not variants learned from records)
define "written like" and "sounds like", on both sides of the count, so a record's own spelling never
vouches for itself.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entgraph.identity.chinese_names import NameParts, core_pinyin, parse_name

MIN_SEEN = 30  # coded records in the situation before the tally is trusted at all
STEP = "sound-alike"
# explanation steps about the name itself (the rule's subject) and the prior; the rest is other evidence
_NAME_STEPS = frozenset({"prior", "name", "trade_name", "trade_name (tf)", "legal_form", "region", "branch"})


def other_evidence(explanation: Iterable[tuple[str, str, float]]) -> float:
    """The match weight of everything but the name: below zero, a phone, person, town or address
    points to someone else."""
    return sum(weight for column, _, weight in explanation if column not in _NAME_STEPS)


def _keys(parts: NameParts | None) -> tuple[str, str] | None:
    """(written core, sounded core), each with the branch marker: a branch is never its parent."""
    if parts is None or not parts.core:
        return None
    branch = parts.branch or ""
    return f"{parts.core}|{branch}", f"{core_pinyin(parts)}|{branch}"


class SoundIndex:
    """Registered enterprises by the cores their registered names are written with and sound like."""

    def __init__(self, registered: Iterable[tuple[Mapping[str, Any], str]]) -> None:
        self.written: dict[str, set[str]] = defaultdict(set)
        self.sounds: dict[str, set[str]] = defaultdict(set)
        for props, enterprise_id in registered:
            for name in (props.get("name"), *(props.get("former_names") or [])):
                keys = _keys(parse_name(name)) if name else None
                if keys:
                    self.written[keys[0]].add(enterprise_id)
                    self.sounds[keys[1]].add(enterprise_id)

    def only_sound_alike(self, name: str | None) -> str | None:
        """The one registered enterprise a name sounds like, when none is written like it."""
        keys = _keys(parse_name(name)) if name else None
        if keys is None or self.written.get(keys[0]):
            return None
        owners = self.sounds.get(keys[1], ())
        return next(iter(owners)) if len(owners) == 1 else None


@dataclass
class SoundAlikeTally:
    """Coded records written like no registered name and sounding like exactly one: how many were it."""

    hits: int = 0
    seen: int = 0

    @classmethod
    def load(cls, path: Path) -> SoundAlikeTally:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(raw["hits"]), int(raw["seen"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()  # never learned, or a file of another shape: learn afresh

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"hits": self.hits, "seen": self.seen}), encoding="utf-8")
        tmp.replace(path)

    def learn(self, outcomes: Iterable[bool]) -> None:
        """One run's coded records replace the tally when there are enough of them (a rerun of the
        same records counts nothing twice)."""
        fresh = list(outcomes)
        if len(fresh) >= MIN_SEEN or not self.seen:
            self.hits, self.seen = sum(fresh), len(fresh)

    @property
    def precision(self) -> float | None:
        """The share of such records that were the sound-alike enterprise (Laplace-smoothed), or None
        while too few were seen to say."""
        if self.seen < MIN_SEEN:
            return None
        return (self.hits + 1) / (self.seen + 2)

    def step(self) -> tuple[str, str, float]:
        """The explanation entry of a link made by this rule."""
        p = self.precision or 0.0
        return (
            STEP,
            f"no registered name is written so and one sounds so: {self.hits} of {self.seen} coded "
            "records like it were that enterprise",
            math.log2(p / (1 - p)) if 0 < p < 1 else 0.0,
        )
