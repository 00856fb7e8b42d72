"""When a name fits several enterprises: link only if evidence other than the shared name separates one.

Registration forbids two enterprises of one region the same full name, not the same core: 晋江市恒达
鞋业有限公司, 泉州恒达鞋业有限公司 and 福建恒达鞋业股份有限公司 are three enterprises. A department that
writes 恒达鞋业 (or rewrites region and legal form by habit) names any of them, and a model scoring
each pair on its own is confident about all three, or about whichever kept the department's spelling.
So for a mention whose core is shared, the candidates are compared with each other on the evidence
that can tell them apart — phone, legal representative, contact person, address, a mistyped code,
town, industry — plus the region and legal form the mention wrote or left out, each worth as much as the
mention's department is known to keep, drop or add them (``NameFidelity``: a department that swaps
legal forms tells nothing by writing one). The best must lead every other enterprise sharing the core by
``required`` bits (6.64 bits: 99 to 1), or the mention goes to a steward with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from entgraph.resolution.fidelity import NameFidelity, Parts
from entgraph.resolution.matching import Candidate

# Comparisons (and their term-frequency adjustments) that can tell same-core enterprises apart.
SEPARATING = frozenset(
    {
        "phone",
        "phone (tf)",
        "legal_rep",
        "legal_rep (tf)",
        "contact",
        "address",
        "code_hint",
        "town",
        "industry",
    }
)
REQUIRED_BITS = 6.64


@dataclass(frozen=True)
class Separation:
    """How far the best candidate leads the closest enterprise sharing the mention's core."""

    core: str
    shared_by: int  # enterprises with this core, the best included
    margin: float  # bits by which the winner leads its closest rival
    rival: str | None
    winner: str  # the candidate this evidence favours (the matcher's best, unless it ranks them apart)
    rivals: frozenset[str]  # every other enterprise with the core

    def separated(self, required: float = REQUIRED_BITS) -> bool:
        return self.margin >= required

    def step(self, required: float = REQUIRED_BITS) -> tuple[str, str, float]:
        """An explanation entry (weight 0: it decides, it does not score)."""
        verdict = "separated" if self.separated(required) else "not separated: a steward decides"
        core, _, branch = self.core.partition("|")  # the resolver keys cores with their branch marker
        shared = f"{core}({branch})" if branch else core
        return (
            "shared core",
            f"{self.shared_by} enterprises share {shared}; {self.winner} leads {self.rival} by "
            f"{self.margin:.1f} bits of other evidence (needs {required:.1f}): {verdict}",
            0.0,
        )


def name_bits(written: Parts, registered: Parts, fidelity: NameFidelity, dataset: str) -> float:
    """The region and legal form the mention wrote (or did not) under an enterprise's registered ones,
    as the mention's dataset writes names. Registered, not the best of the enterprise's known
    variants: a variant is what some department once wrote, and counting it would count the
    departments' habits twice."""
    return fidelity.name_bits(dataset, written, registered)


def evidence_bits(candidate: Candidate) -> float:
    """What the matcher saw that can tell same-core enterprises apart (phone, people, address ...)."""
    return sum(w for comparison, _, w in candidate.explanation if comparison in SEPARATING)


def separation(
    best: Candidate,
    candidates: Sequence[Candidate],
    core: str | None,
    owners: Mapping[str, Iterable[str]],
    written: Parts,
    registered: Callable[[str], Parts],
    fidelity: NameFidelity,
    dataset: str,
    allowed: Callable[[str], bool] = lambda _: True,
) -> Separation | None:
    """None when no other enterprise has the mention's core (nothing to be ambiguous about).

    ``owners``: core -> enterprises known by a name with that core; ``candidates``: the mention's
    scored candidates that are allowed (a rival the matcher did not score has only its name parts);
    ``written``: the mention's region and legal form; ``registered``: an enterprise's;
    ``allowed``: whether an enterprise may be this mention's at all (a branch is never its parent's).
    The winner is the enterprise of the group (the best and the same-core enterprises) with the most
    evidence: the matcher may rank same-core candidates alike when it learned region and legal form
    to be worth little on their own, and the department's habits are what tell them apart.
    """
    if not core:
        return None
    group = {r for r in owners.get(core, ()) if allowed(r)} | {best.enterprise_id}
    if len(group) < 2:
        return None
    seen = {c.enterprise_id: c for c in candidates}
    scored = {
        e: (evidence_bits(seen[e]) if e in seen else 0.0)
        + name_bits(written, registered(e), fidelity, dataset)
        for e in group
    }
    weight = {c.enterprise_id: c.match_weight for c in candidates}
    winner = max(group, key=lambda e: (scored[e], weight.get(e, float("-inf")), e))
    rivals = group - {winner}
    lead, rival = min((scored[winner] - scored[r], r) for r in rivals)
    return Separation(core, len(group), lead, rival, winner, frozenset(rivals))
