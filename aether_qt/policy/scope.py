"""Resource scope: canonical paths, approved roots, URL origins, grant patterns.

Everything the gate compares is canonicalised first, so that two spellings of
one place always compare equal and no spelling escapes a root:

* paths: ``~`` expanded, symlinks resolved (``strict=False``, so files that do
  not exist yet still have a canonical form), ``..`` collapsed, case folded on
  case-insensitive platforms. Relative paths are refused (they would depend on
  the process's working folder).
* hard links: a regular file with more than one link is treated as **out of
  scope for every path capability, reads included**. Its other name may live
  anywhere (``/etc/shadow`` hard-linked into ``~/docs``) and nothing tells us
  where, so the only safe rule is to refuse. Folders are exempt (their link
  count counts sub-folders).
* URLs: only ``http`` and ``https``; compared by origin
  ``scheme://host:port`` with the host lower-cased and IDNA-encoded; any
  user-info (``https://good.com@evil.com``), backslash, percent sign or
  control character in the authority is refused rather than guessed at.
* grant patterns: ``*`` (anything), an exact resource, ``DIR/**`` (the folder
  and everything below it), ``DIR/*`` (direct children), or a URL origin.
* caching: the request path is canonicalised afresh on every evaluation, but
  the gate resolves the credential stores and approved roots once and reuses
  them (:mod:`aether_qt.policy.resolved_scope`). They are resolved again when
  the configuration changes, after 2 s on the injected monotonic clock, or
  at once when a store or root path itself becomes, stops being or retargets
  a symlink. Stores are also matched by their unresolved spelling
  (``home/.ssh``) against both the canonical and the spelled request, which
  only adds refusals. A *parent* of a store or root swapped for a symlink can
  go unnoticed for up to 2 s (docs/threat-model.md, "Known limits").

This module may stat files but never opens, writes or connects.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final, TypeGuard

from aether_qt.policy.capabilities import ResourceKind
from aether_qt.policy.contracts import PolicyError

CASE_INSENSITIVE: Final = sys.platform in ("win32", "darwin")
"""Whether this platform's file systems usually ignore case (Windows, macOS)."""

ANY: Final = "*"

_CREDENTIAL_HOME_ENTRIES: Final = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker/config.json",
    ".config/gcloud",
    ".local/share/keyrings",
    ".password-store",
    ".netrc",
    ".pgpass",
    ".git-credentials",
)
_CREDENTIAL_ABSOLUTE: Final = ("/etc/shadow", "/etc/gshadow", "/etc/ssh")
_CREDENTIAL_NAMES: Final = frozenset(
    {
        # browser profile files that hold saved passwords or session cookies
        "login data", "login data for account", "cookies", "logins.json", "key3.db", "key4.db",
        "cookies.sqlite",
        # private keys and credential files, wherever they were copied to
        "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
        ".netrc", ".pgpass", ".git-credentials", "credentials", "shadow", "gshadow",
    }
)  # fmt: skip
_CREDENTIAL_SUFFIXES: Final = (".kdbx", ".kdb", ".keychain", ".keychain-db", ".pem", ".key", ".p12", ".pfx")

_URL_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)$", re.DOTALL)
_HOST_RE: Final = re.compile(r"[a-z0-9\-_]+(\.[a-z0-9\-_]+)*")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_FORBIDDEN_AUTHORITY: Final = re.compile(r"[@\\%\s\x00-\x1f\x7f]")


class ScopeError(PolicyError, ValueError):
    """A resource has no canonical form (relative path, NUL byte, bad URL)."""


def canonical_path(raw: str | os.PathLike[str]) -> Path:
    """Return the canonical absolute form of a path.

    Args:
        raw: a path as the user or the model wrote it (``~`` allowed).

    Returns:
        The path with ``~`` expanded, symlinks resolved and ``..`` collapsed.

    Raises:
        ScopeError: the path is empty, relative or contains a NUL byte.
    """
    return Path(canonical_path_text(raw))


def canonical_path_text(raw: str | os.PathLike[str]) -> str:
    """:func:`canonical_path` as a string (the gate's hot path needs no ``Path`` object).

    Raises:
        ScopeError: the path is empty, relative or contains a NUL byte.
    """
    text = os.fspath(raw)
    if not text or "\x00" in text:
        raise ScopeError("empty path or NUL byte in path")
    expanded = os.path.expanduser(text)
    if not os.path.isabs(expanded):
        raise ScopeError("relative paths are not accepted")
    return os.path.realpath(expanded)


def is_root_text(value: object) -> TypeGuard[str]:
    """Whether a stored value can be an approved folder: an absolute path the OS can name.

    Settings are read back from the database, so a damaged value may be any JSON:
    a relative path would be taken from the working folder, and NUL or a lone
    surrogate makes every filesystem call on it raise.
    """
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        return False
    return os.path.isabs(os.path.expanduser(value))


def path_key(path: Path, *, case_insensitive: bool = CASE_INSENSITIVE) -> str:
    """The string two canonical paths are compared by (case folded if needed)."""
    text = str(path)
    return text.casefold() if case_insensitive else text


def _inside(path: Path, root: Path, case_insensitive: bool) -> bool:
    """True when ``path`` is ``root`` or below it (both canonical)."""
    p = path_key(path, case_insensitive=case_insensitive)
    r = path_key(root, case_insensitive=case_insensitive)
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def has_extra_links(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a regular file with more than one hard link.

    Any error other than "does not exist" (a symlink loop, a permission
    problem) also answers True: when in doubt, the path is out of scope.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.S_ISREG(info.st_mode) and info.st_nlink > 1


def path_in_roots(
    raw: str | os.PathLike[str],
    roots: Iterable[str | os.PathLike[str]],
    *,
    case_insensitive: bool = CASE_INSENSITIVE,
) -> bool:
    """Whether a path lies inside one of the approved roots after canonicalisation.

    Args:
        raw: the path to check (any spelling).
        roots: approved folders (canonicalised here too).
        case_insensitive: compare case-folded (defaults to the platform's habit).

    Returns:
        False for paths without a canonical form, outside every root, or
        naming a regular file with extra hard links (see the module docstring).
    """
    try:
        path = canonical_path(raw)
        canon_roots = [canonical_path(root) for root in roots]
    except ScopeError:
        return False
    if not any(_inside(path, root, case_insensitive) for root in canon_roots):
        return False
    return not has_extra_links(path)


def is_credential_store(
    path: Path,
    *,
    home: Path,
    protected: Iterable[Path] = (),
    case_insensitive: bool = CASE_INSENSITIVE,
) -> bool:
    """Whether a canonical path is (inside) a store of secrets: a hardcoded block.

    Args:
        path: a canonical path (see :func:`canonical_path`).
        home: the user's home folder.
        protected: extra folders, such as the app's own config and key folder.
        case_insensitive: compare case-folded (defaults to the platform's habit).

    Returns:
        True for SSH/GnuPG/cloud/keyring/password-store folders and files under
        ``home``, shadow files, password databases and browser login stores.
    """
    if has_credential_name(path.name):
        return True
    stores = credential_store_paths(home, protected)
    return any(_inside(path, canonical_path(store), case_insensitive) for store in stores)


def has_credential_name(name: str) -> bool:
    """Whether a file name is one of a password database or a browser's login store."""
    folded = name.casefold()
    return folded in _CREDENTIAL_NAMES or folded.endswith(_CREDENTIAL_SUFFIXES)


def credential_store_paths(home: Path, protected: Iterable[Path] = ()) -> list[Path]:
    """The credential stores under ``home``, the absolute ones and ``protected``, unresolved."""
    stores = [home / entry for entry in _CREDENTIAL_HOME_ENTRIES]
    stores += [Path(entry) for entry in _CREDENTIAL_ABSOLUTE]
    return stores + list(protected)


def url_origin(url: str) -> str | None:
    """The normalised origin ``scheme://host:port`` of an http(s) URL, or None.

    Refuses (returns None) anything ambiguous instead of guessing: other
    schemes, user-info, backslashes, percent-encoding or whitespace in the
    authority, bad ports and hosts that are not valid IDNA.
    """
    match = _URL_RE.match(url.strip())
    if match is None:
        return None
    scheme, authority = match.group(1).lower(), match.group(2)
    if scheme not in _DEFAULT_PORTS or _FORBIDDEN_AUTHORITY.search(authority):
        return None
    host, port = _split_host_port(authority, _DEFAULT_PORTS[scheme])
    if host is None or port is None:
        return None
    return f"{scheme}://{host}:{port}"


def _split_host_port(authority: str, default_port: int) -> tuple[str | None, int | None]:
    """Split ``host[:port]`` (IPv6 in brackets) and normalise both halves."""
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if not re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", host):
            return None, None
        return host.lower(), _parse_port(rest, default_port)
    name, sep, port_text = authority.partition(":")
    return _idna_host(name), _parse_port(sep + port_text, default_port)


def _idna_host(host: str) -> str | None:
    """Lower-case, drop one trailing dot and IDNA-encode a host name."""
    host = host.removesuffix(".")
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return encoded if _HOST_RE.fullmatch(encoded) else None


def _parse_port(rest: str, default_port: int) -> int | None:
    """Parse ``:port`` (or nothing) into a port number."""
    if not rest:
        return default_port
    digits = rest[1:]
    if not rest.startswith(":") or not digits.isascii() or not digits.isdigit():
        return None
    port = int(digits)
    return port if 0 < port < 65536 else None


def canonical_resource(resource: str, kind: ResourceKind) -> str:
    """The canonical string of a resource of ``kind`` (what permits and grants hold).

    Raises:
        ScopeError: a path without a canonical form or a URL without an origin.
    """
    if kind is ResourceKind.PATH:
        return path_key(canonical_path(resource))
    if kind is ResourceKind.URL:
        if url_origin(resource) is None:
            raise ScopeError("not an http(s) URL with a plain host")
        return resource.strip()
    return resource


def normalise_pattern(pattern: str, kind: ResourceKind) -> str:
    """Canonicalise a grant's ``resource_pattern`` so lookups are plain dict hits.

    Raises:
        ScopeError: the pattern's path or URL part has no canonical form.
    """
    if pattern == ANY:
        return ANY
    if kind is ResourceKind.PATH:
        for suffix in ("/**", "/*"):
            if pattern.endswith(suffix):
                base = path_key(canonical_path(pattern[: -len(suffix)] or "/"))
                return base.rstrip(os.sep) + suffix
        return path_key(canonical_path(pattern))
    if kind is ResourceKind.URL:
        origin = url_origin(pattern)
        if origin is None:
            raise ScopeError("URL patterns must be http(s) URLs or origins")
        match = _URL_RE.match(pattern.strip())
        return origin if match is not None and not match.group(3) else pattern.strip()
    return pattern


def candidate_patterns(canonical: str, kind: ResourceKind) -> list[str]:
    """Every normalised pattern that would match a canonical resource, most specific first.

    Together with :func:`normalise_pattern` this makes matching a handful of
    dictionary look-ups instead of a scan over all grants.
    """
    found = [canonical]
    if kind is ResourceKind.PATH:
        parts = canonical.rstrip(os.sep).split(os.sep)
        found.append(canonical.rstrip(os.sep) + os.sep + "**")
        if len(parts) > 1:
            found.append(os.sep.join(parts[:-1]) + os.sep + "*")
        for depth in range(len(parts) - 1, 0, -1):
            found.append(os.sep.join(parts[:depth]) + os.sep + "**")
    elif kind is ResourceKind.URL:
        origin = url_origin(canonical)
        if origin is not None:
            found.append(origin)
    found.append(ANY)
    return list(dict.fromkeys(found))


def pattern_matches(pattern: str, resource: str, kind: ResourceKind) -> bool:
    """Whether a grant pattern covers a resource (both canonicalised first)."""
    try:
        return normalise_pattern(pattern, kind) in candidate_patterns(
            canonical_resource(resource, kind), kind
        )
    except ScopeError:
        return False


def default_scope(canonical: str, kind: ResourceKind) -> str:
    """The pattern an "always for this scope" answer uses when the user names none.

    The parent folder's ``/**`` for paths, the origin for URLs, the literal
    otherwise.
    """
    if kind is ResourceKind.PATH:
        parent = os.path.dirname(canonical.rstrip(os.sep)) or os.sep
        return parent.rstrip(os.sep) + os.sep + "**"
    if kind is ResourceKind.URL:
        return url_origin(canonical) or canonical
    return canonical
