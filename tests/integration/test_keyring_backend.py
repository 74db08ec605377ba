"""`keyring` talks to a real Secret Service (gnome-keyring) inside the desktop of make test.

Outside it (EXPECT_SECRET_SERVICE unset) the test skips: a developer's own keyring must
never be written to by the test suite.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import keyring
import pytest
import secretstorage
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError

pytestmark = pytest.mark.skipif(
    os.environ.get("EXPECT_SECRET_SERVICE") != "1",
    reason="needs the throw-away Secret Service of scripts/with-desktop.sh (EXPECT_SECRET_SERVICE=1)",
)

SERVICE = "aether-test"


@pytest.fixture
def username() -> Iterator[str]:
    """A unique user name; its secret is removed afterwards even if the test fails."""
    name = f"user-{uuid.uuid4().hex[:12]}"
    yield name
    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(SERVICE, name)


def test_default_backend_is_secret_service() -> None:
    assert os.environ.get("PYTHON_KEYRING_BACKEND") is None
    backend = keyring.get_keyring()
    assert isinstance(backend, SecretService.Keyring), (
        f"got {type(backend).__module__}.{type(backend).__name__}"
    )


def test_set_get_delete_round_trip(username: str) -> None:
    secret = f"s3cret-ü-{uuid.uuid4().hex}"
    assert keyring.get_password(SERVICE, username) is None
    keyring.set_password(SERVICE, username, secret)
    assert keyring.get_password(SERVICE, username) == secret
    credential = keyring.get_credential(SERVICE, username)
    assert credential is not None
    assert credential.password == secret

    keyring.set_password(SERVICE, username, secret + "-v2")  # overwrite, not duplicate
    assert keyring.get_password(SERVICE, username) == secret + "-v2"

    keyring.delete_password(SERVICE, username)
    assert keyring.get_password(SERVICE, username) is None
    with pytest.raises(PasswordDeleteError):
        keyring.delete_password(SERVICE, username)


def test_secret_is_stored_in_the_unlocked_gnome_keyring(username: str) -> None:
    """Look at the item through Secret Service directly, not through `keyring`."""
    keyring.set_password(SERVICE, username, "visible-over-dbus")
    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        assert not collection.is_locked(), "the harness must unlock the keyring with a non-empty password"
        items = list(collection.search_items({"service": SERVICE, "username": username}))
        assert len(items) == 1
        assert items[0].get_secret() == b"visible-over-dbus"
    finally:
        connection.close()
