"""Paging for every list of the API: one cap on ``first``, one ``PageInfo``, one cursor codec.

A cursor is opaque to clients: URL-safe base64 of ``<kind>:<position>``, the position a key as text or
a JSON array (a sort key and an id). The kind is the list's (``enterprise``, ``parcel``, ``warning``
...), so a cursor from one list is refused by another with ``BAD_INPUT`` rather than misread.
Positions are keysets: a page costs the same however deep it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import strawberry

from entgraph.api.client_errors import BadInput

MAX_PAGE = 100  # hard cap on ``first`` of every list (the cost limit assumes lists honour it)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def check_first(first: int) -> int:
    if first < 0 or first > MAX_PAGE:
        raise BadInput(f"first must be between 0 and {MAX_PAGE}", argument="first", max=MAX_PAGE)
    return first


def encode_cursor(kind: str, position: str | list[Any]) -> str:
    """The cursor of ``position`` in a list of ``kind``."""
    text = position if isinstance(position, str) else json.dumps(position, ensure_ascii=False)
    return base64.urlsafe_b64encode(f"{kind}:{text}".encode()).decode()


def decode_cursor(kind: str, cursor: str, json_position: bool = False) -> Any:
    """The position ``cursor`` holds, if this API issued it for a list of ``kind``; else ``BAD_INPUT``."""
    text = cursor_text(cursor)
    if text.startswith(f"{kind}:"):
        position = text.removeprefix(f"{kind}:")
        if not json_position:
            return position
        try:
            return json.loads(position)
        except ValueError:
            pass
    raise BadInput("after is not a cursor this field returned", argument="after")


def cursor_text(cursor: str) -> str:
    """What a cursor says (empty when it is not base64 text)."""
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
