"""The onboarding wizard's voice and model pages as the running app serves them.

:class:`~aether_qt.services.onboarding_media.media.OnboardingMedia` satisfies
the pages' ports (:mod:`aether_qt.widgets.onboarding.media_ports`): the
microphone test, the speech-model and catalogue downloads and the remote
endpoint's connection test, each the user's act through the gate, on worker
threads. :func:`~aether_qt.services.onboarding_media.remote.save_remote_provider`
is what Finish calls for a remote choice.
"""
