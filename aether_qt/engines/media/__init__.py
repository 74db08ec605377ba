"""Media: speech in and out, audio devices and push-to-talk (DESIGN.md §8).

Exports: :mod:`.audio` (PCM and WAV helpers, resampling, the 60 Hz loudness
envelope), :mod:`.stt` (vosk streaming recognition: :class:`~.stt.SpeechRecognizer`,
:func:`~.stt.load_model`), :mod:`.stt_models` (the fetchable model catalogue and a
safe unpacker), :mod:`.tts` (:class:`~.tts.Speaker`: pyttsx3 on one dedicated thread,
one WAV per sentence), :mod:`.voices` and :mod:`.pyttsx3_driver` (voice choice,
espeak-ng settings), :mod:`.sentence_speech` (:class:`~.sentence_speech.SpeechQueue`:
sentences in, clips out in order, cancellable), :mod:`.qt_audio`
(:class:`~.qt_audio.MicCapture` and :class:`~.qt_audio.ClipPlayer` on QtMultimedia)
and :mod:`.hotkeys` (push-to-talk backends: X11 grab, pynput, in-window), with
:mod:`.portal_protocol` and :mod:`.portal_shortcuts` (Wayland: the desktop portal's
GlobalShortcuts).

The microphone is opened only through the effectors (``media.mic``); the voice
service (:mod:`aether_qt.services.voice`) wires these to the conversation.
"""
