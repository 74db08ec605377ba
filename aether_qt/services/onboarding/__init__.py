"""The onboarding wizard's service side: first-start state, the keyring probe, applying the choices."""
