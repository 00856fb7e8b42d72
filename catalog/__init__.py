"""The catalog of department feeds: dataset specs, their model, their registry and deadlines.

``spec`` (the model; one TOML per feed in ``specs/``), ``registry`` (built-in specs, integrators'
folders, entry points), ``timeliness`` (reporting deadlines) and ``markdown`` (docs/catalog.md)."""
