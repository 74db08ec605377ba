"""The avatar (DESIGN.md §9): a GLSL character, a QPainter twin without OpenGL, and snapshots.

Only value types come from the presence engine (:mod:`aether_qt.engines.presence.frame`);
the avatar draws the newest :class:`BehaviorFrame` and never decides behaviour.
"""
