"""A synthetic city (modelled on 晋江) for testing loading and entity resolution end to end.

``generate_city(n, seed, out_dir)`` builds a population of enterprises, individual businesses and
branches, writes one department file per dataset spec (headers from the spec, cells by column role
and type, names and codes with realistic noise, a few planted malformed rows) and the ground truth:
``truth/truth.csv`` (every data row -> its true enterprise), ``bad_rows.csv``, ``enterprises.csv``,
``hard_negatives.csv``, ``ambiguous.csv`` (the rows nobody can resolve: a shared core and nothing that
singles the enterprise out) and ``manifest.json``. ``profile=`` (a ``CityProfile`` or a name in ``PROFILES``)
shapes the city with other habits than 晋江's (docs/synthetic-profiles.md).
"""

from entgraph.synthetic.city import CitySummary, catalog_specs, generate_city
from entgraph.synthetic.noise import NoiseProfile
from entgraph.synthetic.population import Enterprise, Population, build_population
from entgraph.synthetic.profiles import PROFILES, CityProfile, FeedHabits, get_profile

__all__ = [
    "PROFILES",
    "CityProfile",
    "CitySummary",
    "Enterprise",
    "FeedHabits",
    "NoiseProfile",
    "Population",
    "build_population",
    "catalog_specs",
    "generate_city",
    "get_profile",
]
