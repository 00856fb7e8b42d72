"""How faithfully each department writes registered names: learned from its coded records.

Departments keep or drop an enterprise's region prefix and legal form by habit (a tax register
copies the registered name; a power company writes 恒达鞋业 or 恒达(晋江)鞋业有限公司). When several
enterprises share a name's core (字号 + industry words: 晋江市恒达鞋业有限公司, 泉州恒达鞋业股份有限公司),
only the region and legal form tell them apart, and they are worth exactly as much as the department
is faithful to them. This module learns, per dataset, the share of its coded records (whose
enterprise is known by their credit code) that write the registered name exactly, and turns it into
the match weight an exact full name earns against a same-core competitor:

    bits = log2( k / ((1 - k) * r) )

k: the dataset's faithful share (smoothed); r: the chance that an unfaithful rewrite of another
enterprise's name lands exactly on this one's (about one of the ways a name is rewritten). A dataset
never seen with codes earns nothing: its full names separate no one until evidence says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MIN_OBSERVED = 30  # coded records of a dataset before its habit is trusted
REWRITE_HITS = 1 / 3  # r above
MAX_BITS = 10.0  # a faithful register still misspells once in a while


@dataclass
class NameFidelity:
    """Per dataset: (records writing the registered name exactly, records compared)."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> NameFidelity:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls({k: (int(v[0]), int(v[1])) for k, v in raw.items()})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.counts, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)

    def learn(self, observations: Iterable[tuple[str, bool]]) -> None:
        """Replace each observed dataset's counts by this run's (``(dataset, exact)`` pairs), when
        the run saw enough of it; a rerun of the same records therefore counts nothing twice."""
        fresh: dict[str, list[int]] = {}
        for dataset, exact in observations:
            tally = fresh.setdefault(dataset, [0, 0])
            tally[0] += int(exact)
            tally[1] += 1
        for dataset, (exact, total) in fresh.items():
            if total >= MIN_OBSERVED or dataset not in self.counts:
                self.counts[dataset] = (exact, total)

    def rate(self, dataset: str) -> float | None:
        exact, total = self.counts.get(dataset, (0, 0))
        if total < MIN_OBSERVED:
            return None
        return (exact + 1) / (total + 2)

    def full_name_bits(self, dataset: str) -> float:
        """Weight of "the mention writes this enterprise's full name" against a same-core rival."""
        k = self.rate(dataset)
        if k is None:
            return 0.0
        return max(0.0, min(MAX_BITS, math.log2(k / ((1 - k) * REWRITE_HITS))))

    def summary(self) -> Mapping[str, float]:
        return {d: round(r, 3) for d in sorted(self.counts) if (r := self.rate(d)) is not None}
