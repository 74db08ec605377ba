"""Engines: the pure logic of each layer, one package per layer (DESIGN.md §2).

Engines use no Qt widgets and never import each other (import-linter contracts
say so); the services in :mod:`aether_qt.services` connect them to the gate, the
bus and their threads. An engine may import :mod:`aether_qt.policy` value types
and :mod:`aether_qt.core`.
"""
