"""L6 persona: strict YAML personas, the compiler, hot reload and character-card import (DESIGN.md §10).

Exports: :mod:`.loader` (size, depth, alias and tag limits; every error located
``path:line:col``), :mod:`.schema` and :mod:`.migrations` (schema version 1),
:mod:`.compiler` (:func:`~.compiler.load_and_compile` -> a frozen
:class:`~.compiled.CompiledPersona` with one part per layer and a content hash),
:mod:`.registry` (shipped and user personas, :class:`~.registry.PersonaChoice` for
the picker, the minimum-trust fallback), :mod:`.watcher`
(:class:`~.watcher.PersonaWatcher`, a debounced file watcher on QtCore) and the card
importers :mod:`.cards`, :mod:`.cards_png`, :mod:`.cards_persona`,
:mod:`.cards_import` (SillyTavern V2/V3 JSON and PNG cards as untrusted personas).

A persona proposes; the gate decides: policy defaults can only narrow.
"""
