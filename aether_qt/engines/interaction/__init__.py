"""L1 interaction: the turn FSM, the turn clock, the reflex classifier and phrase pools (DESIGN.md §4).

Pure Python (no Qt): the conductor drives these from the interaction thread.
"""
