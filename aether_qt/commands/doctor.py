"""``aether doctor``: what works on this machine and what does not.

Each check returns a small dict with ``ok`` (True, False or None for "not
applicable") and a human ``detail``. Checks never raise: a failing probe is a
finding, not a crash. Nothing here prints a secret.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from aether_qt import __version__
from aether_qt.commands.output import emit_json
from aether_qt.core.paths import AppPaths, migrations_dir, resolve_paths

Check = dict[str, Any]


def _check_paths(paths: AppPaths) -> Check:
    writable = all(os.access(p, os.W_OK) for p in paths.writable_roots if p.exists())
    return {
        "ok": writable,
        "detail": f"data={paths.data_dir} config={paths.config_dir} cache={paths.cache_dir}",
    }


def _check_schema(paths: AppPaths) -> Check:
    from aether_qt.storage.migrations import current_version, latest_version

    latest = latest_version(migrations_dir())
    if not paths.app_db.exists():
        return {"ok": None, "detail": f"no database yet (app knows schema v{latest})", "latest": latest}
    try:
        from aether_qt.commands.session import app_database

        with app_database(paths) as db:
            version = current_version(db)
    except Exception as exc:  # a finding, reported as such
        return {"ok": False, "detail": f"cannot read {paths.app_db}: {exc}", "latest": latest}
    ok = version == latest
    return {
        "ok": ok,
        "detail": f"schema v{version} (app knows v{latest})",
        "version": version,
        "latest": latest,
    }


def _check_encryption(paths: AppPaths, allow_key_file: bool) -> Check:
    """Is ``aether.db`` encrypted, and does the data key open it (never a new key, never a write)?"""
    from aether_qt.policy.app_data import encrypted_data_exists
    from aether_qt.policy.audit_home import keystore_for
    from aether_qt.policy.keys import KeysUnavailableError
    from aether_qt.storage.cipher import connect_keyed, is_plaintext_sqlite

    path = paths.app_db
    if not path.exists():
        return {"ok": None, "detail": "no database yet: it is created encrypted"}
    if is_plaintext_sqlite(path):
        return {"ok": None, "detail": f"{path} is plaintext (an older release): the next start encrypts it"}
    opted_in = allow_key_file or paths.key_file.exists()
    try:
        key = keystore_for(paths).load_data_key(
            encrypted_data_exists=encrypted_data_exists(path), allow_key_file=opted_in
        )
        conn = connect_keyed(path, key, read_only=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except KeysUnavailableError as exc:
        return {"ok": False, "detail": f"locked: {exc}"}
    except Exception as exc:  # a finding, reported as such
        return {"ok": False, "detail": f"locked: the data key does not open {path} ({exc})"}
    where = "the opt-in key file" if key.source == "key_file" else "the keyring"
    return {"ok": True, "detail": f"encrypted (SQLCipher), key {key.fingerprint()} in {where}"}


def _check_keyring(paths: AppPaths) -> Check:
    from aether_qt.policy.audit_home import keystore_for

    status = keystore_for(paths).status()
    return {
        "ok": status.usable,
        "backend": status.backend,
        "on_disk": status.on_disk,
        "detail": status.message,
    }


def _check_audit(paths: AppPaths, allow_key_file: bool) -> Check:
    from aether_qt.policy.audit_home import verify_home

    report = verify_home(paths, allow_key_file=allow_key_file)
    return {
        "ok": report.status == "intact" and report.anchored,
        "status": report.status,
        "anchored": report.anchored,
        "rows": report.rows_checked,
        "detail": report.message,
    }


def _check_opengl() -> Check:
    """Create an offscreen GL context on the current display and read the renderer."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return {"ok": None, "detail": "no display: the QPainter avatar will be used"}
    from aether_qt.commands.probe_gl import probe_opengl

    return probe_opengl()


def _check_python() -> Check:
    return {
        "ok": sys.version_info >= (3, 11),
        "detail": f"Python {platform.python_version()} on {sys.platform}",
    }


def stored_push_to_talk(paths: AppPaths, allow_key_file: bool) -> tuple[str, str]:
    """The push-to-talk key and backend the app would use: the stored ones, else F9 and ``auto``."""
    from aether_qt.services.settings.voice import DEFAULT_PTT_KEY, SETTING_PTT_BACKEND, SETTING_PTT_KEY

    if not paths.app_db.exists():
        return DEFAULT_PTT_KEY, "auto"
    try:
        from aether_qt.commands.session import app_database
        from aether_qt.storage.settings import SettingsStore

        with app_database(paths, allow_key_file=allow_key_file) as db:
            store = SettingsStore(database=db)
            key = store.get_as(SETTING_PTT_KEY, str, "") or DEFAULT_PTT_KEY
            return key, store.get_as(SETTING_PTT_BACKEND, str, "") or "auto"
    except Exception:  # a locked or broken database is the encryption check's finding
        return DEFAULT_PTT_KEY, "auto"


def collect(
    paths: AppPaths, *, allow_key_file: bool, ptt_key: str = "F9", ptt_backend: str = "auto"
) -> dict[str, Check]:
    """Run every check; each failure becomes ``{"ok": False, "detail": ...}``."""
    from aether_qt.commands import doctor_voice as voice

    checks: dict[str, Callable[[], Check]] = {
        "python": _check_python,
        "paths": lambda: _check_paths(paths),
        "encryption": lambda: _check_encryption(paths, allow_key_file),
        "schema": lambda: _check_schema(paths),
        "keyring": lambda: _check_keyring(paths),
        "audit": lambda: _check_audit(paths, allow_key_file),
        "opengl": _check_opengl,
        "audio": voice.check_audio,
        "stt": voice.check_stt,
        "tts": voice.check_tts,
        "hotkey": lambda: voice.check_hotkey(ptt_key, prefer=ptt_backend),
    }
    results: dict[str, Check] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # every probe failure is a finding
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    return results


def run(args: argparse.Namespace) -> int:
    """Print the checks; exit 0 when nothing is broken (None counts as fine)."""
    paths = resolve_paths(args.home).ensure()
    key, backend = stored_push_to_talk(paths, args.allow_key_file)
    results = collect(paths, allow_key_file=args.allow_key_file, ptt_key=key, ptt_backend=backend)
    if args.json:
        emit_json({"version": __version__, "checks": results})
    else:
        sys.stdout.write(f"aether {__version__}\n")
        for name, check in results.items():
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[check["ok"]]
            sys.stdout.write(f"[{mark}] {name:<8} {check['detail']}\n")
    return 0 if all(c["ok"] is not False for c in results.values()) else 1
