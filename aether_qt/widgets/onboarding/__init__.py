"""The first-run onboarding wizard: its pages collect choices, the wizard applies them at the end."""
