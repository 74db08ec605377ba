"""Tests of aether_qt.policy.scope: canonical paths, roots, credential stores, URLs, patterns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aether_qt.policy.capabilities import ResourceKind
from aether_qt.policy.scope import (
    ScopeError,
    candidate_patterns,
    canonical_path,
    canonical_resource,
    default_scope,
    has_extra_links,
    is_credential_store,
    normalise_pattern,
    path_in_roots,
    path_key,
    pattern_matches,
    url_origin,
)

P, U, T = ResourceKind.PATH, ResourceKind.URL, ResourceKind.TEXT


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    (path / "docs").mkdir(parents=True)
    return path


def test_canonical_path_collapses_dotdot_and_resolves_symlinks(root: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    assert canonical_path(f"{root}/docs/../docs/x") == root / "docs" / "x"
    assert canonical_path(root / "link" / "f") == tmp_path / "outside" / "f"


@pytest.mark.parametrize("raw", ["", "relative/path", "/a\x00b"])
def test_canonical_path_refuses_relative_empty_and_nul(raw: str) -> None:
    with pytest.raises(ScopeError):
        canonical_path(raw)


def test_canonical_path_expands_tilde() -> None:
    assert canonical_path("~") == Path(os.path.realpath(os.path.expanduser("~")))


def test_path_in_roots(root: Path, tmp_path: Path) -> None:
    assert path_in_roots(root / "docs" / "new.txt", [root])
    assert path_in_roots(root, [root])
    assert not path_in_roots(tmp_path / "rootx" / "a", [root])  # prefix, not a parent
    assert not path_in_roots(f"{root}/../elsewhere", [root])
    assert not path_in_roots("relative", [root])
    assert not path_in_roots(root / "a", ["relative-root"])


def test_symlink_escape_is_outside(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    (root / "docs" / "innocent").symlink_to(secret)
    assert not path_in_roots(root / "docs" / "innocent", [root])


def test_hard_link_to_outside_file_is_out_of_scope(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    os.link(secret, root / "docs" / "copy.txt")
    assert has_extra_links(root / "docs" / "copy.txt")
    assert not path_in_roots(root / "docs" / "copy.txt", [root])
    plain = root / "docs" / "plain.txt"
    plain.write_text("p")
    assert path_in_roots(plain, [root])
    assert not has_extra_links(root / "docs")  # folders are exempt
    assert not has_extra_links(root / "missing")


def test_symlink_loop_counts_as_out_of_scope(root: Path) -> None:
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    assert has_extra_links(root / "a")
    assert not path_in_roots(root / "a", [root])


def test_case_sensitive_and_insensitive_semantics(tmp_path: Path) -> None:
    lower = tmp_path / "root"
    lower.mkdir()
    upper = tmp_path / "Root"
    assert not path_in_roots(upper / "x", [lower], case_insensitive=False)
    assert path_in_roots(upper / "x", [lower], case_insensitive=True)
    assert path_key(upper, case_insensitive=True) == str(upper).casefold()


def test_credential_stores(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = tmp_path / "config" / "aether"
    cases = [
        home / ".ssh" / "id_ed25519",
        home / ".gnupg",
        home / ".aws" / "credentials",
        home / ".config" / "gcloud" / "x",
        home / ".local" / "share" / "keyrings" / "login.keyring",
        home / ".password-store" / "a.gpg",
        home / ".netrc",
        home / ".pgpass",
        tmp_path / "vault.KDBX",
        Path("/etc/shadow"),
        home / ".config" / "google-chrome" / "Default" / "Login Data",
        app / "keys-on-disk.json",
        tmp_path / "backup" / "id_rsa",  # a private key copied out of ~/.ssh
        tmp_path / "docs" / "server.KEY",
        tmp_path / "docs" / "client.p12",
        tmp_path / "docs" / ".git-credentials",
    ]
    for path in cases:
        assert is_credential_store(canonical_path(path), home=home, protected=[app]), path
    assert not is_credential_store(canonical_path(home / "notes.txt"), home=home, protected=[app])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Example.COM/a?b#c", "https://example.com:443"),
        ("http://example.com:8080", "http://example.com:8080"),
        ("https://example.com.", "https://example.com:443"),
        ("https://bücher.de/", "https://xn--bcher-kva.de:443"),
        ("https://[::1]:8443/x", "https://[::1]:8443"),
        ("https://[::1]/x", "https://[::1]:443"),
        ("https://good.com@evil.com/", None),
        ("https://good.com\\@evil.com/", None),
        ("https://good.com%2eevil.com/", None),
        ("javascript://alert(1)", None),
        ("ftp://example.com/", None),
        ("not a url", None),
        ("https://", None),
        ("https://a..b/", None),
        ("https://a.com:0/", None),
        ("https://a.com:99999/", None),
        ("https://a.com:x/", None),
        ("https://[zz]/", None),
        ("https://" + "a" * 70 + ".com/", None),
        ("https://ex ample.com/", None),
        ("https://exa$mple.com/", None),
    ],
)
def test_url_origin(url: str, origin: str | None) -> None:
    assert url_origin(url) == origin


def test_canonical_resource(root: Path) -> None:
    assert canonical_resource(f"{root}/docs/../a", P) == str(root / "a")
    assert canonical_resource(" https://a.com/x ", U) == "https://a.com/x"
    assert canonical_resource("ls -l", T) == "ls -l"
    with pytest.raises(ScopeError):
        canonical_resource("ftp://a.com/", U)


def test_normalise_pattern(root: Path) -> None:
    assert normalise_pattern("*", P) == "*"
    assert normalise_pattern(f"{root}/docs/../docs/**", P) == f"{root}/docs/**"
    assert normalise_pattern(f"{root}/docs/*", P) == f"{root}/docs/*"
    assert normalise_pattern("/**", P) == "/**"
    assert normalise_pattern(f"{root}/a", P) == f"{root}/a"
    assert normalise_pattern("https://A.com", U) == "https://a.com:443"
    assert normalise_pattern("https://a.com/x", U) == "https://a.com/x"
    assert normalise_pattern("topic", T) == "topic"
    with pytest.raises(ScopeError):
        normalise_pattern("ftp://a", U)


def test_candidates_and_matching(root: Path) -> None:
    target = str(root / "docs" / "a.txt")
    cands = candidate_patterns(target, P)
    assert cands[0] == target and cands[-1] == "*"
    assert f"{root}/docs/*" in cands and f"{root}/**" in cands and "/**" in cands
    assert candidate_patterns("/", P) == ["/", "/**", "*"]
    assert pattern_matches(f"{root}/docs/**", target, P)
    assert pattern_matches(f"{root}/docs/**", str(root / "docs"), P)
    assert pattern_matches(f"{root}/docs/*", target, P)
    assert not pattern_matches(f"{root}/docs/*", str(root / "docs" / "sub" / "a"), P)
    assert not pattern_matches(f"{root}/docs/**", str(root / "docsx" / "a"), P)
    assert not pattern_matches(f"{root}/docs/**", "relative", P)
    assert pattern_matches("https://a.com", "https://A.com/page", U)
    assert not pattern_matches("https://a.com", "https://a.com.evil.net/", U)
    assert not pattern_matches("https://a.com", "https://a.com@evil.net/", U)
    assert candidate_patterns("x", T) == ["x", "*"]
    assert pattern_matches("*", "anything", T)


def test_default_scope(root: Path) -> None:
    assert default_scope(str(root / "docs" / "a.txt"), P) == f"{root}/docs/**"
    assert default_scope("/a", P) == "/**"
    assert default_scope("https://a.com/x", U) == "https://a.com:443"
    assert default_scope("not-a-url", U) == "not-a-url"
    assert default_scope("openai", T) == "openai"


def test_candidates_of_an_unparsable_url_are_exact_or_any() -> None:
    assert candidate_patterns("nope", U) == ["nope", "*"]
