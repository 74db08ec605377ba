"""Aether: a local-first desktop AI companion.

Every side effect passes one policy gate (:mod:`aether_qt.policy`), and every
decision lands in a signed, tamper-evident audit log.
"""

__version__ = "0.1.0"
