"""The keys and indexes of what resolution writes: enterprises, identifiers, judgements, tasks, runs.

Graph shape (see docs/graph-model.md):
    (:SourceRecord)-[:ABOUT {party, method, probability, resolved_at}]->(:Enterprise {id, ...golden})
    (:Enterprise)-[:REDIRECTS_TO]->(:Enterprise)     a merged-away id, forever
    (:Enterprise)-[:BRANCH_OF]->(:Enterprise)        a 分公司 and its parent
    (:Identifier {key})-[:IDENTIFIES]->(:Enterprise) a taxpayer id / utility account seen with a code
    (:Judgement {id, kind, subject, object, user, at, reason, undone})
    (:StewardTask {id, mention_key, status, candidates, ...})
    (:ResolutionRun {id, status, ...})

The statements are by subject: ``mention_queries`` (records to resolve and their ABOUT links),
``canonical_queries`` (enterprises, redirects, identifiers), ``judgement_queries``, ``task_queries``
and ``run_queries``. Every write there is an idempotent MERGE/SET, so a resolution killed half-way and
rerun converges.
"""

from __future__ import annotations

from entgraph.graph.port import GraphSchema, PropertyIndex, UniqueKey

RESOLUTION_SCHEMA = GraphSchema(
    unique=(
        UniqueKey("Enterprise", "id"),
        UniqueKey("Identifier", "key"),
        UniqueKey("Judgement", "id"),
        UniqueKey("StewardTask", "id"),
        UniqueKey("Person", "key"),
        UniqueKey("ResolutionRun", "id"),
    ),
    indexes=(
        PropertyIndex("Enterprise", "credit_code"),
        PropertyIndex("Enterprise", "org_code"),
        # the API's related-by-phone / by-address lookups and its town filter
        PropertyIndex("Enterprise", "phone"),
        PropertyIndex("Enterprise", "address"),
        PropertyIndex("Enterprise", "town"),
        PropertyIndex("StewardTask", "status"),
        PropertyIndex("Judgement", "subject"),
        PropertyIndex("Enterprise", "created_run"),
        PropertyIndex("ResolutionRun", "status"),
    ),
)
