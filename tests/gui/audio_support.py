"""Audio helpers for GUI tests on PulseAudio: espeak-ng clips, the vmic feeder, the sink monitor, leases."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

from aether_qt.engines.media.audio import SAMPLE_RATE, pcm_to_array, rms
from aether_qt.policy.decisions import Permit, new_id
from aether_qt.policy.leases import MICROPHONE, CaptureLease, CaptureLeases

FEED_CHUNK = 640  # 20 ms at 16 kHz mono 16-bit, as a microphone delivers it


def espeak(tmp_path: Path, text: str, *voice: str) -> Path:
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is not installed"
    path = tmp_path / f"espeak-{abs(hash(text))}.wav"
    subprocess.run([exe, *voice, "-w", str(path), text], check=True, timeout=30)
    return path


class PacedFeeder(threading.Thread):
    """Writes PCM into the vmic FIFO in 20 ms chunks at real-time pace."""

    def __init__(self, fifo: Path, pcm: bytes) -> None:
        super().__init__(name="vmic-feeder", daemon=True)
        self.fifo, self.pcm, self.error = fifo, pcm, ""

    def run(self) -> None:
        try:
            with self.fifo.open("wb", buffering=0) as fifo:
                begun = time.monotonic()
                for start in range(0, len(self.pcm), FEED_CHUNK):
                    fifo.write(self.pcm[start : start + FEED_CHUNK])
                    delay = begun + (start + FEED_CHUNK) / (2 * SAMPLE_RATE) - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except OSError as exc:
            self.error = str(exc)


class MonitorRecorder(threading.Thread):
    """``parec`` on vsink.monitor: (arrival time, RMS) per 10 ms of what the sink plays."""

    def __init__(self) -> None:
        super().__init__(name="parec-reader", daemon=True)
        exe = shutil.which("parec")
        assert exe, "parec (pulseaudio-utils) is not installed"
        argv = [exe, "-d", "vsink.monitor", "--raw", "--format=s16le", "--rate=16000", "--channels=1"]
        self.proc = subprocess.Popen([*argv, "--latency-msec=10"], stdout=subprocess.PIPE)
        self.levels: list[tuple[float, float]] = []

    def run(self) -> None:
        assert self.proc.stdout is not None
        while block := self.proc.stdout.read(320):
            self.levels.append((time.monotonic(), rms(pcm_to_array(block))))

    def between(self, begin: float, end: float) -> list[float]:
        return [level for at, level in list(self.levels) if begin <= at < end]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        self.join(5)


class TestLeases:
    """Real capture leases over a stand-in gate: every grant lives until :meth:`revoke`.

    The media tests exercise the device, not the policy (the gate's part is tested in
    ``tests/unit/policy`` and through ``VoiceHost``), so the permit is made up here.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        self.ended: set[str] = set()
        self.registry = CaptureLeases(gate=self)

    def grant_live(self, grant_id: str) -> bool:
        return grant_id not in self.ended

    def new(self) -> CaptureLease:
        """A fresh lease, as ``Effectors.start_capture`` would hand to the device."""
        permit = Permit(
            permit_id=new_id("pmt"),
            capability="media.mic",
            resource=MICROPHONE,
            target="",
            persona="user",
            grant_id=new_id("grt"),
            audit_id=new_id("aud"),
            once=False,
            token="unused",
        )
        return self.registry.mint(permit, MICROPHONE)

    def revoke(self, lease: CaptureLease) -> None:
        self.ended.add(lease.grant_id)


def recording_streams() -> int:
    """How many streams PulseAudio is recording (source outputs): 0 when no microphone is open."""
    exe = shutil.which("pactl")
    assert exe, "pactl (pulseaudio-utils) is not installed"
    out = subprocess.run([exe, "list", "short", "source-outputs"], capture_output=True, text=True, check=True)
    return len([line for line in out.stdout.splitlines() if line.strip()])
