"""A synthetic city (modelled on 晋江) for testing loading and entity resolution end to end.

``generate_city(n, seed, out_dir)`` builds a population of enterprises, individual businesses and
branches, writes one department file per dataset spec (headers from the spec, cells by column role
and type, names and codes with realistic noise, a few planted malformed rows) and the ground truth:
``truth/truth.csv`` (every data row -> its true enterprise), ``bad_rows.csv``, ``enterprises.csv``,
``hard_negatives.csv`` and ``manifest.json``.
"""

from entgraph.loaders.synthetic.city import CitySummary, catalog_specs, generate_city
from entgraph.loaders.synthetic.noise import NoiseProfile
from entgraph.loaders.synthetic.population import Enterprise, Population, build_population

__all__ = [
    "CitySummary",
    "Enterprise",
    "NoiseProfile",
    "Population",
    "build_population",
    "catalog_specs",
    "generate_city",
]
