"""City profiles: the naming and coding habits a synthetic city's departments have, as data.

The generator's built-in habits (``noise.DEPARTMENT_PROFILES``, ``noise.NAME_KINDS``, unique-ish 字号)
are one city's habits. A ``CityProfile`` changes them without new code paths: how many rows of each
feed carry a credit code, how small and skewed the 字号 vocabulary is (so that several enterprises share
a core name), how often each feed keeps the registered region prefix and legal form, whether the
register fills its former-name column, which feeds are name-only, and a few spelling habits.
``JINJIANG`` (every knob at "as before") generates byte-identical files and truth for a seed.
See docs/synthetic-profiles.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from entgraph.synthetic.noise import NoiseProfile
    from entgraph.synthetic.population import Population

REGISTER_WORDS = ("市场监管", "市场监督")  # the market regulator: the register of every firm
TAX_WORDS = ("税务",)
POWER_WORDS = ("供电", "电业", "电力")
WATER_WORDS = ("水务", "自来水")
LAND_WORDS = ("自然资源", "国土", "土地")
# share of a non-register feed's rows that carry the credit code, by the ``coded`` knob
CODED_SHARES = {"register-only": 0.0, "some": 0.4, "most": 0.9}
REGION_STYLES = ("drop", "bracket", "written", "swap")  # see noise.styled_region


@dataclass(frozen=True)
class FeedHabits:
    """How often one department's rows keep the registered region prefix and the legal form."""

    keep_region: float = 1.0  # else dropped, bracketed, written out or swapped (``region_styles``)
    keep_form: float = 1.0  # else dropped or written as another form (``form_drop``)


Habits = tuple[tuple[tuple[str, ...], FeedHabits], ...]  # (department words, habits); first match wins


@dataclass(frozen=True)
class CityProfile:
    """One city's habits. Every default means "as the built-in 晋江 generator does"."""

    name: str
    description: str = ""
    # rows of non-register feeds that carry the credit code: None keeps each department's built-in share,
    # else a key of CODED_SHARES (the register always carries codes)
    coded: str | None = None
    legacy_ids: float = 0.0  # of the rows without a credit code: share carrying an org code / 15-char id
    name_only: tuple[str, ...] = ()  # department words whose feeds leave every optional code cell empty
    # 0: open-ended 字号, made unique; else a vocabulary of this many 字号 per 1,000 market entities (scaled
    # with the city, at least 20, so the shared-core share hardly depends on its size), drawn by Zipf
    zihao_vocabulary: int = 0
    zihao_zipf: float = 1.0  # Zipf exponent of the 字号 draw (rank r has weight 1 / r ** zipf)
    habits: Habits = ()  # per-department keep rates; () keeps the built-in noise kinds (NAME_KINDS)
    region_styles: tuple[tuple[str, float], ...] = (("drop", 1.0), ("bracket", 1.0), ("written", 1.0),
                                                     ("swap", 1.0))  # fmt: skip
    form_drop: float = 0.3  # of the rows not keeping the legal form: share dropping it (else another form)
    halfwidth_brackets: float = 0.0  # share of bracketed regions written 恒达(晋江) rather than 恒达（晋江）
    register_former_names: bool = True  # False: former-name (曾用名) columns are left empty
    contact_is_rep: float | None = None  # share of firms whose contact person is the legal rep (None: 0.4)

    def __post_init__(self) -> None:
        if self.coded is not None and self.coded not in CODED_SHARES:
            raise ValueError(f"coded must be None or one of {', '.join(CODED_SHARES)}, not {self.coded!r}")
        shares = [self.legacy_ids, self.form_drop, self.halfwidth_brackets]
        shares += [h.keep_region for _, h in self.habits] + [h.keep_form for _, h in self.habits]
        if self.contact_is_rep is not None:
            shares.append(self.contact_is_rep)
        if any(not 0.0 <= s <= 1.0 for s in shares):
            raise ValueError(f"profile {self.name!r}: every share must lie between 0 and 1")
        if self.zihao_vocabulary < 0 or self.zihao_zipf < 0:
            raise ValueError(f"profile {self.name!r}: zihao_vocabulary and zihao_zipf cannot be negative")
        unknown = {s for s, _ in self.region_styles} - set(REGION_STYLES)
        if unknown or not self.region_styles or sum(w for _, w in self.region_styles) <= 0:
            raise ValueError(f"profile {self.name!r}: region_styles must weigh some of {REGION_STYLES}")

    # -- per department ---------------------------------------------------------------------------

    def is_name_only(self, department: str) -> bool:
        return any(w in department for w in self.name_only)

    def codes_changed(self, department: str) -> bool:
        """Whether this profile decides the department's coded share (instead of its built-in habits)."""
        return not is_register(department) and (self.coded is not None or self.is_name_only(department))

    def noise_for(self, department: str, base: NoiseProfile) -> NoiseProfile:
        """The department's noise habits with this city's share of rows without a credit code."""
        if not self.codes_changed(department):
            return base
        coded = 0.0 if self.is_name_only(department) or self.coded is None else CODED_SHARES[self.coded]
        # not scaled by --noise: how many rows carry codes is the city's shape, not noise
        return replace(base, no_code=1.0 - coded)

    def legacy_share(self, department: str) -> float:
        """Of the department's rows without a credit code, the share carrying an older identifier."""
        if not self.codes_changed(department) or self.is_name_only(department):
            return 0.0
        return self.legacy_ids

    def habits_for(self, department: str) -> FeedHabits | None:
        """The department's keep rates (None: the built-in noise kinds decide)."""
        if not self.habits:
            return None
        for words, habits in self.habits:
            if any(w == "*" or w in department for w in words):
                return habits
        return FeedHabits()  # a department the profile does not name keeps both


def is_register(department: str) -> bool:
    return any(w in department for w in REGISTER_WORDS)


# -- the named profiles ---------------------------------------------------------------------------------

_REGISTER_KEEPS: tuple[tuple[str, ...], FeedHabits] = (REGISTER_WORDS, FeedHabits(1.0, 1.0))

JINJIANG = CityProfile("jinjiang", "today's generator: 晋江's own habits (the default; unchanged output)")
REGISTER_ONLY = CityProfile(
    "register-only",
    "only the market regulator's feeds carry credit codes; others names, some old org codes / taxpayer ids",
    coded="register-only",
    legacy_ids=0.25,
    zihao_vocabulary=500,
    zihao_zipf=0.8,
)
DENSE_NAMES = CityProfile(
    "dense-names",
    "a small Zipf 字号 vocabulary: many firms share a core name; feeds drop region and legal form often",
    coded="some",
    legacy_ids=0.2,
    zihao_vocabulary=150,
    zihao_zipf=1.1,
    habits=(
        _REGISTER_KEEPS,
        (TAX_WORDS, FeedHabits(0.9, 0.9)),
        (POWER_WORDS + WATER_WORDS, FeedHabits(0.3, 0.4)),
        (("*",), FeedHabits(0.5, 0.6)),
    ),
    region_styles=(("drop", 3.0), ("bracket", 1.0), ("written", 1.0), ("swap", 1.0)),
    form_drop=0.6,
)
MOST_CODED = CityProfile(
    "most-coded",
    "about nine rows in ten of every feed carry the credit code",
    coded="most",
)
INDEPENDENT = CityProfile(
    "independent",
    "deliberately unlike 晋江: register-only codes, bracketed regions, no former names in the register, "
    "power and water name-only, legal form kept half the time",
    coded="register-only",
    legacy_ids=0.3,
    name_only=POWER_WORDS + WATER_WORDS,
    zihao_vocabulary=300,
    zihao_zipf=1.0,
    habits=(
        _REGISTER_KEEPS,
        (TAX_WORDS, FeedHabits(0.95, 0.95)),
        (POWER_WORDS + WATER_WORDS, FeedHabits(0.4, 0.5)),
        (("*",), FeedHabits(0.6, 0.5)),
    ),
    region_styles=(("drop", 1.0), ("bracket", 3.0), ("written", 0.5), ("swap", 0.5)),
    form_drop=0.5,
    halfwidth_brackets=0.5,
    register_former_names=False,
    contact_is_rep=0.8,
)
PROFILES: dict[str, CityProfile] = {p.name: p for p in (JINJIANG, REGISTER_ONLY, DENSE_NAMES, MOST_CODED,
                                                         INDEPENDENT)}  # fmt: skip


def get_profile(profile: str | CityProfile | None) -> CityProfile:
    """A profile by name (or the profile itself); None is the default, ``jinjiang``."""
    if profile is None:
        return JINJIANG
    if isinstance(profile, CityProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}") from None


# -- statistics -------------------------------------------------------------------------------------------


def core_of(zihao: str, word: str) -> str:
    """An enterprise's core name: 字号 + industry word (what is left without region and legal form)."""
    return zihao + word


def shared_core_share(pop: Population) -> float:
    """Share of companies (kind ``enterprise``) whose core name at least one other company has too."""
    firms = [e for e in pop.enterprises if e.kind == "enterprise"]
    if not firms:
        return 0.0
    counts = Counter(core_of(e.parts.zihao, e.parts.word) for e in firms)
    return sum(counts[core_of(e.parts.zihao, e.parts.word)] >= 2 for e in firms) / len(firms)
