"""The ground-truth population of a synthetic county-level city (modelled on 晋江).

``build_population(n, seed)`` returns ``n`` market entities -- companies, individual businesses
(个体工商户), branches (分公司/分厂/办事处, each with its own credit code and a parent), a few banks and
finance companies -- with people, phones, addresses, renames (曾用名), deregistrations (注销) and
deliberately planted look-alikes (hard negatives). Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import accumulate
from typing import Any, TypeVar

from entgraph.synthetic import name_parts as nm
from entgraph.synthetic.profiles import JINJIANG, CityProfile

T = TypeVar("T")
# characters GB 32100 allows (no I O S V Z): org-code bodies inside credit codes must use these
CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LAST_DAY = dt.date(2023, 4, 30)
ACTIVE = "存续"
DEREGISTERED = "注销"
REVOKED = "吊销"


@cache
def identifiers() -> Any:
    """The identifier module (check characters are computed there, never here)."""
    from entgraph.identity import codes as ids

    return ids


_CUMULATIVE: dict[int, tuple[Sequence[Any], list[Any], list[float]]] = {}


def weighted(rng: random.Random, items: Sequence[tuple[T, float]]) -> T:
    """One item, by weight. Cumulative weights are cached per (long-lived) item sequence."""
    entry = _CUMULATIVE.get(id(items))
    if entry is None or entry[0] is not items:
        entry = (items, [i for i, _ in items], list(accumulate(w for _, w in items)))
        _CUMULATIVE[id(items)] = entry  # the entry keeps `items` alive, so its id is not reused
    _, values, cum = entry
    return values[min(len(values) - 1, bisect_right(cum, rng.random() * cum[-1]))]


@dataclass(slots=True)
class Person:
    index: int
    name: str
    male: bool
    birth: dt.date
    mobile: str
    _id_number: str = ""

    @property
    def id_number(self) -> str:
        """A valid 18-char resident id (its check char found with the identifiers module's validator)."""
        if not self._id_number:
            seq = (self.index * 37) % 500 * 2 + (1 if self.male else 0)
            body = f"{nm.DIVISION}{self.birth:%Y%m%d}{seq % 1000:03d}"
            ids = identifiers()
            self._id_number = next(
                (body + c for c in "0123456789X" if ids.is_valid_resident_id(body + c)), body + "0"
            )
        return self._id_number


@dataclass(slots=True)
class NameParts:
    """A registered name in pieces, so noise can drop or vary each piece."""

    prefix: str  # 晋江市 / 福建 / 泉州 / 石狮市 / "" ...
    zihao: str  # 字号 (or the owner's name for some individual businesses)
    word: str  # industry word (鞋业, 服装 ...) or shop word (鞋店)
    form: str  # legal form, "" for individual businesses and banks
    region: str  # the region the prefix names, short (晋江, 福建 ...) for variants
    town: str = ""  # individual businesses: town short name inside the name
    suffix: str = ""  # branches: 晋江分公司 / 安海分厂 / 晋江办事处 ...

    @property
    def full(self) -> str:
        return f"{self.prefix}{self.town}{self.zihao}{self.word}{self.form}{self.suffix}"


@dataclass(slots=True)
class Enterprise:
    index: int
    id: str
    kind: str  # enterprise | individual | branch
    sector: str  # industry key (footwear, apparel ...) or finance
    division: str
    credit_code: str
    parts: NameParts
    town: nm.Town | None  # None: located outside the city (head offices)
    industry: nm.Industry
    subclass: tuple[str, str]
    legal_rep: Person
    contact: Person
    phone: str
    address: str
    registered_capital: float  # 万元
    established: dt.date
    revenue: float  # 万元 a year
    employees: int
    status: str = ACTIVE
    status_date: dt.date | None = None
    former_parts: NameParts | None = None
    renamed_on: dt.date | None = None
    parent_id: str = ""
    park: str = ""
    chain: str = ""
    chain_position: str = ""
    name: str = ""
    former_name: str = ""

    @property
    def org_code(self) -> str:
        return self.credit_code[8:17]

    @property
    def old_taxpayer_id(self) -> str:
        """The pre-2015 15-char taxpayer id: division + organisation code."""
        return self.credit_code[2:8] + self.credit_code[8:17]

    @property
    def town_name(self) -> str:
        return self.town.name if self.town else ""

    @property
    def above_scale(self) -> bool:  # 规上: annual revenue of 20 million yuan or more
        return self.revenue >= 2000

    def active_on(self, day: dt.date) -> bool:
        return self.established <= day and (self.status_date is None or day <= self.status_date)

    def name_on(self, day: dt.date) -> str:
        if self.renamed_on is not None and day < self.renamed_on:
            return self.former_name
        return self.name


@dataclass
class Population:
    seed: int
    enterprises: list[Enterprise]
    people: list[Person]
    hard_negatives: list[tuple[str, str, str]]  # (id a, id b, kind)
    by_id: dict[str, Enterprise] = field(default_factory=dict)
    groups: dict[str, list[Enterprise]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.enterprises}
        groups: dict[str, list[Enterprise]] = {
            k: []
            for k in ("all", "company", "individual", "branch", "registered", "finance", "bank", "outside")
        }
        for e in self.enterprises:
            if e.town is None:  # head offices and look-alikes registered elsewhere
                if e.sector != "finance":
                    groups["outside"].append(e)
                continue
            if e.kind != "individual":
                groups["registered"].append(e)
            if e.sector == "finance":
                groups["finance"].append(e)
                if e.kind == "branch" and "银行" in e.name:
                    groups["bank"].append(e)
                if e.parts.word in ("小额贷款", "融资担保"):
                    groups.setdefault("lender", []).append(e)
                continue
            groups["all"].append(e)
            groups["company" if e.kind == "enterprise" else e.kind].append(e)
            if e.kind != "individual":
                groups.setdefault(e.sector, []).append(e)
            if e.chain:
                groups.setdefault("chain", []).append(e)
            if e.park:
                groups.setdefault("park", []).append(e)
        groups["firms"] = groups["company"] + groups["branch"]
        groups["counterparty"] = groups["firms"] + groups["outside"]
        self.groups = groups


_INDUSTRY_WEIGHTS = {
    town.name: tuple((i, i.weight * (3.0 if i.key in town.affinity else 1.0)) for i in nm.INDUSTRIES)
    for town in nm.TOWNS
}
_TOWN_WEIGHTS = tuple((t, t.weight) for t in nm.TOWNS)


class _Builder:
    def __init__(self, n: int, seed: int, profile: CityProfile = JINJIANG) -> None:
        self.n = n
        self.profile = profile
        self.rng = random.Random(f"entgraph-synthetic:{seed}:population")
        self.seed = seed
        self.people: list[Person] = []
        self.reps: list[Person] = []
        self.ents: list[Enterprise] = []
        self.names: set[str] = set()
        self.bodies: set[str] = set()
        self.hard: list[tuple[str, str, str]] = []
        self.agent_phones = [self.landline() for _ in range(max(3, n // 300))]
        self.town_weights = _TOWN_WEIGHTS
        self.surnames = nm.SURNAMES
        self.vocabulary = self.zihao_vocabulary(n, seed, profile) if profile.zihao_vocabulary else ()

    @staticmethod
    def zihao_vocabulary(n: int, seed: int, profile: CityProfile) -> tuple[tuple[str, float], ...]:
        """A profile's small 字号 vocabulary with Zipf weights (its own random stream: the population's
        stream is only consumed as the built-in profile consumes it)."""
        r = random.Random(f"entgraph-synthetic:{seed}:zihao-vocabulary")
        size = max(20, round(profile.zihao_vocabulary * n / 1000))
        size = min(size, len(nm.ZIHAO_FIRST) * (len(nm.ZIHAO_SECOND) - 1) // 2)  # distinct pairs left to find
        words: dict[str, None] = {}
        while len(words) < size:
            a, b = r.choice(nm.ZIHAO_FIRST), r.choice(nm.ZIHAO_SECOND)
            if a != b:
                words[a + b] = None
        return tuple((w, 1.0 / (rank**profile.zihao_zipf)) for rank, w in enumerate(words, start=1))

    # -- people and contact -------------------------------------------------------------------

    def person(self) -> Person:
        r = self.rng
        surname = weighted(r, self.surnames)
        given = "".join(r.choice(nm.GIVEN_CHARS) for _ in range(1 if r.random() < 0.2 else 2))
        born = dt.date(1955, 1, 1) + dt.timedelta(days=r.randrange(365 * 45))
        p = Person(len(self.people), surname + given, r.random() < 0.7, born, self.mobile())
        self.people.append(p)
        return p

    def mobile(self) -> str:
        r = self.rng
        head = r.choice(("130", "133", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159"))
        return head + f"{r.randrange(10**8):08d}"

    def landline(self) -> str:
        return f"0595-8{self.rng.randrange(10**7):07d}"

    def rep(self) -> Person:
        if self.reps and self.rng.random() < 0.12:  # one person heads several firms
            return self.rng.choice(self.reps)
        p = self.person()
        self.reps.append(p)
        return p

    def address(self, town: nm.Town) -> str:
        r = self.rng
        if r.random() < 0.55:
            return f"{nm.PROVINCE}{nm.CITY_FULL}{town.name}{r.choice(town.roads)}{r.randint(1, 999)}号"
        tail = r.choice(("工业区", "工业园", "", "东区", "南区"))
        return f"{nm.PROVINCE}{nm.CITY_FULL}{town.name}{r.choice(town.villages)}{tail}{r.randint(1, 300)}号"

    # -- identifiers -----------------------------------------------------------------------------

    def credit_code(self, division: str, established: dt.date, entity_type: str = "1") -> str:
        r = self.rng
        while True:
            if established < dt.date(2015, 10, 1) and entity_type == "1" and r.random() < 0.9:
                body = f"{r.randrange(10**7, 10**8)}"
            else:
                body = "MA" + r.choice("23489") + "".join(r.choice(CODE_CHARS) for _ in range(5))
            if body not in self.bodies:
                self.bodies.add(body)
                return identifiers().make_credit_code(division, body, "9", entity_type)

    # -- names -------------------------------------------------------------------------------------

    def zihao(self) -> str:
        r = self.rng
        if self.vocabulary:  # a profile's small vocabulary: firms share 字号 (and so core names)
            return weighted(r, self.vocabulary)
        x = r.random()
        if x < 0.03:
            return r.choice(nm.ZIHAO_FAMOUS)
        a, b = r.choice(nm.ZIHAO_FIRST), r.choice(nm.ZIHAO_SECOND)
        while b == a:
            b = r.choice(nm.ZIHAO_SECOND)
        return a + b + (r.choice(nm.ZIHAO_THIRD) if x > 0.75 else "")

    def prefix(self) -> tuple[str, str, str]:
        """(prefix, region short, division) of a new company."""
        r = self.rng
        style = weighted(r, nm.PREFIX_STYLES)
        if style == "city":
            return nm.CITY_FULL, nm.CITY, nm.DIVISION
        if style == "fujian":
            return "福建", "福建", nm.FUJIAN_DIVISION if r.random() < 0.3 else nm.DIVISION
        if style == "quanzhou":
            return "泉州", "泉州", nm.QUANZHOU_DIVISION if r.random() < 0.4 else nm.DIVISION
        return "", "", nm.DIVISION

    def unique(self, make: Callable[[], NameParts], tries: int = 40) -> NameParts:
        parts = make()
        for _ in range(tries):
            if parts.full not in self.names:
                break
            parts = make()
        else:  # a dense pool: lengthen the 字号 until it is free
            while parts.full in self.names:
                parts = replace(parts, zihao=parts.zihao + self.rng.choice(nm.ZIHAO_THIRD))
        self.names.add(parts.full)
        return parts

    # -- entities ------------------------------------------------------------------------------

    def industry_for(self, town: nm.Town) -> nm.Industry:
        return weighted(self.rng, _INDUSTRY_WEIGHTS[town.name])

    def established(self, earliest: int = 1992) -> dt.date:
        r = self.rng
        year = min(2023, max(earliest, int(2024 - r.expovariate(1 / 8))))
        start = dt.date(year, 1, 1)
        end = min(dt.date(year, 12, 31), LAST_DAY - dt.timedelta(days=10))
        return start + dt.timedelta(days=r.randrange(max(1, (end - start).days)))

    def capital(self, kind: str) -> float:
        r = self.rng
        if kind == "individual":
            return float(r.choice((1, 2, 3, 5, 5, 10, 10, 20, 30, 50)))
        choices = ((10, 1), (50, 3), (100, 4), (200, 3), (300, 2), (500, 3), (1000, 3), (2000, 1.5),
                   (3000, 1), (5000, 1), (10000, 0.6), (20000, 0.2), (50000, 0.1))  # fmt: skip
        return float(weighted(r, choices))

    def company(self, parts: NameParts | None = None, town: nm.Town | None = None,
                industry: nm.Industry | None = None, division: str | None = None) -> Enterprise:  # fmt: skip
        r = self.rng
        town = town or weighted(r, self.town_weights)
        industry = industry or self.industry_for(town)
        if parts is None:
            prefix, region, division_ = self.prefix()
            division = division or division_
            parts = self.unique(
                lambda: NameParts(
                    prefix, self.zihao(), r.choice(industry.words), weighted(r, nm.LEGAL_FORMS), region
                )
            )
        else:
            self.names.add(parts.full)
        return self.entity("enterprise", industry, parts, town, division or nm.DIVISION)

    def entity(self, kind: str, industry: nm.Industry, parts: NameParts, town: nm.Town | None,
               division: str, rep: Person | None = None) -> Enterprise:  # fmt: skip
        r = self.rng
        index = len(self.ents)
        established = self.established(1995 if kind != "enterprise" else 1988)
        rep = rep or self.rep()
        revenue = r.lognormvariate(6.0 if kind == "enterprise" else 3.5, 1.5)
        phone_pick = r.random()
        phone = rep.mobile if phone_pick < 0.45 else (self.landline() if phone_pick < 0.95 else None)
        ent = Enterprise(
            index=index,
            id=f"ENT{index + 1:07d}",
            kind=kind,
            sector=industry.key,
            division=division,
            credit_code=self.credit_code(division, established, "2" if kind == "individual" else "1"),
            parts=parts,
            town=town,
            industry=industry,
            subclass=r.choice(industry.subclasses),
            legal_rep=rep,
            contact=rep if r.random() < 0.4 else self.person(),
            phone=phone or r.choice(self.agent_phones),
            address=self.address(town) if town else "",
            registered_capital=self.capital(kind),
            established=established,
            revenue=round(revenue, 2),
            employees=max(1, int(revenue / r.uniform(15, 60))),
            name=parts.full,
        )
        if industry.chain and kind != "individual":
            ent.chain = industry.chain
            ent.chain_position = nm.CHAIN_POSITION_BY_WORD.get(parts.word) or weighted(
                r, (("上游", 0.25), ("中游", 0.55), ("下游", 0.2))
            )
        if town is not None and kind != "individual":
            parks = [p for p, t in nm.PARKS if t == town.name]
            if parks and r.random() < 0.3:
                ent.park = r.choice(parks)
        self.ents.append(ent)
        return ent

    def twin(self, base: Enterprise) -> Enterprise | None:
        """A distinct firm whose name is nearly (or, after normalisation, exactly) the base's name."""
        r = self.rng
        p = base.parts
        kind = weighted(
            r, (("same_zihao_other_industry", 0.35), ("same_name_other_region", 0.3),
                ("same_name_other_town", 0.15), ("same_core_other_form", 0.2)),
        )  # fmt: skip
        if kind == "same_zihao_other_industry":
            industry = r.choice([i for i in nm.INDUSTRIES if i.key != base.sector and i.weight >= 0.3])
            parts = replace(p, word=r.choice(industry.words))
            if parts.full in self.names:
                return None
            twin = self.company(parts, base.town, industry, base.division)
            if r.random() < 0.5:  # often the same boss
                twin.legal_rep = base.legal_rep
        elif kind == "same_name_other_region":
            division, region = r.choice(nm.NEIGHBOURS)
            parts = replace(
                p,
                prefix=f"{region}市"
                if region in ("石狮", "南安")
                else f"{region}{'县' if region in ('惠安', '安溪') else '区'}",
                region=region,
            )
            if parts.full in self.names:
                return None
            twin = self.company(parts, base.town, base.industry, division)
            twin.town = None
            twin.park = ""
            twin.address = f"{nm.PROVINCE}泉州市{parts.prefix}{r.choice(('宝盖镇', '蚶江镇', '水头镇', '官桥镇', '东园镇'))}{r.randint(1, 300)}号"  # noqa: E501
        elif kind == "same_name_other_town":
            # the name is free again once the first holder is deregistered: a new firm takes it
            if base.established > dt.date(2020, 6, 1):
                return None
            base.status = DEREGISTERED
            base.status_date = base.established + dt.timedelta(
                days=r.randrange(365, max(366, (dt.date(2021, 6, 1) - base.established).days))
            )
            town = r.choice([t for t in nm.TOWNS if t is not base.town])
            twin = self.entity("enterprise", base.industry, p, town, base.division)
            twin.established = base.status_date + dt.timedelta(days=r.randint(30, 600))
            twin.established = min(twin.established, LAST_DAY - dt.timedelta(days=10))
        else:
            form = r.choice([f for f in nm.LEGAL_FORM_VARIANTS if f != p.form])
            prefix, region = ("福建", "福建") if p.prefix != "福建" else (nm.CITY_FULL, nm.CITY)
            parts = replace(p, prefix=prefix, region=region, form=form)
            if parts.full in self.names:
                return None
            twin = self.company(parts, base.town, base.industry, base.division)
        self.hard.append((base.id, twin.id, kind))
        return twin

    def individual(self) -> Enterprise:
        r = self.rng
        town = weighted(r, self.town_weights)
        industry = r.choice([i for i in nm.INDUSTRIES if i.shop_words])
        owner = self.person()
        shop = r.choice(industry.shop_words)
        x = r.random()
        if x < 0.5:
            parts = NameParts(nm.CITY_FULL, self.zihao(), shop, "", nm.CITY, town=town.short)
        elif x < 0.75:
            parts = NameParts(nm.CITY_FULL, self.zihao(), shop, "", nm.CITY)
        elif x < 0.9:
            parts = NameParts(nm.CITY_FULL, owner.name, shop, "", nm.CITY, town=town.short)
        else:
            parts = NameParts("个体户", owner.name, "", "", "")
        ent = self.entity("individual", industry, parts, town, nm.DIVISION, rep=owner)
        ent.contact = owner
        if r.random() < 0.8:
            ent.phone = owner.mobile
        self.names.add(parts.full)
        return ent

    def individual_twin(self, base: Enterprise) -> Enterprise | None:
        """Same shop name, another town: 个体工商户 names are not unique across a city."""
        if base.parts.town or base.parts.prefix == "个体户":
            return None
        town = self.rng.choice([t for t in nm.TOWNS if t is not base.town])
        twin = self.entity("individual", base.industry, base.parts, town, nm.DIVISION, rep=self.person())
        twin.contact = twin.legal_rep
        self.hard.append((base.id, twin.id, "same_name_other_town"))
        return twin

    def branch(self, parent: Enterprise) -> Enterprise:
        r = self.rng
        town = weighted(r, self.town_weights)
        local = parent.division == nm.DIVISION and parent.parts.prefix == nm.CITY_FULL
        options = [f"{town.short}分公司", f"{town.short}分厂", "第二分厂"] if local else []
        options += ["晋江分公司", "（晋江）分公司", "晋江办事处", f"晋江{town.short}分厂"]
        for _ in range(10):
            parts = replace(parent.parts, suffix=r.choice(options))
            if parts.full not in self.names:
                break
        else:
            parts = replace(parent.parts, suffix=f"晋江第{len(self.ents)}分厂")
        self.names.add(parts.full)
        rep = parent.legal_rep if r.random() < 0.5 else self.person()
        ent = self.entity("branch", parent.industry, parts, town, nm.DIVISION, rep=rep)
        ent.sector = parent.sector
        ent.parent_id = parent.id
        ent.revenue = round(parent.revenue * r.uniform(0.05, 0.3), 2)
        ent.registered_capital = 0.0
        ent.chain, ent.chain_position = parent.chain, parent.chain_position
        self.hard.append((parent.id, ent.id, "branch_of_parent"))
        return ent

    def finance(self, count: int) -> None:
        r = self.rng
        fin = nm.FINANCE
        for hq_name, division, short in nm.BANKS[: max(1, count // 3)]:
            form = "股份有限公司"
            parts = NameParts("", hq_name.removesuffix(form), "", form, "")
            hq = self.entity("enterprise", fin, parts, None, division)
            self.names.add(parts.full)
            hq.address = f"{short}总部"
            hq.revenue, hq.registered_capital = 1e7, 3e6
            hq.established = dt.date(r.randint(1984, 2007), r.randint(1, 12), r.randint(1, 28))
            hq.subclass = fin.subclasses[0]
            branch_suffix = "晋江分行" if "银行" in hq_name else "晋江支公司"
            if division == nm.DIVISION:
                branch_suffix = "营业部"
            sub_town = r.choice(nm.TOWNS)
            for suffix, town in ((branch_suffix, nm.TOWNS[0]), (f"晋江{sub_town.short}支行", sub_town)):
                if "保险" in hq_name and suffix.endswith("支行"):
                    continue
                b = self.branch_named(hq, replace(parts, suffix=suffix), town)
                b.subclass = fin.subclasses[0]
        for _ in range(max(1, count - len(self.ents))):
            word = r.choice(("小额贷款", "融资担保"))
            parts = self.unique(
                lambda w=word: NameParts(
                    nm.CITY_FULL, self.zihao(), w, r.choice(("股份有限公司", "有限公司")), nm.CITY
                )
            )
            e = self.entity("enterprise", fin, parts, weighted(r, self.town_weights), nm.DIVISION)
            e.subclass = fin.subclasses[1]

    def branch_named(self, parent: Enterprise, parts: NameParts, town: nm.Town) -> Enterprise:
        self.names.add(parts.full)
        ent = self.entity("branch", parent.industry, parts, town, nm.DIVISION, rep=self.person())
        ent.parent_id = parent.id
        ent.revenue = round(self.rng.uniform(5000, 50000), 2)
        ent.registered_capital = 0.0
        self.hard.append((parent.id, ent.id, "branch_of_parent"))
        return ent

    # -- life events ------------------------------------------------------------------------------

    def rename(self, ent: Enterprise) -> None:
        r = self.rng
        if ent.established > dt.date(2022, 3, 1) or ent.status != ACTIVE:
            return
        p = ent.parts
        x = r.random()
        if x < 0.4:
            former = replace(p, zihao=self.zihao())
        elif x < 0.65:
            former = replace(
                p, word=r.choice([w for w in ent.industry.words if w != p.word] or [p.word + "制品"])
            )
        elif x < 0.85:
            former = replace(p, prefix=nm.CITY_FULL if p.prefix != nm.CITY_FULL else "", region=nm.CITY)
            former = replace(former, form="有限公司" if p.form != "有限公司" else "有限责任公司")
        else:
            former = replace(p, form="有限公司" if p.form != "有限公司" else "股份有限公司")
        if former.full in self.names:
            return
        self.names.add(former.full)
        start = max(ent.established + dt.timedelta(days=180), dt.date(2019, 6, 1))
        span = (dt.date(2023, 3, 31) - start).days
        if span <= 0:
            return
        ent.former_parts, ent.former_name = former, former.full
        ent.renamed_on = start + dt.timedelta(days=r.randrange(span))

    def close(self, ent: Enterprise, status: str) -> None:
        r = self.rng
        start = max(ent.established + dt.timedelta(days=200), dt.date(2019, 1, 1))
        span = (LAST_DAY - dt.timedelta(days=5) - start).days
        if span <= 0 or ent.status != ACTIVE:
            return
        ent.status, ent.status_date = status, start + dt.timedelta(days=r.randrange(span))
        if ent.renamed_on and ent.renamed_on >= ent.status_date:
            ent.renamed_on, ent.former_parts, ent.former_name = None, None, ""

    def build(self) -> Population:
        n = self.n
        n_fin = min(40, max(3, n // 150)) if n >= 60 else 0
        n_branch = round(n * 0.06)
        n_indiv = round(n * 0.2)
        if n_fin:
            self.finance(n_fin)
        companies = self.many(max(1, n - len(self.ents) - n_branch - n_indiv), self.company, self.twin, 0.05)
        individuals = self.many(n_indiv, self.individual, self.individual_twin, 0.04)
        big = sorted(companies, key=lambda e: -e.revenue)[: max(1, len(companies) // 4)]
        for _ in range(min(n_branch, n - len(self.ents))):
            self.branch(self.rng.choice(big))
        self.life_events(companies, individuals)
        by_id = {e.id: e for e in self.ents}
        for ent in self.ents:
            if ent.parent_id:
                self.follow_parent(ent, by_id[ent.parent_id])
        if self.profile.contact_is_rep is not None:
            self.contacts(self.profile.contact_is_rep)
        return Population(self.seed, self.ents, self.people, self.hard)

    def contacts(self, share: float) -> None:
        """A profile's share of firms whose contact person is the legal representative (else another
        person). Its own random stream, so the rest of the population is the built-in one."""
        r = random.Random(f"entgraph-synthetic:{self.seed}:contacts")
        main, self.rng = self.rng, r  # new people are drawn from the contacts stream too
        try:
            for ent in self.ents:
                if ent.kind == "individual":  # the owner is the contact of an individual business
                    continue
                if r.random() < share:
                    ent.contact = ent.legal_rep
                elif ent.contact is ent.legal_rep:
                    ent.contact = self.person()
        finally:
            self.rng = main

    def many(
        self, count: int, make: Callable[[], Enterprise], twin: Callable[[Enterprise], Enterprise | None],
        twin_share: float,
    ) -> list[Enterprise]:  # fmt: skip
        """``count`` new entities, a share of them look-alikes of earlier ones."""
        r = self.rng
        out: list[Enterprise] = []
        while len(out) < count:
            made = twin(r.choice(out)) if len(out) > 10 and r.random() < twin_share else None
            out.append(made or make())
        return out

    def life_events(self, companies: list[Enterprise], individuals: list[Enterprise]) -> None:
        r = self.rng
        for ent in companies:
            x = r.random()
            if x < 0.07:
                self.rename(ent)
            elif x < 0.15:
                self.close(ent, DEREGISTERED)
            elif x < 0.17:
                self.close(ent, REVOKED)
        for ent in individuals:
            if r.random() < 0.12:
                self.close(ent, DEREGISTERED)

    def follow_parent(self, ent: Enterprise, parent: Enterprise) -> None:
        """A branch cannot predate or outlive its parent, and is renamed with it."""
        if ent.established < parent.established:
            later = parent.established + dt.timedelta(days=self.rng.randint(30, 900))
            ent.established = min(later, LAST_DAY - dt.timedelta(days=10))
        if parent.status != ACTIVE and ent.status == ACTIVE and parent.status_date:
            ent.status, ent.status_date = DEREGISTERED, parent.status_date
        renamed = parent.renamed_on
        if (
            parent.former_parts is not None
            and renamed
            and ent.former_parts is None
            and ent.established < renamed
        ):
            former = replace(parent.former_parts, suffix=ent.parts.suffix)
            if former.full not in self.names:
                self.names.add(former.full)
                ent.former_parts, ent.former_name, ent.renamed_on = former, former.full, renamed
        if ent.status_date and ent.status_date <= ent.established:
            ent.status_date = ent.established + dt.timedelta(days=1)
        if ent.renamed_on and ent.status_date and ent.renamed_on >= ent.status_date:
            ent.renamed_on, ent.former_parts, ent.former_name = None, None, ""


def build_population(n: int, seed: int, profile: CityProfile = JINJIANG) -> Population:
    """``n`` market entities of a synthetic 晋江 (deterministic for a given seed and profile)."""
    if n < 1:
        raise ValueError("the population needs at least one enterprise")
    return _Builder(n, seed, profile).build()
