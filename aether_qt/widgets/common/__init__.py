"""Small reusable widgets: the microphone level meter and the hotkey capture field."""
