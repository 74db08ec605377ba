"""The memory panel: list, search, provenance details and the user's edits."""
