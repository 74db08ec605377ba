"""Bodies of the ``aether`` sub-commands, one module per command group; ``bench/`` holds the benchmarks.

:mod:`aether_qt.cli` only parses; each handler here opens what it needs
(usually the policy runtime through :func:`~aether_qt.commands.session.policy_runtime`)
and prints a table or JSON (:mod:`.output`).
"""
