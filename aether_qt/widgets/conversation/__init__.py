"""The conversation surface: the view with the avatar, the transcript and the input."""
