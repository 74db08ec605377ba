"""What the user sees while the app builds itself (see :mod:`.shell`)."""
