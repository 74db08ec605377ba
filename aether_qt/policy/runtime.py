"""The policy layer, assembled: storage, keys, audit chain, ledger, tickets, gate, effectors.

:class:`PolicyRuntime` is what the app's composition root and the command line
open. It applies the degraded modes of DESIGN.md §13: with no usable keys the
audit chain cannot be sealed, so the gate runs on an unavailable sink and
denies every side effect (a posture flag says why); a key file is used only
after the user opted in (``allow_key_file``), shown as "keys on disk".

``aether.db`` is encrypted with the data key (:mod:`aether_qt.policy.app_data`).
When that key is missing or wrong the runtime still opens, *locked*: an empty
database in memory stands in (nothing is written to disk, the real file is not
touched), the audit log is left closed, the gate denies every side effect, and
the ``data_locked`` flag says what to do.

A full disk is the one failure it recovers from while running: when the audit
log, the grant ledger or the ticket table failed for want of space, the
``storage_full`` flag names the data folder, the space Aether wants there and
the space there is, and as soon as there is room again (the next request, or
:meth:`PolicyRuntime.check_storage`) the runtime does for the gate what a
restart would do: verify the log since the last verified point, reopen it,
reload the ledger and check it against the verified rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import peewee

from aether_qt.core.paths import AppPaths, migrations_dir
from aether_qt.policy.app_data import open_app_database
from aether_qt.policy.approvals import TicketStore
from aether_qt.policy.audit_anchor import Anchor, AnchorReading
from aether_qt.policy.audit_chain import AuditConnection, AuditLog, connect_audit_db
from aether_qt.policy.audit_home import anchor_store_for, home_in_use, keystore_for
from aether_qt.policy.audit_start import StartCheck, check_at_start, check_missing
from aether_qt.policy.audit_verify import VerifyReport, verify_log
from aether_qt.policy.capabilities import DEFAULT_PRESET, Mode, Preset
from aether_qt.policy.contracts import AuditEntry, AuditRow, AuditWriteError, Clock, SystemClock
from aether_qt.policy.effects import Effectors
from aether_qt.policy.evaluator import CostCheck
from aether_qt.policy.gate import Gate, PolicyConfig
from aether_qt.policy.grant_state import LedgerState
from aether_qt.policy.grants import GrantLedger, LedgerError
from aether_qt.policy.guard import Guard, Violation
from aether_qt.policy.keys import AuditKeys, KeyStatus, KeysUnavailableError
from aether_qt.policy.redaction import Redactor
from aether_qt.policy.scope import is_root_text
from aether_qt.policy.user_words import user_notice
from aether_qt.storage.cipher import DataKey, is_plaintext_sqlite
from aether_qt.storage.database import close_database, open_memory_database
from aether_qt.storage.errors import DataKeyError
from aether_qt.storage.settings import SettingsStore
from aether_qt.storage.space import FreeSpace, measure
from aether_qt.storage.statement_hook import HookedConnection, StatementHook

_log = logging.getLogger(__name__)

SETTING_PRESET = "policy.preset"
SETTING_ROOTS = "policy.approved_roots"
SETTING_OVERRIDES = "policy.user_overrides"
SETTING_KEY_FILE = "policy.allow_key_file"


class UnavailableAudit:
    """An audit sink that cannot write: the gate on top of it denies everything."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def healthy(self) -> bool:
        """Always False."""
        return False

    def append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow:
        """Always raises :class:`AuditWriteError` with the reason."""
        raise AuditWriteError(self.reason)


@dataclass(frozen=True, slots=True)
class PostureFlag:
    """One condition the UI shows as a banner, by priority (lower is more urgent).

    ``space`` is set on ``storage_full``: the folder and the numbers behind the message.
    """

    flag: str
    priority: int
    message: str
    space: FreeSpace | None = None


STORAGE_STOPPED = (
    "Aether's data folder is full, so nothing can be recorded: every action is refused "
    "until there is room (chat goes on). {numbers}."
)
AUDIT_DOWN = "Aether can't write its safety record, so every action is denied until it can."
KEYS_DOWN = "Aether's signing keys are not available."
READ_ONLY = (
    "Read-only: you chose to keep no keys, so Aether can chat but keeps nothing and refuses every action. "
    "Run the setup again to keep the keys in a keyring or in a file on this computer."
)
STORAGE_LOW = "Aether's data folder is almost full: actions will be refused when it is. {numbers}."


def default_roots() -> tuple[Path, ...]:
    """Approved folders for a new installation: the user's Documents folder."""
    return (Path.home() / "Documents",)


class PolicyRuntime:
    """The assembled policy layer of one home. Build it with :meth:`open`; call :meth:`close`.

    Attributes:
        paths: the home's folders.
        database: the app database (grants, tickets, settings).
        settings: key/value settings in that database.
        key_status: where the keys live (for doctor and banners).
        keys_error: why keys could not be loaded ("" when they were).
        audit: the audit chain, or ``None`` when it could not be opened.
        gate: the policy gate (denies everything when ``audit`` is ``None``).
        effectors: the only code that acts on the outside world.
    """

    def __init__(
        self,
        *,
        paths: AppPaths,
        clock: Clock,
        allow_key_file: bool | None = None,
        sole_writer: bool = False,
        connect_audit: Callable[[Path], AuditConnection] = connect_audit_db,
        measure_space: Callable[[Path], FreeSpace | None] = measure,
        statement_hook: StatementHook | None = None,
        read_only: bool = False,
    ) -> None:
        self.paths = paths.ensure()
        self.read_only = read_only  # the user chose no keys: shown as "read-only", not as a breakage
        self._sole_writer = sole_writer
        self.clock = clock
        self._open_audit_connection = connect_audit
        self._measure_space = measure_space
        self._hook = statement_hook
        self.keystore = keystore_for(paths)
        # the key file is only ever written after an opt-in, so its presence is the standing opt-in
        opted_in = bool(allow_key_file) or paths.key_file.exists() or _legacy_key_file_opt_in(paths.app_db)
        self.data_key: DataKey | None = None
        self.data_error = ""
        try:
            data = open_app_database(
                paths, self.keystore, allow_key_file=opted_in, statement_hook=statement_hook
            )
        except DataKeyError as exc:
            self.data_error = exc.user_message
            _log.error("app data locked: %s", exc.detail)
            self.database: peewee.SqliteDatabase = open_memory_database(migrations=migrations_dir())
        else:
            self.database, self.data_key = data.database, data.key
        self.anchor_store = anchor_store_for(paths, self.keystore)
        self.audit: AuditLog | None = None
        try:
            self._assemble(allow_key_file, opted_in)
        except BaseException:  # e.g. the disk is full: close what was opened, leave no handle behind
            if self.audit is not None:
                self.audit.close_without_checkpoint()
            self.anchor_store.close()
            close_database(self.database)
            raise

    def _assemble(self, allow_key_file: bool | None, opted_in: bool) -> None:
        """Everything after the database: settings, keys, the audit log, ledger, tickets, gate."""
        clock = self.clock
        self.settings = SettingsStore(database=self.database)
        remember = allow_key_file and not self.data_error  # an explicit opt-in is remembered ("keys on disk")
        stored_opt_in = self.settings.get_as(SETTING_KEY_FILE, bool, False)  # "false" is no opt-in
        if remember and not stored_opt_in:
            self.settings.set(SETTING_KEY_FILE, True)
        self.allow_key_file = opted_in or stored_opt_in
        self.persona_defaults: dict[str, dict[str, Mode]] = {}
        self._cost_check: CostCheck | None = None  # set by the composition root (set_cost_check)
        self.keys: AuditKeys | None = None
        self.keys_error = ""
        self.audit_error = ""
        self.audit_check: StartCheck | None = None
        if self.data_error:  # the grants live in the locked file: the log's ledger check cannot run
            self.audit_error = "your data is locked"
        else:
            self._open_audit()
        self.key_status: KeyStatus = self.keystore.status()
        self.ledger = GrantLedger(self.database, clock=clock)
        self.tickets = TicketStore(self.database, clock=clock)
        sink: Any = (
            self.audit if self.audit is not None else UnavailableAudit(self.audit_error or self.keys_error)
        )
        verified = self.audit_check.grant_rows if self.audit_check is not None else ()
        if self.audit is not None and not self.ledger.verify_against(verified):
            _log.warning("grant ledger differs from the verified audit rows; rebuilding it from them")
            try:
                self.ledger.rebuild_from_audit(verified)
            except LedgerError as exc:  # the ledger stays not intact: the gate denies until it is rebuilt
                _log.error("grant ledger not rebuilt: %s", exc)
        if self.audit is not None and (closed := self.tickets.close_answered(verified)):
            _log.warning("closed %d approval ticket(s) the audit log says were answered", len(closed))
        self.gate = Gate(
            audit=sink,
            ledger=self.ledger,
            tickets=self.tickets,
            config=self._config(),
            clock=clock,
            redactor=Redactor.from_audit_key(self.keys.hmac_key) if self.keys is not None else None,
            resume=self._resume_after_full_disk,
        )
        self._record_start()
        self.guard: Guard | None = None
        self.effectors = self._make_effectors()

    def _make_effectors(self) -> Effectors:
        """Effectors bound to this gate, the current roots and the guard (if installed)."""
        return Effectors(
            verifier=self.gate,
            approved_roots=self.approved_roots(),
            guard=self.guard,
            download_roots=(self.paths.models_dir,),
        )

    @classmethod
    def open(
        cls,
        paths: AppPaths,
        *,
        allow_key_file: bool | None = None,
        clock: Clock | None = None,
        sole_writer: bool = False,
        connect_audit: Callable[[Path], AuditConnection] = connect_audit_db,
        measure_space: Callable[[Path], FreeSpace | None] = measure,
        statement_hook: StatementHook | None = None,
        read_only: bool = False,
    ) -> PolicyRuntime:
        """Open every part of the policy layer for ``paths``.

        Args:
            paths: the home.
            allow_key_file: the user opts in to keys in a 0600 file when no keyring works.
            clock: time (a fake one in tests).
            sole_writer: the caller holds the home's instance lock (the app): no other
                writer can be alive, so an anchor that says a session is open means a crash.
            connect_audit: opens ``audit.db`` (tests wrap it to make writes fail).
            measure_space: measures the free space of a folder (tests pass fixed numbers).
            statement_hook: sees every statement of both databases (``aether.db`` and
                ``audit.db``) before it runs; the fault sweep of the tests makes one fail.
            read_only: the user chose to keep no keys (the wizard's "stay read-only"): without
                keys the posture says "read-only" instead of "audit broken" and "policy degraded".

        Raises:
            StorageError: the app database cannot be used (locked, corrupt, newer schema...).
        """
        return cls(
            paths=paths,
            clock=clock or SystemClock(),
            allow_key_file=allow_key_file,
            sole_writer=sole_writer,
            connect_audit=connect_audit,
            measure_space=measure_space,
            statement_hook=statement_hook,
            read_only=read_only,
        )

    # ------------------------------------------------------------------ opening

    def _others_alive(self) -> bool:
        """Another writer (the app) holds this home, so its session is legitimately open."""
        return not self._sole_writer and home_in_use(self.paths)

    def _open_audit(self) -> None:
        log_exists = self.paths.audit_db.exists() or self.paths.anchor_file.exists()
        try:
            self.keys = self.keystore.load_keys(log_exists=log_exists, allow_key_file=self.allow_key_file)
        except KeysUnavailableError as exc:
            self.keys_error = str(exc)
            _log.warning("audit keys unavailable: %s", exc)
            return
        reading = self.anchor_store.read(public_key=self.keys.public_key, key_id=self.keys.key_id)
        if not self.paths.audit_db.exists():
            missing = check_missing(reading)
            if missing is not None:  # never a fresh log over the evidence that there was one
                self._refuse(missing)
                return
            check = StartCheck("", "", grants_digest=LedgerState().digest)
        else:
            check = None
        try:
            self.audit = AuditLog.open(
                self.paths.audit_db,
                keys=self.keys,
                anchor_store=self.anchor_store,
                clock=self.clock,
                connect=self._connect_audit,
            )
        except AuditWriteError as exc:
            self.audit_error = str(exc)
            _log.warning("audit log unavailable: %s", exc)
            return
        fresh = check is not None
        if check is None:
            check = check_at_start(
                self.paths.audit_db, keys=self.keys, reading=reading, live=self._others_alive()
            )
            # an empty log with no anchor: a start killed after creating it, before anchoring it
            fresh = check.ok and reading.anchor is None
        if fresh:  # a new log is anchored before its first row: a crash after that row is an unclean end
            try:
                self.audit.vouch(keyring=True, session_open=True)
            except AuditWriteError as exc:
                _log.warning("the new audit log could not be anchored yet: %s", exc)
        if not check.ok:
            self.audit.close_without_checkpoint()
            self.audit = None
            self._refuse(check)
            return
        self.audit_check = check
        self.audit.set_verified(
            epoch=check.epoch,
            verified_seq=check.verified_seq,
            verified_hash=check.verified_hash,
            grants_digest=check.grants_digest,
        )

    def _connect_audit(self, path: Path) -> AuditConnection:
        conn = self._open_audit_connection(path)
        if self._hook is None:
            return conn
        return HookedConnection(cast(sqlite3.Connection, conn), self._hook, path.name)

    def _refuse(self, check: StartCheck) -> None:
        """The log does not extend its anchor (or failed verification): the gate stays deny-all."""
        self.audit_check = check
        self.audit_error = f"{check.message}. Run `aether audit acknowledge` to start a new epoch."
        _log.error("%s", self.audit_error)

    def _record_start(self) -> None:
        """Audit the start of a session: preset, where the keys live (never the keys)."""
        if self.audit is None:
            return
        check = self.audit_check
        detail: dict[str, Any] = {
            "event": "session_start",
            "preset": self.preset().value,
            "keys": self.keys.source if self.keys else "none",
            "keyring_backend": self.keystore.status().backend,
            "epoch": self.audit.epoch,
            "verified_through": check.verified_seq if check else 0,
        }
        if check is not None and (check.unclean or check.tail):
            detail["previous_session"] = {"closed": not check.unclean, "rows_after_anchor": check.tail}
        try:
            self.audit.append(
                AuditEntry(
                    actor="system", capability="", resource="", decision="session_start", detail=detail
                )
            )
            self.audit.vouch(keyring=True, session_open=True)
        except AuditWriteError as exc:
            _log.warning("session start not audited: %s", exc)

    def _config(self) -> PolicyConfig:
        return PolicyConfig(
            preset=self.preset(),
            approved_roots=self.approved_roots(),
            user_overrides=self.user_overrides(),
            persona_defaults=self.persona_defaults,
            keys_available=self.keys is not None,
            allow_without_keys=False,
            protected_dirs=(self.paths.config_dir, self.paths.data_dir, self.paths.cache_dir),
            cost_check=self._cost_check,
        )

    def set_cost_check(self, check: CostCheck | None) -> None:
        """Have the gate refuse paid ``router.remote`` requests while the cost ledger says so.

        The composition root passes the ledger's hook (the ledger lives in the router engine,
        above this layer); the reservation before each call is the hard limit, this is the
        gate's view of it, so a refusal is audited as ``cost_cap``.
        """
        self._cost_check = check
        self.gate.update_config(self._config())

    # ------------------------------------------------------------------ settings

    def preset(self) -> Preset:
        """The persisted permission preset (Assistant by default)."""
        name = self.settings.get_as(SETTING_PRESET, str, DEFAULT_PRESET.value)
        try:
            return Preset.parse(name)
        except ValueError:
            _log.warning("unknown preset %r in settings; using %s", name, DEFAULT_PRESET.value)
            return DEFAULT_PRESET

    def approved_roots(self) -> tuple[Path, ...]:
        """Folders path capabilities may touch (stored values that are not absolute paths are skipped)."""
        stored = self.settings.get_as(SETTING_ROOTS, list, [])
        roots = tuple(Path(p) for p in stored if is_root_text(p))
        if len(roots) < len(stored):
            _log.warning(
                "ignoring %d approved folder(s) in settings that are not absolute paths",
                len(stored) - len(roots),
            )
        return roots or default_roots()

    def user_overrides(self) -> dict[str, Mode]:
        """Capability -> mode chosen by the user."""
        stored = self.settings.get_as(SETTING_OVERRIDES, dict, {})
        overrides: dict[str, Mode] = {}
        for cap, mode in stored.items():
            try:
                overrides[str(cap)] = Mode(str(mode))
            except ValueError:
                _log.warning("ignoring unknown mode %r for %s in settings", mode, cap)
        return overrides

    def set_preset(self, preset: Preset, *, change_id: str = "") -> list[str]:
        """Persist and apply a preset; returns the grants revoked by the cascade.

        ``change_id`` is written on the cascade's audit row (see :meth:`Gate.set_preset`).
        """
        self.settings.set(SETTING_PRESET, preset.value)
        return self.gate.set_preset(preset, change_id=change_id)

    def set_roots(self, roots: tuple[Path, ...], *, change_id: str = "") -> list[str]:
        """Persist approved folders and apply them (an audited config change, stamped ``change_id``)."""
        self.settings.set(SETTING_ROOTS, [str(r) for r in roots])
        self.effectors = self._make_effectors()
        return self.gate.update_config(self._config(), change_id=change_id)

    def change_setting(self, key: str, value: str, *, change_id: str = "") -> str:
        """Persist the user's choice of a setting that shapes policy, and audit it (``Gate.record_setting``).

        Returns:
            The audit id of the change ("" when the audit log could not record it; the
            choice is kept anyway: a stricter choice must never wait for the log).
        """
        previous = self.settings.get(key, None)
        self.settings.set(key, value)
        before = "" if previous is None else str(previous)
        return self.gate.record_setting(key, value, before, change_id=change_id)

    def set_persona_defaults(self, persona_id: str, defaults: dict[str, Mode]) -> list[str]:
        """Apply a persona's proposed modes (they can only narrow; the gate uses the stricter)."""
        self.persona_defaults = {persona_id: dict(defaults)}
        return self.gate.update_config(self._config())

    def install_guard(self, *, make_guard: Callable[[tuple[Path, ...]], Guard] | None = None) -> Guard:
        """Install the runtime guard for this process (the app does; the CLI does too).

        It stays installed for the life of the process, also after :meth:`close`.
        ``make_guard`` builds it from the writable roots (default :func:`logging_guard`;
        tests pass one that registers no real hook: a registered hook can never be removed).
        """
        if self.guard is None:
            self.guard = (make_guard or logging_guard)(self.paths.writable_roots)
            self.guard.install()
            self.effectors = self._make_effectors()
        return self.guard

    # ------------------------------------------------------------------ posture

    def posture(self) -> list[PostureFlag]:
        """Conditions the UI must show, most urgent first."""
        flags: list[PostureFlag] = []
        if self.data_error and self.read_only and self.keys is None:  # no keys, so no data key either
            return [PostureFlag("read_only", 1, READ_ONLY)]
        if self.data_error:
            message = f"{self.data_error} Every action is denied until then."
            flags.append(PostureFlag("data_locked", 0, message))
            return flags
        stopped_by_space = self._stopped_by_space()
        if self.audit_check is not None and not self.audit_check.ok:
            flags.append(
                PostureFlag("audit_broken", 0, f"{self.audit_error} Every action is denied until then.")
            )
        elif stopped_by_space:
            pass  # the storage flag below names the cause and what to do
        elif self.keys is None and self.read_only:  # the user's choice, not a breakage: one calm flag
            flags.append(PostureFlag("read_only", 1, READ_ONLY))
        elif self.audit is None or not self.audit.healthy or self.gate.degraded:
            why = self.audit_error or self.keys_error or (self.audit.last_error if self.audit else "")
            said = user_notice(why, where="Aether's safety record") if why else ""
            message = f"{AUDIT_DOWN} {said}".strip()
            flags.append(PostureFlag("audit_broken", 0, message))
        if self.keys is None:
            if not self.read_only:  # read-only has no keys on purpose: the flag above says so
                why = user_notice(self.keys_error, where="Aether's keys")
                flags.append(
                    PostureFlag("policy_degraded", 1, f"Aether's signing keys are not available. {why}")
                )
        elif self.keys.source == "key_file":
            flags.append(PostureFlag("keys_on_disk", 2, "Audit keys are kept in a file on disk (opt-in)."))
        if self.gate.paused:
            flags.append(PostureFlag("paused", 3, "Side effects are paused."))
        space = self.free_space()
        if space is not None and (stopped_by_space or not space.enough):
            text = STORAGE_STOPPED if stopped_by_space else STORAGE_LOW
            flags.append(
                PostureFlag(
                    "storage_full", 0 if stopped_by_space else 1, text.format(numbers=space.sentence()), space
                )
            )
        return sorted(flags, key=lambda f: f.priority)

    # ------------------------------------------------------------------ storage

    def free_space(self) -> FreeSpace | None:
        """The space in the data folder against what Aether wants there (None: cannot be measured)."""
        return self._measure_space(self.paths.data_dir)

    def _stopped_by_space(self) -> bool:
        """Whether a write of the audit log, the ledger or the tickets failed for want of space."""
        audit_full = self.audit is not None and not self.audit.healthy and self.audit.out_of_space
        return audit_full or self.ledger.out_of_space or self.tickets.out_of_space

    def check_storage(self) -> bool:
        """Look again for room ("Check again"): True when no lack of space stops side effects now."""
        return self.gate.resume()

    def _resume_after_full_disk(self) -> bool:
        """The gate's resume hook: bring the log and the ledger back when space returned.

        Runs under the gate's lock. Only a failure for want of space is undone,
        only when the data folder has the room Aether wants, and only after the
        audit log verified again from its last verified point (as at start);
        anything else leaves the gate deny-all.
        """
        audit, keys = self.audit, self.keys
        if audit is None or keys is None or not self._stopped_by_space():
            return False
        space = self.free_space()
        if space is None or not space.enough:
            return False
        check = check_at_start(self.paths.audit_db, keys=keys, reading=self.anchors(), live=True)
        if not check.ok:
            self._refuse(check)
            return False
        if not (self.ledger.reload() and self.tickets.recheck()):
            return False  # read again first: nothing is written before they read well
        try:
            audit.resume()
            audit.set_verified(
                epoch=check.epoch,
                verified_seq=check.verified_seq,
                verified_hash=check.verified_hash,
                grants_digest=check.grants_digest,
            )
            if not self.ledger.verify_against(check.grant_rows):
                _log.warning("grant ledger differs from the verified audit rows; rebuilding it from them")
                self.ledger.rebuild_from_audit(check.grant_rows)
        except (AuditWriteError, LedgerError) as exc:
            _log.warning("side effects not resumed: %s", exc)
            return False
        _log.info("space returned in %s: side effects resume", self.paths.data_dir)
        return True

    # ------------------------------------------------------------------ audit

    def anchors(self) -> AnchorReading:
        """The anchor copies of this home, checked against its keys (nothing without keys)."""
        if self.keys is None:
            return AnchorReading(None)
        return self.anchor_store.read(public_key=self.keys.public_key, key_id=self.keys.key_id)

    def anchor(self) -> Anchor | None:
        """The newest valid external anchor of this home's audit log."""
        return self.anchors().anchor

    def verify(self) -> VerifyReport:
        """Verify this home's audit log in full, from inside the running writer (the app or a command)."""
        if self.audit is not None:
            try:
                self.audit.vouch(keyring=False)  # the newest rows are this session's own
            except AuditWriteError as exc:
                _log.warning("anchor not moved before verification: %s", exc)
        reading = self.anchors()
        return verify_log(
            self.paths.audit_db,
            keys=self.keys,
            anchor=reading.anchor,
            invalid_anchors=reading.invalid,
            live=True,
        )

    def _verify_session(self, audit: AuditLog) -> bool:
        """Verify this session's rows (and any other writer's) before the closing anchor vouches for them.

        Returns False when they fail: then nothing may be signed over them.
        """
        assert self.keys is not None  # the log was opened with them
        check = check_at_start(self.paths.audit_db, keys=self.keys, reading=self.anchors(), live=True)
        if not check.ok:
            _log.error("the audit log failed verification at shutdown: %s", check.message)
            return False
        audit.set_verified(
            epoch=check.epoch,
            verified_seq=check.verified_seq,
            verified_hash=check.verified_hash,
            grants_digest=check.grants_digest,
        )
        return True

    def close(self) -> None:
        """Verify the session, write the shutdown checkpoint and anchor, close the databases (idempotent).

        The guard stays installed: it cannot be switched off.
        """
        if self.audit is not None and not self._verify_session(self.audit):
            self.audit.close_without_checkpoint()  # no checkpoint, no anchor over rows that failed
            self.audit = None
        if self.audit is not None:
            try:
                self.audit.close(session_open=self._others_alive())
            except AuditWriteError as exc:
                _log.warning("shutdown checkpoint not written: %s", exc)
            self.audit = None
        self.anchor_store.close()
        if not self.database.is_closed():
            close_database(self.database)

    def __enter__(self) -> PolicyRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _legacy_key_file_opt_in(path: Path) -> bool:
    """The key-file opt-in recorded in a plaintext database of an older release (read-only peek)."""
    if not is_plaintext_sqlite(path):
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (SETTING_KEY_FILE,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "true"


def logging_guard(writable_roots: tuple[Path, ...]) -> Guard:
    """The app's guard (not yet installed): it logs each violation at WARNING (no secret in it)."""

    def log(violation: Violation) -> None:
        _log.warning("the runtime guard stopped %s", violation.reason)

    return Guard(writable_roots, on_violation=log)
