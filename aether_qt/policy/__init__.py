"""Package policy."""
