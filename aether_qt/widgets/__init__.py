"""The desktop surfaces (DESIGN.md §11): main window, conversation, quick talk, banners, trust centre, tray.

Widgets live on the GUI thread. They never import engines: the composition root
(:mod:`aether_qt.app`) passes them the policy runtime, the
:class:`~aether_qt.widgets.ports.Conversation` and the bus bridge as keyword-only
arguments, and they talk only to what they were given. Bus events reach them
through :class:`~aether_qt.core.bus.QtBusBridge`, queued to the GUI thread.
"""
