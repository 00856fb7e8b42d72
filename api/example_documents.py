"""GraphQL documents the documentation and the benchmarks use: registered with the server from the start.

Each is a persisted query the server knows by its SHA-256 (``api/persisted_queries.py``), like the
console's own documents, so a front-end copying one can send its hash, and a role held to registered
documents may run it.
"""

from __future__ import annotations

# An enterprise's full panorama (all but chain neighbours): the tests count its store round trips and
# bench/api.py times it.
FULL_PANORAMA = """
query ($id: String) { enterprise(id: $id) {
  id creditCode name kind provisional formerNames redirectedFrom
  legalRep phone address town industryCode entityType registeredCapital established status
  goldenRecord { field value sourceRecordId dataset department }
  sourceRecords(first: 100) { id dataset department fileName sheet row loadedAt party method probability }
  parent { id name } branches { id name }
  towns { name } parks { name } industries { code name }
  chains { name position year } honours { key kind recognisedOn }
  creditEvents { key kind } parcels { key party } mortgages { key role amount }
  related(first: 20) { reason enterprise { id name phone } }
  metrics { metric unit dataset points { period value } }
  meters { meterId utility via shared lastReadingAt
    series(interval: DAY) { unit points { start value quality } } }
  warnings { id rule status period messageZh }
  fieldChecks { id statusSeen checkedAt checkedBy }
} }
"""

REGISTERED_EXAMPLES: tuple[str, ...] = (FULL_PANORAMA,)
