"""schema.graphql is the contract clients read; it must be exactly what the code serves."""

from pathlib import Path

from entgraph.api.schema import schema_sdl

REPO = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "schema.graphql drifted: run `entgraph export-schema`"
