"""``aether avatar snapshot``: render one avatar frame to a PNG.

The picture is drawn like the app draws it (the GLSL shader when OpenGL works,
else the QPainter twin), in the look of ``--persona`` (default: ``aether``).
Writing the PNG is a gated ``files.create`` on the ``--out`` path; the user
typing the command is the approval (like ``aether audit export``), and the
bytes go through :meth:`Effectors.create_binary`, which never overwrites.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aether_qt.commands.output import fail
from aether_qt.commands.session import CommandError, create_binary_as_user
from aether_qt.core.paths import resolve_paths

if TYPE_CHECKING:
    from aether_qt.avatar.look import AvatarLook

DEFAULT_PERSONA = "aether"


def _look(args: argparse.Namespace) -> tuple[AvatarLook, str]:
    """The persona's look and its id (the default look when no persona file is found)."""
    from aether_qt.avatar.look import DEFAULT_LOOK, AvatarLook
    from aether_qt.engines.persona.registry import find_entry, user_personas_dir

    persona_id = args.persona or DEFAULT_PERSONA
    entry = find_entry(persona_id, user_personas_dir(resolve_paths(getattr(args, "home", None)).data_dir))
    if entry is None:
        if args.persona:
            raise CommandError(f"no persona {persona_id!r}; see `aether persona list`")
        return DEFAULT_LOOK, "default"
    if entry.persona is None:
        raise CommandError(f"persona {persona_id!r} does not compile: {entry.error}")
    persona = entry.persona
    look = AvatarLook.from_palette(
        dict(persona.visual.palette), shape=persona.visual.shape, trusted=persona.summary.trusted
    )
    return look, persona.persona_id


def _render_png(args: argparse.Namespace) -> tuple[bytes, str]:
    """The PNG bytes and the renderer used."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen: the QPainter avatar
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication

    from aether_qt.avatar.look import behaviour_for, rest_frame
    from aether_qt.avatar.snapshot import render_snapshot

    try:
        behaviour = behaviour_for(args.state)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    if args.mouth is not None and not 0.0 <= args.mouth <= 1.0:
        raise CommandError("--mouth must be between 0 and 1", 2)
    if not 32 <= args.size <= 2048:
        raise CommandError("--size must be between 32 and 2048", 2)
    look, _ = _look(args)
    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    image, renderer = render_snapshot(look, rest_frame(behaviour, mouth_open=args.mouth), size=args.size)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # 6.11 stubs want bytes; runtime wants str
        raise CommandError("the PNG could not be encoded")
    buffer.close()
    del app
    return bytes(data.data()), renderer


def snapshot(args: argparse.Namespace) -> int:
    """Render one frame for ``--state`` and write it to ``--out`` through the gate."""
    out = Path(args.out).expanduser().absolute()
    try:
        png, renderer = _render_png(args)
        create_binary_as_user(args, out, png, "snapshot")
    except CommandError as exc:
        return fail(str(exc), exc.code)
    sys.stdout.write(f"wrote {out} ({renderer}, {len(png):,} bytes)\n")
    return 0
