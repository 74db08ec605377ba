"""Redaction: secrets inside resources become keyed hashes before they are stored or published.

A resource is what the gate decides on, and the gate always decides on the real
value. What the audit chain stores, what the bus publishes and what a grant
pattern holds is the *redacted* form, in which every part that may carry a
secret is replaced by ``<redacted:TAG>``, ``TAG`` being the first 16 hex digits
of ``HMAC-SHA256(key, part)``:

* URLs (``net.fetch``, ``browser.open``, ``model.download`` and URLs inside
  text): the user-info (``https://user:pass@host/``), the query string and the
  fragment, and key-like runs in the path;
* text resources (a ``shell.exec`` command line, a provider id, a notification):
  URLs as above, the value of a flag or assignment whose name says secret
  (``--token X``, ``--password=…``, ``API_KEY=…``, ``-u user:pass``), the value
  of a credential header (``Authorization: …``, ``Cookie: …``) and key-like
  runs (``sk-…``, ``ghp_…``, ``AKIA…``, JWTs, 32+ hex digits, 32+ base64
  characters mixing digits and both cases);
* paths, memory ids, ``media.mic`` sources and persona ids are identifiers the
  app chose or the user's own folders: they are kept as they are.

The key is derived from the audit HMAC key (:meth:`Redactor.from_audit_key`),
so the same value redacts the same way in every process of a home: a stored
grant pattern still matches the same resource after a restart, and an audit row
can be matched to a value the user holds (compute its tag with the key). The
tag does not reveal the value to anyone without the key; 64 bits make an
accidental match of two values negligible.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any, Final

from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.contracts import AuditEntry

TAG_HEX: Final = 16
_KEY_CONTEXT: Final = b"aether-redaction-v1"
_IDENTIFIER_CAPABILITIES: Final = frozenset(
    {"memory.read", "memory.write.session", "memory.write.durable", "memory.delete"}
    | {"media.mic", "persona.import"}
)
_SECRET_PARTS: Final = (
    "token", "passw", "passphrase", "secret", "apikey", "credential", "cookie", "bearer", "authorization",
    "privatekey", "accesskey",
)  # fmt: skip
_SECRET_WORDS: Final = frozenset({"key", "pass", "pwd", "auth", "session", "sig", "signature", "pat"})
_USER_FLAGS: Final = frozenset({"-u", "--user", "--proxy-user"})  # curl: ``user:password``
_VALUE: Final = r"""('[^']*'|"[^"]*"|[^\s'"]+)"""
_URL_IN_TEXT: Final = re.compile(r"""(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s'"<>`]+""")
_URL_PARTS: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$", re.DOTALL)
_HEADER: Final = re.compile(
    r"(?i)(?<![\w-])((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)"
    r"""(\s*:\s*)([^'"\r\n]+)"""
)
_FLAG: Final = re.compile(r"(?<![\w<>-])(--?[A-Za-z][\w.-]*)(=|\s+(?=[^\s-]))" + _VALUE)
_ASSIGNMENT: Final = re.compile(r"(?<![\w<>.:/-])([A-Za-z][\w.-]*)(=|:)" + _VALUE)
_B64: Final = r"A-Za-z0-9+_\-"
_KEY_LIKE: Final = re.compile(
    rf"(?<![{_B64}])(?:"
    r"(?:sk|pk|rk)[-_][A-Za-z0-9_\-]{12,}"
    r"|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|glpat-[A-Za-z0-9_\-]{16,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}|A[KS]IA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
    rf"|[{_B64}]{{32,}}={{0,2}}"
    rf")(?![{_B64}=])"
)
_KNOWN_PREFIX: Final = re.compile(r"(?:sk|pk|rk)[-_]|gh[pousr]_|github_pat_|glpat-|xox|A[KS]IA|AIza|hf_|eyJ")


class Redactor:
    """Replaces secrets in resources by keyed hashes (see the module docstring).

    Args:
        key: at least 16 bytes; never shown in ``repr`` or messages.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a redaction key needs at least 16 bytes")
        self._key = key

    @classmethod
    def from_audit_key(cls, hmac_key: bytes) -> Redactor:
        """The redactor of a home: its key is derived from the audit HMAC key (a separate purpose)."""
        return cls(hmac.new(hmac_key, _KEY_CONTEXT, hashlib.sha256).digest())

    @classmethod
    def ephemeral(cls) -> Redactor:
        """A redactor with a random key, for a process that has no audit key (nothing is stored)."""
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:
        return "Redactor(key=<hidden>)"

    # ------------------------------------------------------------------ values
    def tag(self, value: str) -> str:
        """``<redacted:TAG>`` for ``value``: the same value always gives the same tag."""
        digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"<redacted:{digest[:TAG_HEX]}>"

    def url(self, url: str) -> str:
        """``url`` with its user-info, query and fragment (and key-like path runs) redacted."""
        match = _URL_PARTS.match(url)
        if match is None:
            return self.text(url)
        scheme, authority, path, query, fragment = match.groups()
        userinfo, at, host = authority.rpartition("@")
        parts = [scheme, f"{self.tag(userinfo)}@{host}" if at else host, self._key_like(path)]
        if query and query != "?":
            parts.append("?" + self.tag(query[1:]))
        elif query:
            parts.append(query)
        if fragment and fragment != "#":
            parts.append("#" + self.tag(fragment[1:]))
        elif fragment:
            parts.append(fragment)
        return "".join(parts)

    def text(self, text: str) -> str:
        """Free text or a command line with URLs, secret flags, headers and key-like runs redacted."""
        text = _URL_IN_TEXT.sub(lambda m: self.url(m.group(0)), text)
        text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + self._value(m.group(3).rstrip()), text)
        text = _FLAG.sub(self._flag, text)
        text = _ASSIGNMENT.sub(self._assignment, text)
        return self._key_like(text)

    def resource(self, capability: str, resource: str) -> str:
        """The stored form of a resource of ``capability`` (what the audit, events and grants hold)."""
        cap = CAPABILITIES.get(capability)
        if cap is None:
            return self.text(resource)
        if cap.resource_kind is ResourceKind.PATH or capability in _IDENTIFIER_CAPABILITIES:
            return resource
        if cap.resource_kind is ResourceKind.URL:
            return self.url(resource)
        return self.text(resource)

    def entry(self, entry: AuditEntry) -> AuditEntry:
        """``entry`` as the audit chain may store it: its resource, and every copy of it, redacted.

        The copies are the canonical resource and the grant scope in ``detail``, and
        any stage line or message that quotes the resource.
        """
        capability = entry.capability
        swaps: dict[str, str] = {}
        for raw in (entry.resource, entry.detail.get("canonical_resource")):
            if isinstance(raw, str) and raw:
                safe = self.resource(capability, raw)
                if safe != raw:
                    swaps[raw] = safe
        if not swaps and capability in CAPABILITIES and "scope" not in entry.detail:
            return entry

        def scrub(value: str) -> str:
            for raw, safe in swaps.items():
                value = value.replace(raw, safe)
            return value if capability in CAPABILITIES else self.text(value)

        detail = {key: _map_strings(value, scrub) for key, value in entry.detail.items()}
        if isinstance(entry.detail.get("scope"), str):
            detail["scope"] = self.resource(capability, entry.detail["scope"])
        return dataclasses.replace(
            entry,
            capability=capability if capability in CAPABILITIES else self.text(capability),
            resource=scrub(entry.resource),
            stage_trace=tuple({k: scrub(v) for k, v in line.items()} for line in entry.stage_trace),
            detail=detail,
        )

    # ------------------------------------------------------------------ helpers
    def _value(self, value: str) -> str:
        return value if value.startswith("<redacted:") else self.tag(value)

    def _flag(self, match: re.Match[str]) -> str:
        name, sep, value = match.groups()
        secret = _secret_name(name) or (name in _USER_FLAGS and ":" in value)
        return name + sep + self._value(value) if secret else match.group(0)

    def _assignment(self, match: re.Match[str]) -> str:
        name, sep, value = match.groups()
        return name + sep + self._value(value) if _secret_name(name) else match.group(0)

    def _key_like(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            run = match.group(0)
            return self.tag(run) if _looks_like_a_key(run) else run

        return _KEY_LIKE.sub(swap, text)


def _secret_name(name: str) -> bool:
    """Whether a flag or variable name says its value is secret (``--api-key``, ``GITHUB_TOKEN``)."""
    words = re.split(r"[-_.]+", name.strip("-").lower())
    compact = "".join(words)
    return any(part in compact for part in _SECRET_PARTS) or any(word in _SECRET_WORDS for word in words)


def _looks_like_a_key(run: str) -> bool:
    """A known key prefix, 32+ hex digits, or 32+ base64 characters mixing digits and both cases."""
    if _KNOWN_PREFIX.match(run):
        return True
    body = run.rstrip("=")
    if all(c in "0123456789abcdefABCDEF" for c in body):
        return True
    mixed = (any(c.isdigit() for c in body), any(c.isupper() for c in body), any(c.islower() for c in body))
    return all(mixed)


def _map_strings(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, scrub) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, scrub) for item in value]
    return value
