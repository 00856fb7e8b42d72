"""Schemathesis in GraphQL mode against the served city (issue 15): generated queries for every root
field, over TCP to a production-mode server, must never meet an INTERNAL error or an HTTP 5xx.

The schema comes from ``schema.graphql`` (the exported SDL; production mode serves no introspection).
Queries are sent as an analyst (reads with masking) and anonymously; mutations need a steward, so the
generated ones are refused and the read-only city stays as it is. The number of examples per field is
bounded (``EXAMPLES``) to keep the suite's time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from entgraph.api.auth import Role

EXAMPLES = 6
SDL = Path(__file__).resolve().parents[2] / "schema.graphql"

pytestmark = pytest.mark.slow


# loaded at import from the SDL file (schemathesis' lazy fixture loader does not run on pytest 9)
schema = schemathesis.graphql.from_path(SDL)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_generated_queries_meet_no_internal_error(case, served) -> None:
    for headers in ({"X-API-Key": served.keys[Role.ANALYST]}, {}):
        response = case.call(base_url=f"{served.base}/graphql", headers=headers)
        assert response.status_code < 500, response.text[:500]
        body = response.json()
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        assert "INTERNAL" not in codes, (case.body, body)
        assert all(codes), body  # every error carries a code
