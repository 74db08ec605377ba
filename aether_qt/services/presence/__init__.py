"""L3 in the app: the host that runs the presence scheduler on its own thread and feeds
frames to whatever draws them.
"""
