"""Package engines/presence."""
