"""Package engines/media."""
