"""The C-speed token count agrees with graphql-core's lexer, so refusing by it refuses what the parser
would, and nothing else."""

from __future__ import annotations

import random

import pytest
from graphql.language import Lexer, Source, TokenKind

from entgraph.api.graphql_client import FULL_PANORAMA, post_graphql
from entgraph.api.limits import MAX_TOKENS
from entgraph.api.token_count import count_tokens

PIECES = [
    "{", "}", "(", ")", "[", "]", ":", "!", "$v", "@skip", "=", "|", "&", "...", "...on T", "name",
    "_under_score9", "0", "-12", "3.25", "6.02e23", "-1.5E-3", '"plain # not a comment"',
    '"esc \\" \\\\ \\u00e9"', '"""block "quoted" and \\""" escaped"""', '"""multi\nline\n"""',
    "# a comment\n",
    ",", "\n", "\t", "\ufeff", "query", "mutation", "fragment F on T", "true", "null", "ENUM_VALUE",
]  # fmt: skip


def lexed(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


@pytest.mark.parametrize(
    "document",
    [
        FULL_PANORAMA,
        "query Q($v: [Int!]! = [1, 2]) { x(y: $v) @include(if: true) { ...on T { z } ...F } }",
        'mutation { a(input: {b: "x # y", c: """a "b" c""", d: -0.5}) { id } } # trailing',
        "{ " + " ".join(["me { role }"] * 500) + " }",
    ],
)
def test_the_count_is_the_lexers(document: str) -> None:
    assert count_tokens(document) == lexed(document)


def test_the_count_is_the_lexers_on_random_documents() -> None:
    rng = random.Random(15)
    for _ in range(500):
        document = " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 60)))
        assert count_tokens(document) == lexed(document), document


def test_a_document_over_the_token_limit_is_refused_unlexed(city_api, monkeypatch) -> None:
    from entgraph.api import limits

    def no_lexing(*args: object, **kwargs: object) -> None:
        raise AssertionError("lexed")

    monkeypatch.setattr(limits, "parse", no_lexing)
    document = "{ " + " ".join(f"a{k}: me {{ role }}" for k in range(MAX_TOKENS // 5)) + " }"
    assert count_tokens(document) > MAX_TOKENS
    body = post_graphql(city_api.client, document)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED" and "2000 tokens" in error["message"]
