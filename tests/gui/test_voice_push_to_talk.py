"""Voice end to end in the real app on ``make test``'s X server and PulseAudio (issue 6 acceptance).

The app runs in a child process (its runtime guard stays out of the test
process) and prints what happens on its bus; this test plays the user: it
holds the push-to-talk key with ``xdotool keydown``, speaks espeak-ng Korean
into the virtual microphone at real-time pace, releases the key, listens to the
null sink's monitor for the spoken reply, and presses the key again while
Aether speaks (barge-in). Skips outside scripts/with-desktop.sh.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_support import MonitorRecorder, PacedFeeder, espeak
from voice_app_support import App, running_app

from aether_qt.engines.media.audio import array_to_pcm, read_wav_16k


@pytest.fixture
def app(desktop_dir: Path, tmp_path: Path) -> Iterator[App]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    with running_app(tmp_path / "home", env) as running:
        yield running


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def test_hold_to_talk_is_transcribed_answered_aloud_and_barge_in_cuts_it(
    app: App, vmic: Path, tmp_path: Path
) -> None:
    assert app.said("READY")[0][1] == "x11", app.said("READY")  # the global X grab, not in-window
    speech = array_to_pcm(read_wav_16k(espeak(tmp_path, "안녕하세요 감사합니다", "-v", "ko")))
    monitor = MonitorRecorder()
    monitor.start()
    try:
        xdotool("keydown", "F9")
        app.wait_for(lambda w: w == ["VOICE", "listening"])
        feeder = PacedFeeder(vmic, speech)
        feeder.start()
        feeder.join(30)
        assert not feeder.error
        app.wait_for(lambda w: w[:2] == ["HEARD", "0"], timeout=10)  # a partial while the key is held
        xdotool("keyup", "F9")
        _, final = app.wait_for(lambda w: w[:2] == ["HEARD", "1"])
        assert final[2] != "-", "the final transcript is empty"
        app.wait_for(lambda w: w[:2] == ["TURN", "voice"])  # the same turn path as typed text

        played_at, _ = app.wait_for(lambda w: w[0] == "PLAYING", timeout=60)
        time.sleep(0.4)
        heard = monitor.between(played_at, played_at + 10.0)
        assert heard and max(heard) > 0.01, "no audio reached the sink"
        clips = [Path(words[1]) for words in app.said("CLIP")]
        assert clips and not clips[0].exists(), "a spoken sentence is read back and never left on disk"

        if not app.said("PLAYED"):  # still speaking: barge in
            xdotool("keydown", "F9")
            app.wait_for(lambda w: w == ["PLAYED", "0"], timeout=5)  # cut, not played out
            app.wait_for(lambda w: w == ["VOICE", "listening"], timeout=5)  # a new listening turn
            xdotool("keyup", "F9")
            _, end = app.wait_for(lambda w: w[0] == "ENDED", timeout=30)  # the barged-in turn's end
            assert end[1] in ("Answered", "Cancelled")
        else:
            pytest.fail(f"the reply finished before barge-in could be tried: {app.said('PLAYING')}")
        app.wait_for(lambda w: w[0] == "ENDED", timeout=60)
        first_clip = min(at for at, words in app.seen if words[0] == "CLIP")
        turn_ended = min(at for at, words in app.seen if words[0] == "ENDED")
        assert first_clip < turn_ended, "the first sentence was spoken only after generation finished"
    finally:
        monitor.close()


def test_silence_gives_no_turn(app: App) -> None:
    xdotool("keydown", "F9")
    app.wait_for(lambda w: w == ["VOICE", "listening"])
    time.sleep(0.5)
    xdotool("keyup", "F9")
    _, final = app.wait_for(lambda w: w[:2] == ["HEARD", "1"])
    assert final[2] == "-"
    time.sleep(0.5)
    assert app.said("TURN") == []
