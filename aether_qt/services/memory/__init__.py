"""L2 in the app: the memory service (gated writes, recall for turns), the user's own
edits, and the host on the memory thread.
"""
