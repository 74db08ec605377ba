"""The gate as services use it: every decision published on the bus (the gate-on-bus
adapter) and the rule that a user's own act answers its Ask.
"""
