"""When a name fits several enterprises: link only if evidence other than the shared name separates one.

Registration forbids two enterprises of one region the same full name, not the same core: 晋江市恒达
鞋业有限公司, 泉州恒达鞋业有限公司 and 福建恒达鞋业股份有限公司 are three enterprises. A department that
writes 恒达鞋业 (or rewrites region and legal form by habit) names any of them, and a model scoring
each pair on its own is confident about all three, or about whichever kept the department's spelling.
So for a mention whose core is shared, the candidates are compared with each other on the evidence
that can tell them apart — phone, legal representative, contact person, address, a mistyped code,
town, industry — plus the full name only as far as the department is known to keep full names
(``NameFidelity``). The best must lead every other enterprise sharing the core by ``required`` bits
(6.64 bits: 99 to 1), or the mention goes to a steward with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

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
FULL_NAME = ("name", "Same full name")
REQUIRED_BITS = 6.64


@dataclass(frozen=True)
class Separation:
    """How far the best candidate leads the closest enterprise sharing the mention's core."""

    core: str
    shared_by: int  # enterprises with this core, the best included
    margin: float  # bits; inf when no other enterprise shares the core
    rival: str | None

    def separated(self, required: float = REQUIRED_BITS) -> bool:
        return self.margin >= required

    def step(self, required: float = REQUIRED_BITS) -> tuple[str, str, float]:
        """An explanation entry (weight 0: it decides, it does not score)."""
        verdict = "separated" if self.separated(required) else "not separated: a steward decides"
        return (
            "shared core",
            f"{self.shared_by} enterprises share {self.core}; best leads {self.rival} by "
            f"{self.margin:.1f} bits of other evidence (needs {required:.1f}): {verdict}",
            0.0,
        )


def evidence_bits(candidate: Candidate, full_name_bits: float) -> float:
    """What separates this candidate from a same-core rival: the separating comparisons' weights, and
    the full name's worth for the mention's dataset when the mention writes this enterprise's."""
    bits = sum(w for comparison, _, w in candidate.explanation if comparison in SEPARATING)
    if any((comparison, level) == FULL_NAME for comparison, level, _ in candidate.explanation):
        bits += full_name_bits
    return bits


def separation(
    best: Candidate,
    candidates: Sequence[Candidate],
    core: str | None,
    owners: Mapping[str, Iterable[str]],
    full_name_bits: float,
    allowed: Callable[[str], bool] = lambda _: True,
) -> Separation | None:
    """None when no other enterprise has the mention's core (nothing to be ambiguous about).

    ``owners``: core -> enterprises known by a name with that core; ``candidates``: the mention's
    scored candidates that are allowed (a rival the matcher did not score counts with 0 bits);
    ``allowed``: whether an enterprise may be this mention's at all (a branch is never its parent's).
    """
    if not core:
        return None
    rivals = {r for r in owners.get(core, ()) if r != best.enterprise_id and allowed(r)}
    if not rivals:
        return None
    scored = {c.enterprise_id: evidence_bits(c, full_name_bits) for c in candidates}
    lead, rival = min((scored[best.enterprise_id] - scored.get(r, 0.0), r) for r in rivals)
    shared_by = len(rivals) + 1
    return Separation(core, shared_by, lead, rival)
