"""schema.graphql is the contract clients read; it must be exactly what the code serves."""

from pathlib import Path

from entgraph.api.schema import schema_sdl

REPO = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "schema.graphql drifted: run `entgraph export-schema`"


def test_openapi_json_matches_the_code() -> None:
    """docs/openapi.json (uploads and docking) is what the app serves at /openapi.json."""
    from entgraph.api.app import openapi_document

    committed = (REPO / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_document(), (
        "docs/openapi.json drifted: run `entgraph export-schema --openapi`"
    )
    assert {"/uploads", "/docking/{dataset}", "/docking/{dataset}/batches"} <= set(
        __import__("json").loads(committed)["paths"]
    )


def test_the_demos_example_queries_are_valid_and_within_the_default_limits() -> None:
    """Each printed example validates and stays within the default depth, alias and cost limits (the
    served demo test runs them as printed, for the role each names)."""
    from graphql import build_schema, parse, validate

    from entgraph.api.limits import Limits, limit_errors
    from entgraph.demo_examples import DemoFacts, examples

    schema = build_schema(schema_sdl())
    every = examples(DemoFacts("E-91350582MA0000001X", "E-91350582MA0000002X", "陈埭镇"))
    assert len(every) == 10, "an example left out although every fact was found"
    for example in every:
        document = parse(example.query)
        assert validate(schema, document) == [], example.query
        assert limit_errors(Limits(), schema, document, None, None) == [], example.query
    assert len(examples(DemoFacts())) == 6  # without facts, no example names a placeholder
