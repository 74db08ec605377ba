"""Capabilities, risk classes, approval modes and the permission presets.

A capability is a dot id naming one kind of side effect (``files.read``). Each
has a risk class. A preset is a matrix capability -> mode. The gate combines
hardcoded blocks, user overrides, persona defaults (which may only narrow),
the preset and the system default (deny), in that order of precedence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final


class Risk(IntEnum):
    """Risk class of a capability; High and Critical are never auto-approved."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Mode(StrEnum):
    """How a capability is approved, from most to least permissive.

    ``AUTO`` allows without asking; ``TASK`` allows for the running task once
    asked; ``ASK`` needs an approval every time no grant covers it; ``DRAFT``
    produces a draft only; ``DENY`` refuses (an upgrade may help); ``BLOCK`` is
    a hard refusal no override lifts.
    """

    AUTO = "auto"
    TASK = "task"
    ASK = "ask"
    DRAFT = "draft"
    DENY = "deny"
    BLOCK = "block"

    @property
    def strictness(self) -> int:
        """Order used when narrowing: a higher number is stricter."""
        return _STRICTNESS[self]


_STRICTNESS: Final = {
    Mode.AUTO: 0,
    Mode.TASK: 1,
    Mode.ASK: 2,
    Mode.DRAFT: 3,
    Mode.DENY: 4,
    Mode.BLOCK: 5,
}


def stricter(a: Mode, b: Mode) -> Mode:
    """Return the stricter of two modes (used so persona defaults only narrow)."""
    return a if a.strictness >= b.strictness else b


class ResourceKind(StrEnum):
    """What a capability's resource string names, which decides scope matching."""

    PATH = "path"
    URL = "url"
    TEXT = "text"  # commands, clipboard, memory topics, provider ids: matched literally


@dataclass(frozen=True, slots=True)
class Capability:
    """One kind of side effect."""

    id: str
    risk: Risk
    resource_kind: ResourceKind
    description: str
    reads_user_data: bool = False
    sends_remote: bool = False


def _caps(*items: Capability) -> Mapping[str, Capability]:
    return MappingProxyType({c.id: c for c in items})


_P, _U, _T = ResourceKind.PATH, ResourceKind.URL, ResourceKind.TEXT

CAPABILITIES: Final[Mapping[str, Capability]] = _caps(
    Capability("files.read", Risk.LOW, _P, "Read a file inside an approved folder", reads_user_data=True),
    Capability("files.list", Risk.LOW, _P, "List a folder inside an approved folder", reads_user_data=True),
    Capability("files.create", Risk.MEDIUM, _P, "Create a new file inside an approved folder"),
    Capability("files.edit", Risk.MEDIUM, _P, "Change an existing file inside an approved folder"),
    Capability("files.delete", Risk.HIGH, _P, "Delete a file inside an approved folder"),
    Capability("browser.open", Risk.LOW, _U, "Open a web page in the default browser"),
    Capability("net.fetch", Risk.MEDIUM, _U, "Fetch a URL over the network", sends_remote=True),
    Capability("clipboard.read", Risk.MEDIUM, _T, "Read the clipboard", reads_user_data=True),
    Capability("clipboard.write", Risk.LOW, _T, "Write to the clipboard"),
    Capability("notify.send", Risk.LOW, _T, "Show a desktop notification"),
    Capability("reminder.set", Risk.LOW, _T, "Set a reminder"),
    Capability("shell.exec", Risk.CRITICAL, _T, "Run a shell command"),
    Capability("memory.read", Risk.LOW, _T, "Recall memories", reads_user_data=True),
    Capability("memory.write.session", Risk.LOW, _T, "Keep a memory for this session"),
    Capability("memory.write.durable", Risk.MEDIUM, _T, "Keep a memory across sessions"),
    Capability("memory.delete", Risk.MEDIUM, _T, "Forget a memory"),
    Capability("memory.export", Risk.HIGH, _P, "Export memories to a file", reads_user_data=True),
    Capability("media.mic", Risk.MEDIUM, _T, "Listen through the microphone", reads_user_data=True),
    Capability("router.remote", Risk.MEDIUM, _T, "Send a conversation to a remote model", sends_remote=True),
    Capability(
        "router.remote_private", Risk.HIGH, _T, "Send private context to a remote model", sends_remote=True
    ),
    Capability("model.download", Risk.MEDIUM, _U, "Download a model with a pinned hash", sends_remote=True),
    Capability("persona.import", Risk.MEDIUM, _T, "Import a character card as an untrusted persona"),
    Capability("audit.export", Risk.HIGH, _P, "Export the audit log"),
    Capability(
        "data.backup", Risk.HIGH, _P, "Write a passphrase-sealed backup of all data", reads_user_data=True
    ),
    Capability("data.restore", Risk.HIGH, _P, "Replace all data with a backup (the old data is kept aside)"),
    Capability("cost.admin", Risk.HIGH, _T, "Change or re-arm cost caps"),
    Capability(
        "desktop.install",
        Risk.MEDIUM,
        _T,
        "Add Aether to the applications menu and autostart, or take it off",
    ),
)


class Preset(StrEnum):
    """Permission presets, from most to least cautious."""

    OBSERVER = "Observer"
    ASSISTANT = "Assistant"
    OPERATOR = "Operator"
    POWER_USER = "PowerUser"

    @property
    def consumer(self) -> bool:
        """Consumer presets never run shell commands (a hardcoded block)."""
        return self in (Preset.OBSERVER, Preset.ASSISTANT)

    @classmethod
    def parse(cls, name: str) -> Preset:
        """Parse a preset name case-insensitively; raise ``ValueError`` with the choices."""
        for preset in cls:
            if preset.value.lower() == name.strip().lower().replace("_", "").replace(" ", ""):
                return preset
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(p.value for p in cls)}")


DEFAULT_PRESET: Final = Preset.ASSISTANT

_A, _K, _Q, _D, _N = Mode.AUTO, Mode.TASK, Mode.ASK, Mode.DRAFT, Mode.DENY

# capability -> (Observer, Assistant, Operator, PowerUser)
_MATRIX: Final[dict[str, tuple[Mode, Mode, Mode, Mode]]] = {
    "files.read": (_Q, _A, _A, _A),
    "files.list": (_Q, _A, _A, _A),
    "files.create": (_N, _Q, _Q, _K),
    "files.edit": (_N, _Q, _Q, _K),
    "files.delete": (_N, _Q, _Q, _Q),
    "browser.open": (_Q, _A, _A, _A),
    "net.fetch": (_N, _Q, _Q, _K),
    "clipboard.read": (_N, _Q, _Q, _K),
    "clipboard.write": (_Q, _A, _A, _A),
    "notify.send": (_A, _A, _A, _A),
    "reminder.set": (_Q, _A, _A, _A),
    "shell.exec": (_N, _N, _Q, _Q),
    "memory.read": (_A, _A, _A, _A),
    "memory.write.session": (_A, _A, _A, _A),
    "memory.write.durable": (_D, _A, _A, _A),
    "memory.delete": (_Q, _A, _A, _A),
    "memory.export": (_N, _Q, _Q, _Q),
    "media.mic": (_Q, _Q, _K, _K),
    "router.remote": (_N, _Q, _Q, _K),
    "router.remote_private": (_N, _N, _Q, _Q),
    "model.download": (_N, _Q, _Q, _Q),
    "persona.import": (_N, _Q, _Q, _K),
    "audit.export": (_Q, _Q, _Q, _Q),
    "data.backup": (_Q, _Q, _Q, _Q),
    "data.restore": (_Q, _Q, _Q, _Q),
    "cost.admin": (_N, _Q, _Q, _Q),
    "desktop.install": (_Q, _Q, _Q, _Q),
}

_COLUMN: Final = {Preset.OBSERVER: 0, Preset.ASSISTANT: 1, Preset.OPERATOR: 2, Preset.POWER_USER: 3}


def preset_mode(preset: Preset, capability: str) -> Mode:
    """The mode a preset gives a capability; unknown capabilities are denied."""
    row = _MATRIX.get(capability)
    if row is None:
        return Mode.DENY
    mode = row[_COLUMN[preset]]
    # High and Critical are never auto-approved, whatever a matrix says.
    if CAPABILITIES[capability].risk >= Risk.HIGH and mode.strictness < Mode.ASK.strictness:
        return Mode.ASK
    return mode


def preset_matrix(preset: Preset) -> dict[str, Mode]:
    """The whole capability -> mode matrix of a preset (for the trust centre)."""
    return {cap: preset_mode(preset, cap) for cap in CAPABILITIES}
