"""L3 presence: the behaviour scheduler that turns turn states into avatar frames (DESIGN.md §9).

Pure logic: (turn state, persona look, mouth envelope, clock) ->
:class:`~.frame.BehaviorFrame`. Exports: :mod:`.frame` (the frame and
:class:`~.frame.Behaviour`), :mod:`.mapping` (state -> behaviour, priority, tint),
:mod:`.blink` and :mod:`.gaze` (jittered blinks, fixations), :mod:`.scheduler`
(:class:`~.scheduler.PresenceScheduler`) and :mod:`.worker`
(:class:`~.worker.PresenceWorker`, the scheduler on a QtCore timer fed by bus
events). The avatar (:mod:`aether_qt.avatar`) only draws frames.
"""
