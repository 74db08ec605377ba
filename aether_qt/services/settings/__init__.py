"""The settings services: what the Settings dialog changes, through the same functions as the commands."""
