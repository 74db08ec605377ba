"""The guard's rules for native code: library loading, symbol look-ups, process-spawn entry points.

Once the guard is installed, a native library may be loaded (``ctypes.dlopen``,
or cffi's ``dlopen``) only if it is on :data:`APP_LIBRARIES`: libraries the app
really loads after start-up, each with the prefix of the symbols it may be asked
for. ``dlopen(None)`` (the main program, hence all of libc) is refused, and so is
a look-up of any other symbol: ``dlsym`` on a library also finds the symbols of its
dependencies (``llmodel.system`` would be libc's ``system``).

Some entry points raise no audit event, or one that comes too early, so
:func:`wrap_native_entry_points` wraps them when the guard is installed:
``_posixsubprocess.fork_exec`` (``multiprocessing``'s spawn and forkserver start
methods call it directly), cffi's loaders (``_cffi_backend.load_library`` and
``FFI.dlopen``, which ``vosk`` uses) and ``sqlite3.connect`` (the
``sqlite3.connect/handle`` event comes before the connection can take an
authorizer, so the wrapper sets it once the connection is made). SQLCipher's
``sqlcipher3.connect`` raises no audit event at all, so its wrapper applies the
``sqlite3.connect`` file rule itself before connecting, then sets the authorizer. It also imports
:mod:`ctypes` first: its own import opens the main program. Importing
``_posixsubprocess``, ``_cffi_backend`` or ``cffi`` afterwards (a fresh, unwrapped
copy) is refused.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from aether_qt.policy.guard_rules import AllowedLibrary, Check, GuardRules, canonical, inside

NativeCheck = Callable[[str, tuple[object, ...]], None]
"""The installed guard's check: raises :class:`~aether_qt.policy.guard.GuardViolation` to refuse."""

LATE_IMPORTS_REFUSED = frozenset({"_posixsubprocess", "_cffi_backend", "cffi"})


class ConnectionGate(Protocol):
    """How the wrapped ``sqlite3.connect`` tells the guard about the connections it makes."""

    def opening(self) -> AbstractContextManager[None]:
        """Marks "``sqlite3.connect`` is running" for the current thread or task."""

    def opened(self, connection: Any) -> None:
        """Called with each connection made: the guard sets its authorizer."""


@dataclass(frozen=True, slots=True)
class NativeLibrary:
    """A native library the app loads after start-up.

    Attributes:
        why: who loads it, and why it must stay allowed.
        names: exact names the loader is given (sonames, or absolute system paths).
        package: an installed package whose folder holds it (any library inside matches).
        symbols: the prefix of every symbol that may be looked up in it (``""``: none).
    """

    why: str
    names: tuple[str, ...] = ()
    package: str = ""
    symbols: str = ""


APP_LIBRARIES: tuple[NativeLibrary, ...] = (
    NativeLibrary(
        why="gpt4all's llmodel runs the local model; gpt4all._pyllmodel opens it on the first model load",
        package="gpt4all",
        symbols="llmodel_",
    ),
    NativeLibrary(
        why="the CUDA runtime gpt4all preloads (no look-ups) when NVIDIA's wheels are installed",
        package="nvidia",
    ),
    NativeLibrary(
        why="espeak-ng speaks; pyttsx3.drivers._espeak tries these names in this order on the TTS thread",
        names=(
            "/opt/homebrew/lib/libespeak-ng.1.dylib",
            "/usr/local/lib/libespeak-ng.1.dylib",
            "/usr/local/lib/libespeak.dylib",
            "libespeak-ng.so.1",
            "/usr/local/lib/libespeak-ng.so.1",
            "libespeak.so.1",
            r"C:\Program Files\eSpeak NG\libespeak-ng.dll",
            r"C:\Program Files (x86)\eSpeak NG\libespeak-ng.dll",
        ),
        symbols="espeak_",
    ),
    NativeLibrary(
        why="vosk recognises speech; `import vosk` on the media thread opens it through cffi",
        package="vosk",
    ),
)
"""The libraries the running app loads after the guard is installed (found by running it)."""


def _package_folders(package: str, find_spec: Callable[[str], Any]) -> tuple[str, ...]:
    """The folders of an installed package, found without importing it."""
    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return ()
    if spec is None or spec.submodule_search_locations is None:
        return ()
    return tuple(spec.submodule_search_locations)


def resolve_libraries(
    libraries: Sequence[NativeLibrary], *, find_spec: Callable[[str], Any] = importlib.util.find_spec
) -> tuple[AllowedLibrary, ...]:
    """Resolve the allowlist once: package folders located, absolute names canonicalised."""
    resolved = []
    for library in libraries:
        folders = _package_folders(library.package, find_spec) if library.package else ()
        names = {*library.names, *(canonical(n) for n in library.names if os.path.isabs(n))}
        resolved.append(
            AllowedLibrary(
                names=frozenset(names),
                folders=tuple(canonical(f) for f in folders),
                symbols=library.symbols,
            )
        )
    return tuple(resolved)


def allowed_library(name: object, rules: GuardRules) -> AllowedLibrary | None:
    """The allowlist entry ``name`` (as given to the loader) falls under, or None."""
    if not isinstance(name, (str, bytes, os.PathLike)):
        return None  # None is the main program; a handle or cdata is not a file name
    raw = os.fsdecode(name)
    exact = next((lib for lib in rules.libraries if raw in lib.names), None)
    if exact is not None or os.sep not in raw:
        return exact  # a bare soname is searched on the system path: only listed ones
    where = canonical(raw)
    return next((lib for lib in rules.libraries if where in lib.names or inside(where, lib.folders)), None)


def _shown(name: object) -> str:
    if name is None:
        return "the main program"
    if isinstance(name, (str, bytes, os.PathLike)):
        return os.path.basename(os.fsdecode(name))
    return "a handle"


def _check_dlopen(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    if allowed_library(args[0], rules) is not None:
        return None
    return f"{event}: loading {_shown(args[0])} (not on the native-library allowlist)"


def _loaded_name(library: object) -> object:
    """The name a ctypes library object was opened by (``CDLL._name``), without a look-up."""
    try:
        return vars(library).get("_name")
    except TypeError:
        return None


def _check_dlsym(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    name, symbol = _loaded_name(args[0]), args[1]
    library = allowed_library(name, rules)
    if (
        library is not None
        and library.symbols
        and isinstance(symbol, str)
        and symbol.startswith(library.symbols)
    ):
        return None
    return f"{event}: looking up {symbol!s} in {_shown(name)} (not on the native-library allowlist)"


def _check_dlsym_handle(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: looking up {args[1]!s} by a raw library handle"


def _check_import(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    if args[0] in LATE_IMPORTS_REFUSED:
        return f"{event}: loading {args[0]} after start-up"
    return None


def _check_load_extension(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: loading a SQLite extension (native code)"


NATIVE_CHECKS: dict[str, Check] = {
    "ctypes.dlopen": _check_dlopen,
    "cffi.dlopen": _check_dlopen,  # raised by the guard's wrappers: cffi has no audit events
    "ctypes.dlsym": _check_dlsym,
    "ctypes.dlsym/handle": _check_dlsym_handle,
    "import": _check_import,
    "sqlite3.enable_load_extension": _check_load_extension,
    "sqlite3.load_extension": _check_load_extension,
}
"""Native-code rules by audit event."""


# ---------------------------------------------------------------------- entry points without events
def _first(value: object) -> object:
    return value[0] if isinstance(value, (list, tuple)) and value else None


def wrap_fork_exec(module: Any, check: NativeCheck) -> None:
    """Make ``module.fork_exec`` (``_posixsubprocess``) ask ``check`` first; it raises no event."""
    original = module.fork_exec

    def fork_exec(*args: object) -> object:
        argv = args[0] if args else None
        executables = args[1] if len(args) > 1 else None
        check("_posixsubprocess.fork_exec", (_first(argv) or _first(executables),))
        return original(*args)

    module.fork_exec = fork_exec


def wrap_cffi(module: Any, check: NativeCheck) -> None:
    """Make cffi's library loaders (``_cffi_backend``) ask ``check`` first; cffi raises no events.

    ``load_library`` serves ``cffi.FFI().dlopen``; ``FFI`` is replaced by a subclass whose
    ``dlopen`` checks, which the generated (out-of-line) modules imported later instantiate.
    """
    load_library = module.load_library

    def checked_load_library(name: object, flags: int = 0) -> object:
        check("cffi.dlopen", (name,))
        return load_library(name, flags)

    class FFI(module.FFI):  # type: ignore[misc,name-defined]
        def dlopen(self, name: object, flags: int = 0) -> object:
            check("cffi.dlopen", (name,))
            return super().dlopen(name, flags)

    module.load_library = checked_load_library
    module.FFI = FFI


def wrap_sqlite_connect(modules: Sequence[Any], gate: ConnectionGate) -> None:
    """Make ``connect`` of ``modules`` (``sqlite3`` and ``sqlite3.dbapi2``) report to ``gate``."""
    original = modules[0].connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        with gate.opening():
            connection = original(*args, **kwargs)
        gate.opened(connection)
        return connection

    for module in modules:
        module.connect = connect


def wrap_sqlcipher_connect(modules: Sequence[Any], gate: ConnectionGate, check: NativeCheck) -> None:
    """Make SQLCipher's ``connect`` obey the ``sqlite3.connect`` rule and take the guard's authorizer."""
    original = modules[0].connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> Any:
        check("sqlite3.connect", (database,))
        with gate.opening():
            connection = original(database, *args, **kwargs)
        gate.opened(connection)
        return connection

    for module in modules:
        module.connect = connect


def native_modules() -> dict[str, ModuleType]:
    """Import what :func:`patch_entry_points` wraps, and :mod:`ctypes` (its import opens the main program)."""
    import _posixsubprocess
    import ctypes  # noqa: F401 - imported now, while opening the main program is still start-up
    import sqlite3.dbapi2

    import sqlcipher3
    import sqlcipher3.dbapi2

    modules: dict[str, ModuleType] = {
        "_posixsubprocess": _posixsubprocess,
        "sqlite3": sqlite3,
        "sqlite3.dbapi2": sqlite3.dbapi2,
        "sqlcipher3": sqlcipher3,
        "sqlcipher3.dbapi2": sqlcipher3.dbapi2,
    }
    try:
        import _cffi_backend
    except ImportError:  # cffi comes with PyNaCl; without it nothing can load through it
        pass
    else:
        modules["_cffi_backend"] = _cffi_backend
    return modules


def patch_entry_points(
    check: NativeCheck,
    gate: ConnectionGate,
    modules: Mapping[str, ModuleType],
    loaded: Mapping[str, ModuleType],
) -> None:
    """Wrap the entry points of ``modules``; rebind ``subprocess``'s own reference if already ``loaded``."""
    fork = modules["_posixsubprocess"]
    wrap_fork_exec(fork, check)
    subprocess = loaded.get("subprocess")
    if subprocess is not None and hasattr(subprocess, "_fork_exec"):
        subprocess._fork_exec = fork.fork_exec  # type: ignore[attr-defined] # bound at its import
    wrap_sqlite_connect([modules["sqlite3"], modules["sqlite3.dbapi2"]], gate)
    if "sqlcipher3.dbapi2" in modules:
        wrap_sqlcipher_connect([modules["sqlcipher3.dbapi2"], modules["sqlcipher3"]], gate, check)
    cffi = modules.get("_cffi_backend")
    if cffi is not None:
        wrap_cffi(cffi, check)


def wrap_native_entry_points(check: NativeCheck, gate: ConnectionGate) -> None:
    """What :meth:`Guard.install` does before registering its hook (see the module docstring)."""
    patch_entry_points(check, gate, native_modules(), sys.modules)
