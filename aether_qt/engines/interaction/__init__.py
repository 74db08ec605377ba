"""Package engines/interaction."""
