"""Who an enterprise is, as departments write it: codes and Chinese name normalisation.

Credit and organisation codes (``codes``), Chinese enterprise, person, phone and address normalisation
(``chinese_names``), and where a place is: coordinates and shapes as departments write them
(``geometry``). Pure functions, no I/O; loaders, resolution, telemetry and the API build on them."""
