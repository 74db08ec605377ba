"""L6 in the app: the active persona (swaps at turn boundaries, gate defaults) and the
host running the file watcher on the persona thread.
"""
