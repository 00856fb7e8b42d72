"""Facts worked out once per spec (or per set of bound columns) and reused for every row.

A row's links, identity check and period are loops over a few tuples instead of over every column's
pydantic attributes (pydantic attribute reads and enum lookups made those three a third of a row's
parse time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


_PLANS: dict[tuple[int, str], tuple[object, Any]] = {}


def planned(owner: object, name: str, build: Callable[[], T]) -> T:
    """``build()``'s value for ``owner`` (a spec, a list of bound columns) under ``name``, built once."""
    cached = _PLANS.get((id(owner), name))
    if cached is not None and cached[0] is owner:
        return cached[1]
    if len(_PLANS) > 10_000:  # a long-lived process loading many files: start over, never grow unbounded
        _PLANS.clear()
    value = build()
    _PLANS[(id(owner), name)] = (owner, value)  # the owner is kept, so its id cannot be reused meanwhile
    return value
