"""Capabilities, refusal reasons and durations in words a person uses (pure: no Qt).

The trust centre never shows a capability id (``memory.write.durable``) or a deny code
(``outside_approved_roots``) unless the user turned on "Expert details": these tables
say the same thing in words. Every capability of the policy table has an entry (a unit
test checks it), so a new capability without words fails the tests instead of showing
its id to the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True, slots=True)
class CapabilityWords:
    """One capability in words.

    Attributes:
        action: what Aether did, as a short heading ("Remember something").
        lets: what a permission for it lets Aether do, after "lets Aether"
            ("remember what you tell it").
    """

    action: str
    lets: str


CAPABILITY_WORDS: Final[Mapping[str, CapabilityWords]] = MappingProxyType(
    {
        "files.read": CapabilityWords("Read a file", "read files in the folders you approved"),
        "files.list": CapabilityWords("Look inside a folder", "see what is in the folders you approved"),
        "files.create": CapabilityWords("Create a file", "create new files in the folders you approved"),
        "files.edit": CapabilityWords("Change a file", "change files in the folders you approved"),
        "files.delete": CapabilityWords("Delete a file", "delete files in the folders you approved"),
        "browser.open": CapabilityWords("Open a web page", "open web pages in your browser"),
        "net.fetch": CapabilityWords("Fetch a web page", "fetch web pages over the internet"),
        "clipboard.read": CapabilityWords("Read the clipboard", "read what you copied"),
        "clipboard.write": CapabilityWords("Copy to the clipboard", "copy text to your clipboard"),
        "notify.send": CapabilityWords("Show a notification", "show desktop notifications"),
        "reminder.set": CapabilityWords("Set a reminder", "set reminders for you"),
        "shell.exec": CapabilityWords("Run a command", "run commands on this computer"),
        "memory.read": CapabilityWords("Recall memories", "recall what it remembers about you"),
        "memory.write.session": CapabilityWords(
            "Note this conversation", "keep notes of this conversation while it lasts"
        ),
        "memory.write.durable": CapabilityWords("Remember something", "remember what you tell it"),
        "memory.delete": CapabilityWords("Forget a memory", "forget a memory when asked"),
        "memory.export": CapabilityWords("Export memories", "save your memories to a file"),
        "media.mic": CapabilityWords("Listen through the microphone", "listen through the microphone"),
        "router.remote": CapabilityWords("Ask an online model", "send the conversation to an online model"),
        "router.remote_private": CapabilityWords(
            "Send private things to an online model",
            "send your private things to an online model",
        ),
        "model.download": CapabilityWords("Download a model", "download a model"),
        "persona.import": CapabilityWords("Import a persona", "import a character as a persona"),
        "audit.export": CapabilityWords("Export the decision log", "save a copy of the decision log"),
        "data.backup": CapabilityWords("Back up your data", "write a backup of all your data"),
        "data.restore": CapabilityWords("Restore a backup", "replace your data with a backup"),
        "cost.admin": CapabilityWords("Change spending limits", "change or re-arm your spending limits"),
        "desktop.install": CapabilityWords(
            "Change the menu entry", "add itself to the applications menu or start at login"
        ),
        "router.route": CapabilityWords("Choose where to answer", "choose where to answer"),
    }
)

REFUSAL_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "audit_unavailable": "the decision log could not be written, so nothing was done",
        "ledger_corrupt": "the permission list could not be read or saved",
        "paused": "everything was paused",
        "unknown_capability": "Aether does not know how to do that",
        "outside_approved_roots": "it was outside the folders you approved",
        "credential_store": "it touched passwords or keys, which is never allowed",
        "shell_in_consumer_preset": "your preset never runs commands",
        "silent_upload": "it would have sent data online without telling you",
        "privacy_posture": "your privacy setting keeps this on the computer",
        "provenance_taint": "the request came from untrusted text",
        "cost_cap": "your spending limit was reached",
        "keys_unavailable": "the signing keys were not available",
        "not_in_scope": "the request was malformed",
        "resource_out_of_scope": "that address or file is not allowed",
        "policy_deny": "your preset does not allow it",
        "hard_block": "it is never allowed",
        "grant_expired": "the permission had run out",
        "grant_revoked": "the permission had been revoked",
        "user_denied": "you said no",
    }
)

DURATION_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "once": "once",
        "task": "for this task",
        "session": "until Aether closes",
        "persistent": "until you revoke it",
    }
)


def capability_words(capability: str) -> CapabilityWords:
    """The words of ``capability``; an unknown one gets neutral words (never its id)."""
    return CAPABILITY_WORDS.get(capability, CapabilityWords("Do something", "do something"))


def refusal_words(reason: str) -> str:
    """Why the gate refused, after "because" ("" when the reason is empty or unknown)."""
    return REFUSAL_WORDS.get(reason, "")


def duration_words(duration: str) -> str:
    """How long a grant lasts ("until you revoke it")."""
    return DURATION_WORDS.get(duration, "for a while")


def who_words(actor: str) -> str:
    """Who acted or asked: you, Aether (the system), the safety gate, or a persona by name."""
    if actor == "user":
        return "You"
    if actor in ("system", "gate", ""):
        return "Aether"
    return actor.replace("_", " ").replace("-", " ").title()
