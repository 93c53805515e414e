"""The one SQL store: engine, sessions, migrations.

SQLite (embedded, default) and PostgreSQL are both first-class. One IHE transaction is
one database transaction: handlers write inside `with store.transaction() as session:`,
which commits when the block ends and rolls everything back when it raises.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from hub.store import models as _models  # noqa: F401  (registers every table on Base)
from hub.store.base import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# A pooled connection that sat unused this long is pinged before use (a server restart or
# an idle-session timeout may have closed it); busier ones are not, since a ping is one
# more round trip on every request. A connection found dead in use invalidates the pool.
IDLE_PING_SECONDS = 10.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_when_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if not dbapi_connection.autocommit:
            dbapi_connection.rollback()
    except Exception as exc:
        # The pool discards this connection and checks out another one.
        raise DisconnectionError("stale pooled connection") from exc


def make_engine(url: str, autocommit: bool = False) -> Engine:
    """The store's engine; `autocommit`: one whose connections commit each statement."""
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=10 if autocommit else 20, max_overflow=10, **options)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_when_idle)
    return engine


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Store:
    """Engine and session factory of one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # Each statement committed on its own: for the one-row records every request
        # leaves (VIHF replay, audit), where BEGIN and COMMIT would be two more round trips
        # than the INSERT itself. A pool of its own, so that no connection switches modes.
        self.autocommit = make_engine(url, autocommit=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One database transaction: commit on success, roll back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def session(self) -> Session:
        """A session for read-only work; the caller closes it."""
        return self._sessions()

    def upgrade(self) -> None:
        """Apply every pending Alembic migration (`tsnhub db upgrade`)."""
        with self.engine.begin() as connection:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")

    def is_current(self) -> bool:
        script = ScriptDirectory.from_config(alembic_config(self.url))
        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        return current == set(script.get_heads())

    def close(self) -> None:
        self.engine.dispose()
        self.autocommit.dispose()


__all__ = ["Base", "Store", "make_engine"]
