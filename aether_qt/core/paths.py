"""Where Aether keeps its state.

All state lives under one *home*: ``--home DIR`` on the command line, else the
``AETHER_HOME`` environment variable, else the platform's per-user folders
(through ``platformdirs``). With an explicit home, everything (data, config,
models, backups) is a sub-folder of it, so a test or a portable install is
fully contained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

APP_NAME = "aether"
HOME_ENV = "AETHER_HOME"


@dataclass(frozen=True, slots=True)
class AppPaths:
    """The folders and files of one Aether installation.

    Attributes:
        data_dir: databases, models, backups; the runtime guard allows writes here.
        config_dir: settings and the external audit anchor file.
        cache_dir: rebuildable caches (faiss index, prepared models).
    """

    data_dir: Path
    config_dir: Path
    cache_dir: Path

    @property
    def app_db(self) -> Path:
        """Main application database (grants, tickets, memory, settings)."""
        return self.data_dir / "aether.db"

    @property
    def audit_db(self) -> Path:
        """Separate, append-only audit database (``synchronous=FULL``)."""
        return self.data_dir / "audit.db"

    @property
    def backups_dir(self) -> Path:
        """Copies of databases taken before a migration."""
        return self.data_dir / "backups"

    @property
    def models_dir(self) -> Path:
        """Prepared local models (GGUF, STT)."""
        return self.data_dir / "models"

    @property
    def anchor_file(self) -> Path:
        """The newest signed audit checkpoint, kept outside ``audit.db``."""
        return self.config_dir / "audit-anchor.json"

    @property
    def key_file(self) -> Path:
        """Opt-in 0600 key file used only when no keyring works."""
        return self.config_dir / "keys-on-disk.json"

    @property
    def settings_file(self) -> Path:
        """User settings (JSON)."""
        return self.config_dir / "settings.json"

    @property
    def ui_settings_file(self) -> Path:
        """The window's own settings (geometry, open tab) when the home is explicit (Qt INI format)."""
        return self.config_dir / "aether-qt.ini"

    @property
    def personas_dir(self) -> Path:
        """The user's own personas (imported cards among them); the shipped ones live in the package."""
        return self.data_dir / "personas"

    @property
    def writable_roots(self) -> tuple[Path, ...]:
        """Folders the app may write without an effector (its own state)."""
        return (self.data_dir, self.config_dir, self.cache_dir)

    def ensure(self) -> AppPaths:
        """Create the folders (mode 0700) and return ``self``."""
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.backups_dir, self.models_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def resolve_paths(home: str | os.PathLike[str] | None = None) -> AppPaths:
    """Return the paths for ``home``, ``$AETHER_HOME`` or the platform defaults."""
    chosen = home if home is not None else os.environ.get(HOME_ENV)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return AppPaths(data_dir=root / "data", config_dir=root / "config", cache_dir=root / "cache")
    import platformdirs  # lazy: only the default location needs it

    return AppPaths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME)),
    )


def migrations_dir() -> Path:
    """The numbered SQL migrations shipped with the package (top-level ``db/``)."""
    shipped = resources.files("aether_qt") / "_data" / "db"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "db"
