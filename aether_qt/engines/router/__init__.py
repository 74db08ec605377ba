"""Package engines/router."""
