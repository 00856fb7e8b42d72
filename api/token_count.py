"""How many tokens a GraphQL document holds, counted by one regular expression (in C), not the lexer.

graphql-core lexes in Python at about 7 µs a token, so refusing a document over the token limit by
lexing it costs the limit's worth of CPU (2,000 tokens: 14 ms) every time a stranger sends a new one;
four anonymous clients doing so held a dashboard's panoramas at twice their idle latency. This count
takes a few hundred microseconds, and documents over the limit are refused on it before the lexer sees
them (``api/limits.py``). It counts as the lexer does: a string (plain or block) is one token, a comment
and whitespace none, and every name, number, ``...`` and punctuator one; a character the lexer would
refuse counts one, so a document this passes is left for the parser to judge.
"""

from __future__ import annotations

import re

_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*(?:"""|$)'  # block string (an unterminated one runs to the end)
    r'|"(?:[^"\\\n\r]|\\.)*"?'  # string
    r"|#[^\n\r]*"  # comment
    r"|\.\.\."
    r"|-?[0-9][0-9A-Za-z_.+-]*"  # number (the lexer refuses malformed ones: one token either way)
    r"|[A-Za-z_][A-Za-z0-9_]*"
    r"|[^\s,\ufeff]",  # punctuator, or any other character
)


def count_tokens(document: str) -> int:
    """The tokens of ``document`` as graphql-core's lexer counts them (comments not counted)."""
    found = _TOKENS.findall(document)
    return len(found) - sum(1 for token in found if token[0] == "#")
