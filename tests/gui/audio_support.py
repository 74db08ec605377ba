"""Audio helpers for GUI tests on PulseAudio: espeak-ng clips, the vmic feeder, the sink monitor."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

from aether_qt.engines.media.audio import SAMPLE_RATE, pcm_to_array, rms

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
