"""Mentions and enterprises -> the feature rows the matcher compares (one schema for both sides).

The left side is one row per distinct mention profile (identical mentions are scored once); the right
side one row per name an enterprise is known by (current name, former names, trusted variants), so an
old name or a department's abbreviation still finds its enterprise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from entgraph.identity.chinese_names import (
    NameParts,
    core_pinyin,
    normalise_address,
    normalise_person_name,
    normalise_phone,
    parse_name,
    trade_name_pinyin,
)
from entgraph.resolution.mentions import Mention

# what a name gives (name_features), then what the record's other columns give
NAME_FEATURES = (
    "raw_name",
    "name",
    "name_core",
    "trade_name",
    "trade_pinyin",
    "core_pinyin",
    "legal_form",
    "branch",
    "region",
)
FEATURE_COLUMNS = (
    "unique_id",
    "enterprise_id",
    *NAME_FEATURES,
    "legal_rep",
    "contact",
    "phone",
    "address",
    "town",
    "industry",
    "code_hint",
)


_SCHEMA = pa.schema([(name, pa.string()) for name in FEATURE_COLUMNS])


def to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Feature rows as the Arrow table the matcher reads (every column text, nulls kept)."""
    return pa.Table.from_pylist(
        [{c: (None if row.get(c) is None else str(row.get(c))) for c in FEATURE_COLUMNS} for row in rows],
        schema=_SCHEMA,
    )


def name_features(raw: str | None) -> dict[str, Any]:
    parts: NameParts | None = parse_name(raw) if raw else None
    if parts is None:
        return dict.fromkeys(NAME_FEATURES)
    return {
        "raw_name": str(raw).strip(),
        "name": parts.normalised or None,
        "name_core": parts.core or None,
        "trade_name": parts.trade_name or None,
        "trade_pinyin": trade_name_pinyin(parts) or None,
        "core_pinyin": core_pinyin(parts) or None,
        "legal_form": parts.legal_form,
        "branch": parts.branch,
        "region": parts.region_code,
    }


def _industry(value: Any) -> str | None:
    text = str(value).strip() if value not in (None, "") else ""
    return text or None


def attribute_features(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "legal_rep": normalise_person_name(_text(attributes.get("legal_rep"))),
        "contact": normalise_person_name(_text(attributes.get("contact"))),
        "phone": normalise_phone(_text(attributes.get("phone"))),
        "address": normalise_address(_text(attributes.get("address"))),
        "town": _text(attributes.get("town")),
        "industry": _industry(attributes.get("industry_code")),
    }


def mention_features(mention: Mention) -> dict[str, Any]:
    """Feature row of a mention, without ``unique_id`` (see ``profile_id``)."""
    row = {"enterprise_id": None, **name_features(mention.name), **attribute_features(mention.attributes)}
    row["code_hint"] = mention.code_hint
    return row


_FORMER_NOTE = re.compile(r"^(?:原名|曾用名|原企业名称)[:：]?")
_NAME_LIST = re.compile(r"[;；,，、/\n]+")


def former_names(mention: Mention) -> list[str]:
    """The names a mention says its enterprise had before (a 曾用名 column, or 原名：... written in the
    name cell), other than the one it is written with."""
    written = _NAME_LIST.split(_text(mention.attributes.get("former_name")) or "")
    parts = parse_name(mention.name) if mention.name else None
    if parts is not None:
        written += [_FORMER_NOTE.sub("", note) for note in parts.notes if _FORMER_NOTE.match(note)]
    out = []
    for name in dict.fromkeys(n.strip() for n in written):
        former = parse_name(name) if name else None
        if former is not None and former.core and former.normalised != (parts and parts.normalised):
            out.append(name)
    return out


def profile_id(features: Mapping[str, Any]) -> str:
    """Identical feature rows share an id, so a name repeated over 12 monthly rows is scored once."""
    text = "\x1f".join(str(features.get(c) or "") for c in FEATURE_COLUMNS[2:])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def enterprise_rows(
    enterprise: Mapping[str, Any], answers_for: str | None = None
) -> Iterable[dict[str, Any]]:
    """One right-side row per known name of an enterprise (its props as stored in the graph).

    ``answers_for``: the id a match counts for (a merged-away enterprise answers for its survivor).
    """
    names = list(
        dict.fromkeys(
            [
                enterprise.get("name"),
                *(enterprise.get("names") or []),
                *(enterprise.get("former_names") or []),
            ]
        )
    )
    attributes = attribute_features(enterprise)
    for k, name in enumerate(n for n in names if n):
        yield {
            "unique_id": f"{enterprise['id']}#{k}",
            "enterprise_id": answers_for or enterprise["id"],
            **name_features(name),
            **attributes,
            "code_hint": enterprise.get("credit_code"),
        }


def signature(mention: Mention) -> str | None:
    """The key a steward's decision about a name is remembered under: normalised name + town."""
    parts = parse_name(mention.name) if mention.name else None
    if parts is None or not parts.normalised:
        return None
    return f"{parts.normalised}|{_text(mention.attributes.get('town')) or ''}"


def _text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return str(value).strip() or None
