"""L1 in the app: the conductor that runs a turn, the tool runner, pending actions,
the conversation protocol the widgets drive and its host on the interaction and
router threads.
"""
