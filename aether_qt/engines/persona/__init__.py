"""Package engines/persona."""
