"""Package widgets."""
