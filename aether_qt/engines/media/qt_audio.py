"""Microphone capture and clip playback through QtMultimedia (DESIGN.md §8).

The only Qt module of the media engine. :class:`MicCapture` records 16 kHz mono
int16 from a ``QAudioSource`` and emits it chunk by chunk; :class:`ClipPlayer`
plays synthesised sentence clips back to back through one ``QAudioSink`` fed
in push mode, so it decides how much audio sits in the device buffer (little:
barge-in must cut the voice at once) and knows which clip is audible. While it
plays, a 60 Hz timer reads the sink's played position
(``processedUSecs``) and emits the precomputed loudness envelope of the clip
at that position: the avatar's mouth follows what is heard, not what was
written.

The microphone opens only under a capture lease that
:meth:`Effectors.start_capture <aether_qt.policy.effects.Effectors.start_capture>`
minted from a ``media.mic`` permit: :meth:`MicCapture.start` claims it at once
(a missing, forged or used lease raises and nothing opens) and the capture
checks it before it opens, for every chunk and every 100 ms; when the grant
behind it is revoked or expires, or the gate pauses, the capture stops without
handing out another chunk (``sig_capture_revoked``).

Both objects work in the thread they live in (the media thread in the app):
create them there, call their slots there or connect signals to them (queued
across threads). ``start`` and ``stop`` may be called from any thread: the work
is queued into the owner's thread (``stop`` waits for it), because Qt audio
objects may only be touched there. QtMultimedia needs a ``QCoreApplication``;
so does :func:`list_devices`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QIODevice, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSink, QAudioSource, QMediaDevices, QtAudio

from aether_qt.core.qt_threads import queue_into_own_thread
from aether_qt.engines.media.audio import (
    SAMPLE_RATE,
    WavError,
    array_to_pcm,
    pcm_to_array,
    read_wav,
    resample,
    rms,
)
from aether_qt.policy.leases import MICROPHONE, CaptureLease, CaptureLeases

if TYPE_CHECKING:
    from aether_qt.engines.media.tts import SynthResult

__all__ = ["ClipPlayer", "MicCapture", "list_devices"]

_log = logging.getLogger(__name__)

TICK_MS = 16  # ~60 Hz envelope
LEASE_CHECK_MS = 100  # a revoked capture stops within this even if no audio arrives
ENVELOPE_HZ = 60
_END_SLACK_S = 0.005


def list_devices() -> dict[str, list[dict[str, object]]]:
    """Audio inputs and outputs as plain data (``id``, ``description``, ``default``) for ``aether doctor``."""
    default_in = bytes(QMediaDevices.defaultAudioInput().id().data())
    default_out = bytes(QMediaDevices.defaultAudioOutput().id().data())

    def describe(devices: list[QAudioDevice], default: bytes) -> list[dict[str, object]]:
        return [
            {
                "id": _device_id(d),
                "description": d.description(),
                "default": bytes(d.id().data()) == default and bool(default),
            }
            for d in devices
        ]

    return {
        "inputs": describe(QMediaDevices.audioInputs(), default_in),
        "outputs": describe(QMediaDevices.audioOutputs(), default_out),
    }


def _device_id(device: QAudioDevice) -> str:
    return bytes(device.id().data()).decode("utf-8", "replace")


def _pick_device(
    devices: list[QAudioDevice], default: QAudioDevice, wanted: str | None
) -> QAudioDevice | None:
    """``wanted`` by exact id or description, then by substring (case ignored); else the default."""
    if not wanted:
        return None if default.isNull() else default
    key = wanted.lower()
    for exact in (True, False):
        for device in devices:
            names = (_device_id(device).lower(), device.description().lower())
            if any(key == n if exact else key in n for n in names):
                return device
    return None


def _mono_int16(rate: int) -> QAudioFormat:
    fmt = QAudioFormat()
    fmt.setSampleRate(rate)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return fmt


class _OwnThread(QObject):
    """Queues a slot into the object's own thread when called from another one."""

    def _defer(self, slot: str, *, blocking: bool = False) -> bool:
        return queue_into_own_thread(self, slot, blocking=blocking)


class MicCapture(_OwnThread):
    """Records 16 kHz mono int16 PCM from a microphone, only while its capture lease lives.

    Args:
        leases: the registry of the effectors whose ``start_capture`` mints the leases.
        device: input id or description (None = the system default).
        parent: the Qt parent.

    Signals:
        sig_chunk_captured(bytes): PCM as it arrives (any whole number of samples).
        sig_level_measured(float): the chunk's RMS, 0..1 (for a level meter).
        sig_error_occurred(str): no device, unsupported format, or the device failed.
        sig_capture_revoked(): the lease's grant ended; the capture stopped (nothing more is emitted).
    """

    sig_chunk_captured = Signal(bytes)
    sig_level_measured = Signal(float)
    sig_error_occurred = Signal(str)
    sig_capture_revoked = Signal()
    _sig_open_requested = Signal(object)  # a claimed CaptureLease, into the object's thread

    def __init__(
        self, *, leases: CaptureLeases, device: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._leases = leases
        self._wanted = device
        self._source: QAudioSource | None = None
        self._io: QIODevice | None = None
        self._lease: CaptureLease | None = None
        self._watch = QTimer(self)
        self._watch.setInterval(LEASE_CHECK_MS)
        self._watch.timeout.connect(self._on_watch_timeout)
        self._sig_open_requested.connect(self._on_open_requested)
        self.last_error = ""

    @property
    def running(self) -> bool:
        """True while recording."""
        return self._source is not None

    def start(self, lease: CaptureLease) -> None:
        """Record under ``lease`` (handed out by ``Effectors.start_capture``); idempotent while running.

        The lease is claimed here, in the caller's thread; the device opens in the
        object's thread (at once when that is the caller's). Other failures emit
        ``sig_error_occurred``.

        Raises:
            PermitError: no lease, a forged or used one, or one whose grant has ended
                (nothing is opened).
        """
        self._sig_open_requested.emit(self._leases.claim(lease, MICROPHONE))

    @Slot()
    def stop(self) -> None:
        """Stop recording (idempotent); audio already captured is emitted first if the lease lives."""
        if self._defer("stop", blocking=True):
            return
        self._close(flush=True)

    @Slot(object)
    def _on_open_requested(self, lease: CaptureLease) -> None:
        if self._source is not None:  # already recording under another lease
            self._leases.release(lease)
            return
        if not self._leases.alive(lease):  # revoked between the effector and this thread
            self._leases.release(lease)
            self.sig_capture_revoked.emit()
            return
        opened = self._open_source()
        if opened is None:
            self._leases.release(lease)
            return
        (self._source, self._io), self._lease = opened, lease
        self._watch.start()

    def _open_source(self) -> tuple[QAudioSource, QIODevice] | None:
        device = _pick_device(QMediaDevices.audioInputs(), QMediaDevices.defaultAudioInput(), self._wanted)
        if device is None:
            self._fail(f"no microphone {self._wanted!r}" if self._wanted else "no microphone")
            return None
        fmt = _mono_int16(SAMPLE_RATE)
        if not device.isFormatSupported(fmt):
            self._fail(f"the microphone {device.description()!r} cannot record 16 kHz mono 16-bit")
            return None
        source = QAudioSource(device, fmt, self)
        io = source.start()
        if io is None or source.error() != QtAudio.Error.NoError:
            self._fail(f"the microphone {device.description()!r} cannot start ({source.error().name})")
            source.deleteLater()
            return None
        io.readyRead.connect(self._on_io_ready_read)
        source.stateChanged.connect(self._on_source_state_changed)
        return source, io

    def _close(self, *, flush: bool) -> None:
        if self._source is None:
            return
        self._watch.stop()
        if flush:
            self._pump()
        source, lease = self._source, self._lease
        self._source, self._io, self._lease = None, None, None
        source.stop()
        source.deleteLater()
        if lease is not None:
            self._leases.release(lease)

    def _pump(self) -> bool:
        """Hand out what the device holds if the lease lives; False (and nothing out) once it has ended."""
        if self._io is None:
            return True
        data = bytes(self._io.readAll().data())
        if self._lease is None or not self._leases.alive(self._lease):
            return False
        if data:
            self.sig_chunk_captured.emit(data)
            self.sig_level_measured.emit(rms(pcm_to_array(data)))
        return True

    def _revoked(self) -> None:
        self._close(flush=False)
        _log.info("microphone: stopped, its permission ended")
        self.sig_capture_revoked.emit()

    def _fail(self, message: str) -> None:
        self.last_error = message
        _log.warning("microphone: %s", message)
        self.sig_error_occurred.emit(message)

    @Slot()
    def _on_io_ready_read(self) -> None:
        if not self._pump():
            self._revoked()

    @Slot()
    def _on_watch_timeout(self) -> None:
        if self._lease is not None and not self._leases.alive(self._lease):
            self._revoked()

    @Slot(QtAudio.State)
    def _on_source_state_changed(self, state: QtAudio.State) -> None:
        source = self._source
        if (
            source is not None
            and state == QtAudio.State.StoppedState
            and source.error() != QtAudio.Error.NoError
        ):
            self._fail(f"the microphone stopped ({source.error().name})")
            self.stop()


@dataclass(frozen=True, slots=True)
class _Segment:
    """Where one clip sits in the byte stream of the current playback session."""

    clip: SynthResult
    start: int
    end: int


class ClipPlayer(_OwnThread):
    """Plays clips in the order given, emitting the mouth envelope while they are heard.

    Signals:
        sig_clip_started(object): a :class:`~.tts.SynthResult` became audible.
        sig_envelope_sampled(float): loudness 0..1 at the played position, ~60 Hz (0.0 at the end).
        sig_playback_finished(bool): the queue ran out (True) or :meth:`stop` cut it (False).
        sig_error_occurred(str): no output device, unsupported format, unreadable clip.
    """

    sig_clip_started = Signal(object)
    sig_envelope_sampled = Signal(float)
    sig_playback_finished = Signal(bool)
    sig_error_occurred = Signal(str)

    def __init__(
        self,
        *,
        device: str | None = None,
        sample_rate: int = 22_050,
        buffer_ms: int = 100,
        parent: QObject | None = None,
    ) -> None:
        """Prepare a player; the output opens with the first clip.

        Args:
            device: output id or description (None = the system default).
            sample_rate: the rate clips are played at (espeak-ng writes 22050 Hz); others are resampled.
            buffer_ms: audio queued in the device: what can still be heard after :meth:`stop`.
            parent: the Qt parent.
        """
        super().__init__(parent)
        self._wanted = device
        self._rate = sample_rate
        self._buffer_bytes = max(2, sample_rate * 2 * buffer_ms // 1000) & ~1
        self._sink: QAudioSink | None = None
        self._io: QIODevice | None = None
        self._unwritten = bytearray()
        self._segments: deque[_Segment] = deque()
        self._total = 0  # bytes enqueued in this session
        self._current: _Segment | None = None
        self._timer: QTimer | None = None
        self.last_error = ""

    @property
    def playing(self) -> bool:
        """True while a playback session is open."""
        return self._sink is not None

    @Slot(object)
    def enqueue(self, clip: SynthResult) -> None:
        """Play ``clip`` after the ones already queued (starts playing when idle)."""
        try:
            audio = clip.audio if clip.audio is not None else read_wav(clip.path)
        except WavError as exc:
            self._fail(f"cannot play {clip.path}: {exc}")
            return
        samples = (
            audio.samples if audio.rate == self._rate else resample(audio.samples, audio.rate, self._rate)
        )
        pcm = array_to_pcm(samples)
        if self._sink is None and not self._open():
            return
        self._segments.append(_Segment(clip=clip, start=self._total, end=self._total + len(pcm)))
        self._total += len(pcm)
        self._unwritten += pcm
        self._write()

    @Slot()
    def stop(self) -> None:
        """Cut the audio now and drop every queued clip (barge-in; idempotent)."""
        if self._defer("stop", blocking=True):
            return
        self._close(completed=False)

    # ------------------------------------------------------------------ internals

    def _open(self) -> bool:
        device = _pick_device(QMediaDevices.audioOutputs(), QMediaDevices.defaultAudioOutput(), self._wanted)
        if device is None:
            self._fail(f"no audio output {self._wanted!r}" if self._wanted else "no audio output")
            return False
        fmt = _mono_int16(self._rate)
        if not device.isFormatSupported(fmt):
            self._fail(f"the audio output {device.description()!r} cannot play {self._rate} Hz mono 16-bit")
            return False
        sink = QAudioSink(device, fmt, self)
        sink.setBufferSize(self._buffer_bytes)
        io = sink.start()
        if io is None or sink.error() != QtAudio.Error.NoError:
            self._fail(f"the audio output {device.description()!r} cannot start ({sink.error().name})")
            sink.deleteLater()
            return False
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setTimerType(Qt.TimerType.PreciseTimer)
            self._timer.timeout.connect(self._on_timer_timeout)
        self._sink, self._io = sink, io
        self._timer.start(TICK_MS)
        return True

    def _close(self, *, completed: bool) -> None:
        sink, self._sink, self._io = self._sink, None, None
        if self._timer is not None:
            self._timer.stop()
        self._unwritten.clear()
        self._segments.clear()
        self._total, self._current = 0, None
        if sink is None:
            return
        if not completed:
            sink.reset()  # drop what the device still holds, then detach: silence at once
        sink.stop()
        sink.deleteLater()
        self.sig_envelope_sampled.emit(0.0)
        self.sig_playback_finished.emit(completed)

    def _write(self) -> None:
        if self._sink is None or self._io is None or not self._unwritten:
            return
        room = min(self._sink.bytesFree(), len(self._unwritten)) & ~1
        if room <= 0:
            return
        written = self._io.write(bytes(self._unwritten[:room]))
        if written > 0:
            del self._unwritten[:written]

    def _fail(self, message: str) -> None:
        self.last_error = message
        _log.warning("audio output: %s", message)
        self.sig_error_occurred.emit(message)

    @Slot()
    def _on_timer_timeout(self) -> None:
        sink = self._sink
        if sink is None:
            return
        self._write()
        if sink.error() not in (QtAudio.Error.NoError, QtAudio.Error.UnderrunError):
            self._fail(f"the audio output failed ({sink.error().name})")
            self._close(completed=False)
            return
        played = int(sink.processedUSecs() * self._rate // 1_000_000) * 2
        while self._segments and played >= self._segments[0].start:
            self._current = self._segments.popleft()
            self.sig_clip_started.emit(self._current.clip)
        self.sig_envelope_sampled.emit(self._envelope_at(played))
        drained = played >= self._total - int(_END_SLACK_S * self._rate) * 2
        if (
            not self._unwritten
            and not self._segments
            and (drained or sink.state() == QtAudio.State.IdleState)
        ):
            self._close(completed=True)

    def _envelope_at(self, played: int) -> float:
        segment = self._current
        if segment is None or played >= segment.end:
            return 0.0
        index = int((played - segment.start) / 2 / self._rate * ENVELOPE_HZ)
        envelope = segment.clip.envelope
        return float(envelope[index]) if 0 <= index < len(envelope) else 0.0
