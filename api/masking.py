"""Field-level masking: what each role sees of a field, from the catalog's sharing attributes.

Every column of every dataset spec carries a :class:`~entgraph.catalog.spec.Sharing` (dataset default,
overridable per column): its usage class in the city's data-sharing catalogue (无条件使用 / 有条件使用 /
不予共享), whether it is open to the public (面向社会开放), whether it is credit data (信用信息) and
whether it is personal data. :func:`policy` turns that and a role into one of three decisions:

========= ============================================================================================
role      sees
========= ============================================================================================
public    ``show`` 无条件使用 fields open to the public that are neither personal nor credit data;
          ``null`` for everything else
analyst   ``show`` 无条件使用 and 有条件使用 fields, credit data included; personal data ``mask``-ed;
          ``null`` for 不予共享
steward   ``show`` everything except 不予共享 (``null``)
admin     ``show`` everything
========= ============================================================================================

``null`` hides even whether a value exists; ``mask`` keeps enough to recognise a value one already
knows (138****5678, 张*, 350582********1234) without disclosing it. Both are pure functions, so the
whole role x attribute matrix is tested directly and resolvers stay thin.

A value the platform derived from records (an enterprise's golden address, town, park ...) is seen as
the column that stated it: :func:`strictest` picks, among the columns of the stating dataset that could
have, the one ``role`` sees least of.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from entgraph.api.auth import Role
from entgraph.catalog.spec import ColumnSpec, DatasetSpec, FieldType, Sharing, Usage
from entgraph.catalog.spec import Role as ColumnRole


class Decision(StrEnum):
    SHOW = "show"
    MASK = "mask"
    NULL = "null"


def policy(sharing: Sharing, role: Role) -> Decision:
    """What ``role`` sees of a field with ``sharing`` (the table in the module docstring)."""
    if not isinstance(role, Role):  # called per field and record: the common case skips the parse
        role = Role.parse(role)
    if role is Role.ADMIN:
        return Decision.SHOW
    if sharing.usage is Usage.NOT_SHARED:
        return Decision.NULL
    if role is Role.STEWARD:
        return Decision.SHOW
    if role is Role.ANALYST:
        return Decision.MASK if sharing.personal else Decision.SHOW
    # public
    public = sharing.usage is Usage.UNCONDITIONAL and sharing.open_to_public
    return Decision.SHOW if public and not (sharing.personal or sharing.credit) else Decision.NULL


class MaskKind(StrEnum):
    """How a personal value is masked; from the column's type or role (see :func:`mask_kind`)."""

    PHONE = "phone"  # keep the first 3 and last 4 digits: 138****5678
    PERSON_NAME = "person_name"  # keep the first character: 张三 -> 张*, 欧阳娜娜 -> 欧***
    ID_NUMBER = "id_number"  # keep the first 6 (region) and last 4: 350582********1234
    ACCOUNT = "account"  # keep the last 4: ************1234
    TEXT = "text"  # anything else (addresses ...): keep the first character, then ***


_NAME_ROLES = {ColumnRole.PERSON_NAME, ColumnRole.LEGAL_REPRESENTATIVE, ColumnRole.CONTACT_PERSON}


def mask_kind(column: ColumnSpec) -> MaskKind:
    if column.type is FieldType.PHONE or column.role is ColumnRole.PHONE:
        return MaskKind.PHONE
    if column.type is FieldType.ID_NUMBER or column.role is ColumnRole.ID_NUMBER:
        return MaskKind.ID_NUMBER
    if column.role in _NAME_ROLES:
        return MaskKind.PERSON_NAME
    if column.role in {ColumnRole.BANK_ACCOUNT, ColumnRole.ACCOUNT_NUMBER}:
        return MaskKind.ACCOUNT
    return MaskKind.TEXT


_STRICTNESS = {Decision.SHOW: 0, Decision.MASK: 1, Decision.NULL: 2}


def strictest(spec: DatasetSpec, columns: Sequence[ColumnSpec], role: Role) -> ColumnSpec | None:
    """Of ``columns`` of ``spec`` (those that may have stated a value: one per party, say the
    transferee's and the transferor's address), the one ``role`` sees least of; subject columns first
    among equals. None when there are none."""
    ranked = sorted(
        columns,
        key=lambda c: (-_STRICTNESS[policy(column_sharing(spec, c.field), role)], c.party != "subject"),
    )
    return ranked[0] if ranked else None


def column_sharing(spec: DatasetSpec, field: str) -> Sharing:
    """The sharing of ``spec``'s column ``field``: its own, else the dataset's default."""
    for column in spec.columns:
        if column.field == field:
            return column.sharing or spec.sharing
    raise KeyError(f"dataset {spec.key} has no field {field!r}")


def mask_value(kind: MaskKind | str, value: Any) -> str | None:
    """``value`` masked as ``kind``; None stays None. Short values are masked whole, so a mask never
    gives away most of a value (a 7-digit number keeps nothing, an 8-digit one only its last 4)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return text
    match MaskKind(kind):
        case MaskKind.PHONE:
            digits = sum(ch.isdigit() for ch in text)
            if digits >= 11:
                return _keep_digits(text, head=3, tail=4)
            if digits >= 8:
                return _keep_digits(text, head=0, tail=4)
            return _keep_digits(text, head=0, tail=0)
        case MaskKind.ID_NUMBER:
            if len(text) >= 15:  # 18-character (or old 15-digit) resident identity numbers
                return text[:6] + "*" * (len(text) - 10) + text[-4:]
            return "*" * len(text)
        case MaskKind.PERSON_NAME:
            return text[0] + "*" * max(len(text) - 1, 1)
        case MaskKind.ACCOUNT:
            if len(text) >= 8:
                return "*" * (len(text) - 4) + text[-4:]
            return "*" * len(text)
        case MaskKind.TEXT:
            return text[0] + "***"
    raise AssertionError(kind)  # pragma: no cover - MaskKind(kind) rejects anything else


def _keep_digits(text: str, head: int, tail: int) -> str:
    """Replace every digit except the first ``head`` and last ``tail`` with '*'; keep separators."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def apply(sharing: Sharing, role: Role, kind: MaskKind | str, value: Any) -> Any:
    """``value`` as ``role`` may see it: itself, masked, or None. What resolvers call per field."""
    decision = policy(sharing, role)
    if decision is Decision.SHOW:
        return value
    if decision is Decision.MASK:
        return mask_value(kind, value)
    return None
