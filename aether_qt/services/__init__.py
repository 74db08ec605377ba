"""Each layer as the running app uses it: services and the hosts that own their threads.

A service calls its engine through small ports and asks the gate (through
:mod:`aether_qt.services.gate`) before any side effect; a host owns the QThread
the service runs in (:mod:`aether_qt.core.qt_threads`). Services never import
widgets or the avatar: the composition root hands widgets what they need.
"""
