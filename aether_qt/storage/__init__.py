"""Storage: SQLite through peewee (WAL), the migration runner, typed errors, settings.

No Qt here. Open databases with :func:`aether_qt.storage.database.open_database`;
environment problems surface as :class:`aether_qt.storage.errors.StorageError`
subclasses whose messages name the file.
"""
