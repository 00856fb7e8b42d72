"""Source records -> mentions: what one record says about one enterprise it names.

A record names one enterprise as its ``subject`` and may name others as declared parties (the mortgagee
of a mortgage, the transferor of a parcel). Each (record, party) pair is a *mention*, the unit that
resolution links to a canonical enterprise. The dataset's spec says which field plays which role for
which party, so this module is the only place that reads record properties by role.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from entgraph.catalog.spec import ColumnSpec, DatasetSpec, Role, Subject
from entgraph.identity.chinese_names import parse_name
from entgraph.identity.codes import (
    normalise_code,
    org_code_of,
    parse_credit_code,
    taxpayer_id_to_credit_code,
)

# Roles a mention carries into matching and into the golden record.
ATTRIBUTE_ROLES: dict[Role, str] = {
    Role.ENTERPRISE_NAME: "name",
    Role.FORMER_NAME: "former_name",
    Role.LEGAL_REPRESENTATIVE: "legal_rep",
    # 联系人 / 负责人: compared with the other side's legal representative, never taken for one
    Role.CONTACT_PERSON: "contact",
    Role.PHONE: "phone",
    Role.ADDRESS: "address",
    Role.TOWN: "town",
    Role.INDUSTRY_CODE: "industry_code",
    Role.INDUSTRY_NAME: "industry_name",
    Role.ENTITY_TYPE: "entity_type",
    Role.REGISTERED_CAPITAL: "registered_capital",
    Role.ESTABLISHED: "established",
    Role.STATUS: "status",
    Role.BUSINESS_SCOPE: "business_scope",
    Role.PARK: "park",
}


@dataclass(frozen=True, slots=True)
class Mention:
    """One enterprise as one record names it. ``id`` is ``<record id>|<party>``."""

    id: str
    record_id: str
    party: str
    dataset: str
    department: str
    loaded_at: str
    credit_code: str | None = None  # valid: links deterministically
    org_code: str | None = None  # valid 9-char organisation code (from any code column)
    taxpayer_id: str | None = None  # as written (normalised), valid or not
    account_no: str | None = None  # a utility account (户号), scoped to the dataset's department
    code_hint: str | None = None  # a code that failed validation: evidence only, never a link
    relation: str = "SUBJECT"  # what the party is to the record (the spec's [parties.X] relation)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.attributes.get("name")

    @property
    def identifiers(self) -> list[str]:
        """Keys under which a link of this mention is remembered for later code-less records."""
        keys = []
        if self.taxpayer_id:
            keys.append(f"taxpayer_id:{self.taxpayer_id}")
        if self.account_no:
            keys.append(f"account:{self.department}:{self.account_no}")
        return keys


def mention_id(record_id: str, party: str) -> str:
    """A mention's id: ``<record id>|<party>`` (record ids never contain '|'; parties never do)."""
    return f"{record_id}|{party}"


def split_mention(text: str) -> tuple[str, str]:
    """(record id, party) of a mention id; a bare record id means its subject, the usual party."""
    record_id, _, party = text.rpartition("|")
    if not record_id:
        return text, "subject"
    return record_id, party


def enterprise_parties(spec: DatasetSpec) -> list[str]:
    """Parties of a dataset that name enterprises ('subject' first), [] for region/meter datasets."""
    if not spec.names_enterprises:
        return []
    parties = ["subject"] if spec.subject is Subject.ENTERPRISE else []
    return parties + [p for p in spec.parties if p != "subject"]


def mentions_of(spec: DatasetSpec, record: Mapping[str, Any]) -> Iterator[Mention]:
    """The mentions in one record (its properties as stored by the loader)."""
    for party in enterprise_parties(spec):
        mention = _mention(spec, record, party)
        if mention is not None:
            yield mention


@dataclass
class _Codes:
    """The identifying codes one party's columns carry, sorted into trusted and evidence-only."""

    credit: str | None = None
    org: str | None = None
    taxpayer: str | None = None
    account: str | None = None
    hint: str | None = None

    def take(self, role: Role, value: Any, invalid: Any) -> None:
        text = normalise_code(str(value or invalid)) if (value or invalid) else ""
        if not text:
            return
        if role is Role.CREDIT_CODE:
            if value and parse_credit_code(text).valid:
                self.credit = self.credit or text
            else:
                self.hint = self.hint or text
        elif role is Role.TAXPAYER_ID:
            self.taxpayer = self.taxpayer or text
            if value:  # codes are taken only from a value the loader found valid
                self.credit = self.credit or taxpayer_id_to_credit_code(text)
                self.org = self.org or org_code_of(text)
            if invalid:
                self.hint = self.hint or text
        elif role is Role.ORG_CODE:
            org = org_code_of(text) if value else None
            self.org = self.org or org
            if org is None:
                self.hint = self.hint or text
        elif role is Role.ACCOUNT_NUMBER and value:
            self.account = self.account or str(value).strip()


def _a_person(name: Any) -> bool:
    """A column that may hold people's names holds one here: 2-4 characters, no legal form or trade."""
    parts = parse_name(str(name)) if name else None
    return bool(parts and parts.legal_form is None and not parts.industry and 2 <= len(parts.normalised) <= 4)


_CODE_ROLES = frozenset({Role.CREDIT_CODE, Role.TAXPAYER_ID, Role.ORG_CODE, Role.ACCOUNT_NUMBER})


def _shared(value: Any) -> Any:
    """One string object per distinct text. A run holds every pending mention, and their values repeat:
    the same town, status, date or industry on thousands of records, the same name, address and codes
    on each record of one enterprise. (Interned strings are freed with their last reference.)"""
    return sys.intern(value) if type(value) is str else value


def _mention(spec: DatasetSpec, record: Mapping[str, Any], party: str) -> Mention | None:
    codes = _Codes()
    attributes: dict[str, Any] = {}
    for column in spec.columns:
        if column.party != party or column.role is None:
            continue
        value = record.get(column.field)
        if column.role is Role.ENTERPRISE_NAME and spec.sharing_of(column).personal and _a_person(value):
            return None  # 权利人 may be a natural person: not an enterprise, and not ours to resolve
        if column.role in _CODE_ROLES:
            codes.take(column.role, value, record.get(f"{column.field}_invalid"))
        elif (
            column.role in ATTRIBUTE_ROLES
            and value not in (None, "")
            and ATTRIBUTE_ROLES[column.role] not in attributes
        ):
            attributes[ATTRIBUTE_ROLES[column.role]] = _shared(value)
    if codes.credit:
        codes.org = codes.org or parse_credit_code(codes.credit).org_code
    if not (
        codes.credit or codes.org or codes.taxpayer or codes.account or codes.hint or attributes.get("name")
    ):
        return None  # the party is absent from this row (optional parties often are)
    record_id = str(record["id"])
    return Mention(
        id=mention_id(record_id, party),
        record_id=record_id,
        party=party,
        dataset=spec.key,
        department=spec.department,
        loaded_at=_shared(str(record.get("loaded_at") or "")),
        credit_code=_shared(codes.credit),
        org_code=_shared(codes.org),
        taxpayer_id=_shared(codes.taxpayer),
        account_no=_shared(codes.account),
        code_hint=_shared(codes.hint),
        relation=spec.parties[party].relation if party in spec.parties else "SUBJECT",
        attributes=attributes,
    )


def party_fields(
    spec: DatasetSpec, record: Mapping[str, Any], party: str
) -> dict[str, tuple[Any, ColumnSpec]]:
    """What one party's columns of a record say about it, each value with the column it came from (so a
    caller can apply that column's sharing): the attributes of :data:`ATTRIBUTE_ROLES` as
    :func:`_mention` takes them (the first column with a value), and ``credit_code``: the valid credit
    code (from any code column, as :class:`_Codes` reads them) or, failing that, the code as written
    that failed validation. A steward compares these with a candidate's golden record."""
    fields: dict[str, tuple[Any, ColumnSpec]] = {}
    credit: tuple[str, ColumnSpec] | None = None
    hint: tuple[str, ColumnSpec] | None = None
    for column in spec.columns:
        if column.party != party or column.role is None:
            continue
        value = record.get(column.field)
        if column.role in _CODE_ROLES:
            # One _Codes per column: the value must be traced to the column whose sharing applies.
            codes = _Codes()
            codes.take(column.role, value, record.get(f"{column.field}_invalid"))
            if codes.credit and credit is None:
                credit = (codes.credit, column)
            if codes.hint and hint is None:
                hint = (codes.hint, column)
        elif column.role in ATTRIBUTE_ROLES and value not in (None, ""):
            fields.setdefault(ATTRIBUTE_ROLES[column.role], (value, column))
    code = credit or hint
    if code is not None:
        fields["credit_code"] = code
    return fields
