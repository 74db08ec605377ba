"""Bodies of the ``aether`` sub-commands, one module per command group."""
