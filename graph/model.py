"""The platform's graph schema: node keys and indexes every writer and reader relies on.

Labels and their meaning are documented in docs/graph-model.md; each package adds the keys it needs
here, in one place, so that one ``ensure_schema`` call prepares any store.
"""

from entgraph.graph.port import FullTextIndex, GraphSchema, PropertyIndex, UniqueKey

PLATFORM_SCHEMA = GraphSchema(
    unique=(UniqueKey("Enterprise", "id"),),
    indexes=(PropertyIndex("Enterprise", "credit_code"),),
    fulltext=(FullTextIndex("Enterprise", ("name_tokens",)),),
)
