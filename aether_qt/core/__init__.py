"""Shared plumbing every layer may use: the event bus and its payloads, paths, the
generation vocabulary, the one thread-and-job primitive and the words for turn states.

Nothing here imports another part of Aether; everything else may import it.
"""
