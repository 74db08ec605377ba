"""Voice in the app: push-to-talk, the gated microphone, recognition and spoken replies
(the host), and the chunker that feeds speech as a reply streams.
"""
