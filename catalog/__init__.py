"""The catalog of department feeds: dataset specs (``specs/*.toml``), their model, the registry that
finds them (built-in, integrators' folders, entry points), reporting deadlines and the catalog page."""
