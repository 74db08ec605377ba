"""Package engines/memory."""
