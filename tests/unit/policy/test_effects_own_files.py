"""The permit-free helpers for the app's own folders: they never leave the folder they are given."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_qt.policy.effect_types import OutsideRootsError
from aether_qt.policy.effects import (
    OwnFileLock,
    create_own_file,
    extract_own_archive,
    remove_own_file,
    replace_own_file,
    write_own_file,
    write_own_record,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    return folder.resolve()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- write_own_file
def test_write_own_file_replaces_atomically(root: Path) -> None:
    target = root / "sub" / "index.json"
    assert write_own_file(target, b"one", root=root) == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    write_own_file(target, iter([b"tw", b"o"]), root=root, mode=0o644)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _names(target.parent) == ["index.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_content_and_no_temporary_file(root: Path) -> None:
    target = root / "models.json"
    write_own_file(target, b"old", root=root)

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError(errno.ENOSPC, "disk full")

    with pytest.raises(OSError, match="disk full"):
        write_own_file(target, broken(), root=root)
    assert target.read_bytes() == b"old"
    assert _names(root) == ["models.json"]


def test_a_symlink_at_the_name_is_replaced_not_followed(root: Path, outside: Path) -> None:
    (root / "link").symlink_to(outside / "keep.txt")
    write_own_file(root / "link", b"mine", root=root)
    assert not (root / "link").is_symlink()
    assert (outside / "keep.txt").read_text() == "keep"


@pytest.mark.parametrize("name", ["../outside/keep.txt", "..", ".", "sub/.."])
def test_paths_leaving_the_folder_are_refused(root: Path, outside: Path, name: str) -> None:
    with pytest.raises(OutsideRootsError, match="is not inside the app folder"):
        write_own_file(root / name, b"x", root=root)
    assert (outside / "keep.txt").read_text() == "keep"


def test_a_symlinked_folder_leading_out_is_refused(root: Path, outside: Path) -> None:
    (root / "door").symlink_to(outside)
    with pytest.raises(OutsideRootsError):
        write_own_file(root / "door" / "keep.txt", b"x", root=root)
    with pytest.raises(OutsideRootsError):
        write_own_file(outside / "keep.txt", b"x", root=root)
    assert (outside / "keep.txt").read_text() == "keep"


# ---------------------------------------------------------------- create_own_file
def test_create_own_file_never_overwrites(root: Path) -> None:
    target = root / "persona.yaml"
    assert create_own_file(target, b"first", root=root) is True
    assert create_own_file(target, b"second", root=root) is False
    assert target.read_bytes() == b"first"
    assert _names(root) == ["persona.yaml"]
    with pytest.raises(OutsideRootsError):
        create_own_file(root / ".." / "x.yaml", b"x", root=root)


def test_create_own_file_without_hard_links(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    target = root / "persona.yaml"
    assert create_own_file(target, b"first", root=root) is True
    assert create_own_file(target, b"second", root=root) is False  # the name is reserved first
    assert target.read_bytes() == b"first"
    assert _names(root) == ["persona.yaml"]


def test_create_own_file_reports_other_link_failures(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(source: object, target: object) -> None:
        raise OSError(errno.EACCES, "refused")

    monkeypatch.setattr(os, "link", refused)
    with pytest.raises(PermissionError):
        create_own_file(root / "persona.yaml", b"x", root=root)
    assert _names(root) == []


# ---------------------------------------------------------------- replace_own_file, remove_own_file
def test_replace_own_file(root: Path, outside: Path) -> None:
    (root / "a.partial").write_text("new")
    (root / "a").write_text("old")
    assert replace_own_file(root / "a.partial", root / "a", root=root) == root / "a"
    assert _names(root) == ["a"]
    assert (root / "a").read_text() == "new"
    with pytest.raises(OutsideRootsError):
        replace_own_file(root / "a", outside / "keep.txt", root=root)
    with pytest.raises(OutsideRootsError):
        replace_own_file(outside / "keep.txt", root / "stolen", root=root)
    assert _names(root) == ["a"]
    assert (outside / "keep.txt").read_text() == "keep"


def test_remove_own_file(root: Path, outside: Path) -> None:
    (root / "clip.wav").write_bytes(b"x")
    (root / "link").symlink_to(outside / "keep.txt")
    assert remove_own_file(root / "clip.wav", root=root) is True
    assert remove_own_file(root / "clip.wav", root=root) is False
    assert remove_own_file(root / "link", root=root) is True  # the link, never what it points to
    assert (outside / "keep.txt").read_text() == "keep"
    with pytest.raises(OutsideRootsError):
        remove_own_file(outside / "keep.txt", root=root)
    (root / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        remove_own_file(root / "folder", root=root)


# ---------------------------------------------------------------- extract_own_archive
def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"data")
    return path


def test_extract_own_archive(root: Path, tmp_path: Path) -> None:
    path = _zip(tmp_path / "m.zip", ["model/a.txt", "model/sub/b.txt"])
    with zipfile.ZipFile(path) as archive:
        extract_own_archive(archive, archive.infolist(), root / "stt", root=root)
    assert (root / "stt" / "model" / "sub" / "b.txt").read_bytes() == b"data"


def test_extract_own_archive_refuses_escapes(root: Path, outside: Path, tmp_path: Path) -> None:
    path = _zip(tmp_path / "m.zip", ["../outside/evil.txt"])
    with zipfile.ZipFile(path) as archive:
        with pytest.raises(OutsideRootsError, match="would land outside"):
            extract_own_archive(archive, archive.infolist(), root, root=root)
        with pytest.raises(OutsideRootsError, match="is not inside the app folder"):
            extract_own_archive(archive, [], outside, root=root)
    assert _names(outside) == ["keep.txt"]
    assert _names(root) == []


def lock_is_free(path: Path) -> bool:
    """Whether another open file (as another process has) can take the lock on ``path`` now."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_an_own_file_lock_is_exclusive_and_closing_it_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "new" / "audit-anchor.json.lock"
    lock = OwnFileLock(path, root=tmp_path)
    with lock:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not lock_is_free(path)
        lock.close()  # closing inside the block drops the lock at once; leaving the block is harmless
        assert lock_is_free(path)
    lock.close()  # idempotent
    with lock:  # a later block opens the file again
        assert not lock_is_free(path)
    assert lock_is_free(path)  # released between blocks, the file kept open
    with lock:
        assert not lock_is_free(path)
    lock.close()


def test_a_record_written_in_place_has_a_fixed_size(tmp_path: Path) -> None:
    path = tmp_path / "new" / "record"  # the folder is created
    write_own_record(path, b"first", size=16, root=tmp_path, durable=True)
    assert path.read_bytes() == b"first" + b" " * 11
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    write_own_record(path, b"2nd", size=16, root=tmp_path, durable=False)
    assert path.read_bytes() == b"2nd" + b" " * 13  # the longer old record is fully overwritten
    path.write_bytes(b"x" * 40)  # a file longer than the record (an older format, or planted)
    write_own_record(path, b"third", size=16, root=tmp_path, durable=False)
    assert path.read_bytes() == b"third" + b" " * 11


def test_a_record_longer_than_its_size_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "record"
    write_own_record(path, b"kept", size=8, root=tmp_path, durable=False)
    with pytest.raises(ValueError, match="a record of 9 bytes does not fit in 8"):
        write_own_record(path, b"too long!", size=8, root=tmp_path, durable=False)
    assert path.read_bytes() == b"kept    "


def test_an_own_record_or_lock_outside_its_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutsideRootsError):
        write_own_record(tmp_path / "elsewhere" / "r", b"x", size=8, root=tmp_path / "app", durable=False)
    with pytest.raises(OutsideRootsError):
        OwnFileLock(tmp_path / "elsewhere" / "lock", root=tmp_path / "app")
