"""The one store: migrations, transactions, UTC datetimes, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from hub.store import Base, Store
from hub.store.models.audit import AuditRecord


def test_migrations_create_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_current(store: Store) -> None:
    store.upgrade()
    assert store.is_current()


def test_a_fresh_database_is_not_current(store_url: str) -> None:
    fresh = Store(store_url)
    try:
        assert not fresh.is_current()
    finally:
        fresh.close()


def _record(transaction: str) -> AuditRecord:
    return AuditRecord(at=datetime.now(timezone.utc), transaction=transaction, outcome="success")


def test_transaction_commits_when_the_block_ends(store: Store) -> None:
    with store.transaction() as session:
        session.add(_record("ITI-41"))
    with store.session() as session:
        assert session.scalars(select(AuditRecord.transaction)).all() == ["ITI-41"]


def test_transaction_rolls_back_everything_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction() as session:
            session.add(_record("ITI-41"))
            session.flush()
            raise RuntimeError("store error in the middle of a transaction")
    with store.session() as session:
        assert session.scalars(select(AuditRecord)).all() == []


def test_datetimes_come_back_aware_and_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=paris)
    with store.transaction() as session:
        session.add(AuditRecord(at=moment, transaction="ITI-8", outcome="success"))
    with store.session() as session:
        stored = session.scalars(select(AuditRecord.at)).one()
    assert stored.tzinfo is not None
    assert stored == moment
    assert stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with store.transaction() as session:
            session.add(AuditRecord(at=datetime(2026, 3, 1), transaction="ITI-8", outcome="success"))
