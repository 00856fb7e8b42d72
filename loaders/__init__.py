"""Department feeds -> validated, normalised source records with row-level error reports."""
