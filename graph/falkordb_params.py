"""Statement parameters as FalkorDB takes them: a ``CYPHER name=value ...`` header, encoded once per value.

FalkorDB has no bound parameters over its protocol: the client writes every value into the statement's
text, quoting each string, on every call. A panorama's statements carry the same lists again and again
(the datasets a caller may see, the catalog's metric sources), and quoting them was a tenth of the API's
time per panorama. Here lists of strings are encoded once and remembered by value, and lists marked
:class:`~entgraph.graph.port.FrozenParam` (built once per process) by identity; everything else is
encoded as the client does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from falkordb.helpers import stringify_param_value

from entgraph.graph.port import FrozenParam

REMEMBERED = 512  # distinct lists of strings remembered (callers' sights, id batches repeat)
_FROZEN: dict[int, tuple[FrozenParam, str]] = {}


def header(params: Mapping[str, Any]) -> str:
    """``CYPHER `a`=1 `b`=["x"] `` for ``params`` (names were checked by the callers' Cypher)."""
    return "CYPHER " + "".join(f"`{name}`={encoded(value)} " for name, value in params.items())


def encoded(value: Any) -> str:
    if isinstance(value, FrozenParam):
        kept = _FROZEN.get(id(value))
        if kept is None or kept[0] is not value:
            if len(_FROZEN) >= REMEMBERED:  # they are built once each; this only bounds a surprise
                _FROZEN.clear()
            kept = _FROZEN[id(value)] = (value, stringify_param_value(list(value)))
        return kept[1]
    if isinstance(value, list | tuple) and len(value) > 8 and all(type(v) is str for v in value):
        return _strings(tuple(value))
    return stringify_param_value(value)


@functools.lru_cache(maxsize=REMEMBERED)
def _strings(values: tuple[str, ...]) -> str:
    return stringify_param_value(list(values))
