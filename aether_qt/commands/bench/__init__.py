"""``aether bench``: one module per benchmark suite; :mod:`.suites` runs the chosen one."""
