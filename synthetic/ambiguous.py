"""Rows nobody can resolve: a shared core written with nothing that singles its enterprise out.

Registration forbids two enterprises of one region the same full name, not the same core (字号 + industry
words): 晋江市恒达鞋业有限公司, 泉州恒达鞋业有限公司 and 福建恒达鞋业股份有限公司 are three enterprises. A row
that writes 恒达鞋业有限公司 and nothing else about the firm names any of them; resolution rightly sends it
to a data steward. The generator knows what each row wrote for each party, so it lists these rows in
``truth/ambiguous.csv`` and ``entgraph evaluate`` measures recall against the rest.

A (row, party) is **genuinely ambiguous** when all of these hold:

1. its enterprise shares its core with at least one other enterprise of the population: the core is
   ``parse_name(name).core`` (the resolution's own parser) of a registered name, current or former
   (the former one when the row writes the firm's former name), and every enterprise of the
   population counts, deregistered ones included (the register lists them and resolution knows them);
2. the row carries, for that party, no valid credit code, organisation code or taxpayer id (checked as
   resolution checks them), no account number, phone, legal representative, contact person (联系人 /
   负责人) or address;
3. the name as written does not single the enterprise out: of the enterprises with that core, the
   ones whose registered name (current or former) fits the written one best are not exactly the
   party's own enterprise. Fitting, part by part of ``parse_name``: first the branch (``branch``:
   晋江分公司, 安海分厂 ...) must be the same, none with none (a branch's name always carries its suffix,
   so a name without one is the head office's); then the more of region (``region_code``) and legal
   form (``legal_form``) agree the better, a part not written agreeing with anything. When some
   enterprise fits every written part, the best are exactly those (the written name's compatible
   enterprises); when none does (a legal form no same-core enterprise has), the closest decide, so a
   stray part does not make a name that still points to one enterprise ambiguous;
4. nor does it once the feed's own habits are counted (``FeedRewrites``): a written part the feed
   could have made out of a rival's registered name fits that rival too. A feed that writes another
   legal form now and then (有限公司 for 股份有限公司: the built-in noise, and profiles keeping the form
   less than always and not only dropping it) tells no same-core enterprises apart by the legal form
   it wrote; one that adds a region to a name registered without one (the built-in noise) tells
   nobody apart from such a name by the region. With a legal form rewritten on a quarter of a feed's
   rows, a written 股份有限公司 is about 8:1 for the enterprise registered so: no resolver can link it
   at 99% precision, so it is listed, as ``shared core, told apart only by a part the feed rewrites``.

Reasons: ``shared core, name only`` (the written name fits the enterprise and others as well),
``shared core, told apart only by a part the feed rewrites`` (rule 4),
``shared core, name and a mistyped code only`` (the same, with a code that fails its check: not a
valid code, though resolution weighs it as evidence), ``shared core, name written as another's`` (the
written name fits another same-core enterprise better). A party with nothing written (a refused row's
emptied name) is no mention and is not listed.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entgraph.catalog.spec import Role
from entgraph.identity.chinese_names import NameParts, parse_name
from entgraph.identity.codes import (
    normalise_code,
    org_code_of,
    parse_credit_code,
    taxpayer_id_to_credit_code,
)
from entgraph.resolution.mentions import enterprise_parties
from entgraph.synthetic.datasets import DatasetPlan, GenRow
from entgraph.synthetic.population import Population

AMBIGUOUS_HEADER = ("file", "sheet", "row", "party", "reason")

NAME_ONLY = "shared core, name only"
MISTYPED_CODE = "shared core, name and a mistyped code only"
FITS_ANOTHER = "shared core, name written as another's"
REWRITTEN_PART = "shared core, told apart only by a part the feed rewrites"


@dataclass(frozen=True, slots=True)
class FeedRewrites:
    """What a feed's naming habits can make of a registered name's parts (rule 4 of the module)."""

    legal_form: bool = False  # writes another legal form than the registered one, now and then
    adds_region: bool = False  # writes a region where the registered name has none

    @classmethod
    def of(cls, plan: DatasetPlan) -> FeedRewrites:
        if plan.habits is None:  # the built-in noise kinds: legal_form and region_prefix (_region_variant)
            return cls(legal_form=True, adds_region=True)
        # profile habits: another form on the rows not keeping it and not dropping it; a region is only
        # ever dropped, bracketed or respelled where the registered name has one (noise.styled_region)
        return cls(legal_form=plan.habits.keep_form < 1 and plan.city.form_drop < 1, adds_region=False)


STRICT = FeedRewrites()

# values that identify a party besides its name (a code only when valid, as resolution takes it)
_PLAIN_ROLES = frozenset(
    {Role.ACCOUNT_NUMBER, Role.PHONE, Role.LEGAL_REPRESENTATIVE, Role.CONTACT_PERSON, Role.ADDRESS}
)
_CODE_ROLES = frozenset({Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID})


@dataclass(frozen=True, slots=True)
class _Registered:
    """One registered name (current or former) of one enterprise, in the parts that tell cores apart."""

    enterprise_id: str
    region_code: str | None
    legal_form: str | None
    branch: str | None

    def fit(self, written: NameParts, rewrites: FeedRewrites = STRICT) -> tuple[bool, int]:
        """How well a name written so fits this one: the same branch (a branch's name always carries its
        suffix: without one, the head office's), then how many of region and legal form agree (a part
        not written agrees with anything, and so does one the feed could have made of this name's);
        (True, 2) is a fit on every part."""
        region = written.region_code in (None, self.region_code) or (
            rewrites.adds_region and self.region_code is None
        )
        form = written.legal_form in (None, self.legal_form) or (
            rewrites.legal_form and self.legal_form is not None
        )
        return written.branch == self.branch, region + form


class SharedCores:
    """The population's cores that more than one enterprise has, and who registered which name."""

    def __init__(self, pop: Population) -> None:
        by_core: dict[str, list[_Registered]] = defaultdict(list)
        self._core: dict[tuple[str, bool], str] = {}  # (enterprise id, former?) -> core
        self._parties: dict[str, list[str]] = {}  # dataset -> its parties that are enterprise mentions
        self._habits: dict[str, FeedRewrites] = {}  # dataset -> what its habits make of names
        for e in pop.enterprises:
            for former, name in ((False, e.name), (True, e.former_name)):
                parts = parse_name(name) if name else None
                if parts is None or not parts.core:
                    continue
                self._core[(e.id, former)] = parts.core
                by_core[parts.core].append(
                    _Registered(e.id, parts.region_code, parts.legal_form, parts.branch)
                )
        self._shared = {
            core: names for core, names in by_core.items() if len({n.enterprise_id for n in names}) > 1
        }

    @property
    def cores(self) -> dict[str, list[_Registered]]:
        return self._shared

    def core_of(self, enterprise_id: str, former: bool = False) -> str | None:
        return self._core.get((enterprise_id, former)) or self._core.get((enterprise_id, False))

    def judge(self, plan: DatasetPlan, row: GenRow) -> Iterator[tuple[str, bool, str | None]]:
        """(party, coded, reason) for each enterprise mention of the row: whether it carries a valid
        credit code (it links by rule), and why nobody can single it out (None: it can be)."""
        parties = self._parties.get(plan.spec.key)
        if parties is None:
            parties = self._parties[plan.spec.key] = enterprise_parties(plan.spec)
        for party, enterprise_id, _code, noise in row.truth:
            if not enterprise_id or party not in parties:
                continue
            written = _Written.of(plan, row.cells, party)
            reason = None
            core = self.core_of(enterprise_id, "former_name" in noise.split(";"))
            names = self._shared.get(core or "")
            if names is not None and not written.identifies:
                reason = written.reason(enterprise_id, names, self._rewrites(plan))
            yield party, written.credit, reason

    def _rewrites(self, plan: DatasetPlan) -> FeedRewrites:
        found = self._habits.get(plan.spec.key)
        if found is None:
            found = self._habits[plan.spec.key] = FeedRewrites.of(plan)
        return found

    def ambiguous(self, plan: DatasetPlan, row: GenRow) -> Iterator[tuple[str, str]]:
        """(party, reason) for each party of the row that nobody can single out."""
        for party, _coded, reason in self.judge(plan, row):
            if reason is not None:
                yield party, reason


@dataclass(slots=True)
class _Written:
    """What one row writes about one party."""

    name: str = ""
    credit: bool = False  # a valid credit code (in a credit-code or taxpayer-id column)
    identifies: bool = False  # a valid code or another identifying value
    mistyped: bool = False  # a code that fails its check

    @classmethod
    def of(cls, plan: DatasetPlan, cells: list[Any], party: str) -> _Written:
        out = cls()
        for plan_column, cell in zip(plan.columns, cells, strict=True):
            column = plan_column.column
            if column.party != party or column.role is None or _blank(cell):
                continue
            role, text = column.role, str(cell).strip()
            if role in _PLAIN_ROLES:
                out.identifies = True
            elif role in _CODE_ROLES:
                code = normalise_code(text)
                if role is Role.CREDIT_CODE:
                    credit = parse_credit_code(code).valid
                else:
                    credit = role is Role.TAXPAYER_ID and taxpayer_id_to_credit_code(code) is not None
                out.credit = out.credit or credit
                if credit or (role is not Role.CREDIT_CODE and org_code_of(code) is not None):
                    out.identifies = True
                else:
                    out.mistyped = True
            elif role is Role.ENTERPRISE_NAME and not out.name:
                out.name = text
        return out

    def reason(
        self, enterprise_id: str, names: list[_Registered], rewrites: FeedRewrites = STRICT
    ) -> str | None:
        """Why the name as written cannot single out the enterprise among ``names`` (None: it can)."""
        written = parse_name(self.name) if self.name else None
        if written is None:  # nothing written for the party at all (a refused row): no mention
            return None
        fitting = _fitting(written, names, STRICT)
        if fitting == {enterprise_id}:
            return None if _fitting(written, names, rewrites) == {enterprise_id} else REWRITTEN_PART
        if enterprise_id not in fitting:
            return FITS_ANOTHER
        return MISTYPED_CODE if self.mistyped else NAME_ONLY


def _fitting(written: NameParts, names: list[_Registered], rewrites: FeedRewrites) -> set[str]:
    """The enterprises whose registered names fit the written one best."""
    fit: dict[str, tuple[bool, int]] = {}
    for n in names:
        fit[n.enterprise_id] = max(fit.get(n.enterprise_id, (False, -1)), n.fit(written, rewrites))
    best = max(fit.values())
    return {eid for eid, f in fit.items() if f == best}


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class AmbiguousWriter:
    """Writes ``ambiguous.csv`` as the rows are written, counting code-less and ambiguous mentions."""

    def __init__(self, path: Path, pop: Population) -> None:
        self.path, self.cores = path, SharedCores(pop)
        self.codeless = 0  # enterprise mentions without a valid credit code
        self.ambiguous = 0  # of those, the ones listed

    def __enter__(self) -> AmbiguousWriter:
        self._file = open(self.path, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(AMBIGUOUS_HEADER)
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def add(self, plan: DatasetPlan, row: GenRow, file: str, sheet: str, number: int) -> None:
        for party, coded, reason in self.cores.judge(plan, row):
            self.codeless += not coded
            if reason is not None:
                self._writer.writerow((file, sheet, number, party, reason))
                self.ambiguous += 1
