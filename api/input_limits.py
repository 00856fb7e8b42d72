"""Input limits: what one document and its variables may hold, checked before any validation rule runs.

The depth, alias and cost limits (``api/limits.py``) bound what a query may cost the store. These bound
what it may cost the API process itself, and what it may send on to the store:

- **strings** (``ENTGRAPH_API_MAX_STRING_LENGTH``, default 1000 characters): every string literal of
  the document and every string inside the variables. A search term, an id or a filter value longer
  than that is no one's real input, and the store's text functions grow with the length.
- **lists** (``ENTGRAPH_API_MAX_LIST_LENGTH``, default 1000 items): every list literal and list value
  of the variables.
- **NUL**: no string may contain U+0000; the store's wire protocol cuts text parameters at it.
- **selections** (``ENTGRAPH_API_MAX_SELECTIONS``, default 1500): field selections in the document,
  each fragment definition counted once.
- **repeats** (``MAX_REPEATS``): one response name at most that many times in one selection set.
  graphql-core's overlapping-fields rule compares same-named fields pairwise: 500 × ``me { role }``
  cost it seconds of CPU on the event loop. No real client repeats a field 20 times in one place.

Refusals are ``LIMIT_EXCEEDED`` (``extensions.limit``, ``max``, ``actual``), NUL is ``BAD_INPUT``; the
messages never echo the offending value. Checking is one pass over the document's nodes and one over
the variables, with an explicit stack (a deeply nested variable cannot exhaust Python's recursion).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    Node,
    SelectionSetNode,
    StringValueNode,
)

from entgraph.api.client_errors import ErrorCode
from entgraph.settings import Settings

MAX_REPEATS = 20
MAX_VARIABLE_DEPTH = 32


@dataclass(frozen=True)
class InputLimits:
    max_string: int = 1000
    max_list: int = 1000
    max_selections: int = 1500

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(settings.api_max_string_length, settings.api_max_list_length, settings.api_max_selections)


def input_limit_error(what: str, limit: str, actual: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        f"{what} exceeds the {limit} limit: {actual} > {maximum}",
        extensions={"code": ErrorCode.LIMIT_EXCEEDED.value, "limit": limit, "max": maximum, "actual": actual},
    )


def _nul(where: str) -> GraphQLError:
    return GraphQLError(
        f"{where} contains the NUL character (U+0000), which no value may hold",
        extensions={"code": ErrorCode.BAD_INPUT.value},
    )


def _nodes(document: DocumentNode) -> Iterator[Node]:
    """Every AST node of the document, depth first, without recursion."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        yield node
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, Node):
                stack.append(child)
            elif isinstance(child, tuple | list):
                stack.extend(c for c in child if isinstance(c, Node))


def document_errors(limits: InputLimits, document: DocumentNode) -> list[GraphQLError]:
    """The first refusal the document itself earns (an empty list when it has none)."""
    selections = 0
    for node in _nodes(document):
        if isinstance(node, StringValueNode):
            if "\x00" in node.value:
                return [_nul("a string of the query")]
            if len(node.value) > limits.max_string:
                return [
                    input_limit_error(
                        "a string of the query", "string_length", len(node.value), limits.max_string
                    )
                ]
        elif isinstance(node, ListValueNode) and len(node.values) > limits.max_list:
            return [
                input_limit_error("a list of the query", "list_length", len(node.values), limits.max_list)
            ]
        elif isinstance(node, FieldNode):
            selections += 1
        elif isinstance(node, SelectionSetNode):
            names = Counter((s.alias or s.name).value for s in node.selections if isinstance(s, FieldNode))
            name, repeats = names.most_common(1)[0] if names else ("", 0)
            if repeats > MAX_REPEATS:
                return [input_limit_error(f"field {name!r}", "repeats", repeats, MAX_REPEATS)]
    if selections > limits.max_selections:
        return [input_limit_error("the query", "selections", selections, limits.max_selections)]
    return []


def variable_errors(limits: InputLimits, variables: Mapping[str, Any] | None) -> list[GraphQLError]:
    """The first refusal the variables earn: a string or list too long, a NUL, or nesting too deep."""
    stack: list[tuple[str, Any, int]] = [(name, value, 1) for name, value in (variables or {}).items()]
    while stack:
        name, value, depth = stack.pop()
        where = f"variable ${name}"
        if depth > MAX_VARIABLE_DEPTH:
            return [input_limit_error(where, "nesting", depth, MAX_VARIABLE_DEPTH)]
        if isinstance(value, str):
            if "\x00" in value:
                return [_nul(where)]
            if len(value) > limits.max_string:
                return [input_limit_error(where, "string_length", len(value), limits.max_string)]
        elif isinstance(value, list):
            if len(value) > limits.max_list:
                return [input_limit_error(where, "list_length", len(value), limits.max_list)]
            stack.extend((name, item, depth + 1) for item in value)
        elif isinstance(value, dict):
            if len(value) > limits.max_list:
                return [input_limit_error(where, "list_length", len(value), limits.max_list)]
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    return [_nul(where)]
                stack.append((name, item, depth + 1))
    return []
