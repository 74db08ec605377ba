"""The desktop surfaces (DESIGN.md §11): main window, posture banners, trust centre, tray.

Widgets live on the GUI thread. They never import engines: the composition root
(:mod:`aether_qt.app`) passes them the policy runtime and other collaborators as
keyword-only arguments, and they talk only to what they were given.
"""
