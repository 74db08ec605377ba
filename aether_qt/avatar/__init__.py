"""Package avatar."""
