"""entgraph: knowledge-graph entity resolution for a city's industrial-economy data.

The platform's packages live in the repository's top-level folders and are imported under this
namespace: ``entgraph.loaders``, ``entgraph.resolution``, ``entgraph.graph``, ``entgraph.telemetry``
and ``entgraph.api``. This package holds only what they all share: settings, errors and the CLI.
"""

__version__ = "0.1.0"
