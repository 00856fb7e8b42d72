"""Who an enterprise is, as departments write it: codes and Chinese name normalisation.

Credit and organisation codes (``codes``) and Chinese enterprise, person, phone and address normalisation
(``chinese_names``). Pure functions, no I/O; loaders, resolution and telemetry all build on them."""
