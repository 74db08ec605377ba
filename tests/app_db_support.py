"""Raw access to a home's encrypted ``aether.db``, for tests that edit rows behind the app's back."""

from __future__ import annotations

from typing import Any

from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_home import keystore_for
from aether_qt.storage.cipher import DataKey, connect_keyed


def data_key(paths: AppPaths) -> DataKey:
    """The home's data key (keyring first, then the key file), as the app loads it."""
    return keystore_for(paths).load_data_key(encrypted_data_exists=True, allow_key_file=True)


def connect_app_db(paths: AppPaths) -> Any:
    """An autocommit SQLCipher connection to ``paths.app_db`` opened with the home's data key."""
    return connect_keyed(paths.app_db, data_key(paths))
