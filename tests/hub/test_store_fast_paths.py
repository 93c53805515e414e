"""The store's fast paths keep the store's guarantees: rows inserted in one round trip
belong to the caller's transaction and fail with SQLAlchemy's exception classes; the
autocommit engine commits each statement on its own; a pooled connection that died
while idle is replaced before use."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

import hub.store
from hub.store import Store
from hub.store.bulk import insert_rows
from hub.store.models.xds import XdsCode, XdsDocument, XdsDocumentEntry

CODES = XdsCode.__table__
DOCUMENTS = XdsDocument.__table__
ENTRIES = XdsDocumentEntry.__table__


def _document(unique_id: str) -> dict[str, Any]:
    return {"unique_id": unique_id, "mime_type": "text/plain", "size": 3, "hash": "0" * 40, "content": b"\x00\xffa"}


def _entry(uuid: str, unique_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "uuid": uuid, "lid": uuid, "version": 1, "unique_id": unique_id, "patient_id": "p^^^&1.2&ISO",
        "status": "Approved", "object_type": "t", "class_code": "a", "type_code": "a", "format_code": "a",
        "healthcare_facility_type_code": "a", "practice_setting_code": "a", "creation_time": None,
        "service_start_time": None, "service_stop_time": None, "repository_unique_id": None, "hash": None,
        "size": None, "mime_type": "text/plain", "xml": "<x/>", "submitter_structure": None,
    }
    row.update(changes)
    return row


def _count(store: Store, table: Any) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _statements(store: Store) -> list[str]:
    """Statements SQLAlchemy itself sends from now on."""
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_rows_of_several_tables_are_written_with_bytes_and_autoincrement_keys(store: Store) -> None:
    with store.transaction() as session:
        insert_rows(
            session,
            [
                (ENTRIES, [_entry("urn:uuid:1", "1.2.1"), _entry("urn:uuid:2", "1.2.2")]),
                (CODES, [{"object_uuid": "urn:uuid:1", "kind": "eventCode", "code": f"c{n}"} for n in range(3)]),
                (DOCUMENTS, [_document("1.2.1")]),
                (CODES, []),
            ],
        )
    assert (_count(store, ENTRIES), _count(store, CODES), _count(store, DOCUMENTS)) == (2, 3, 1)
    with store.session() as session:
        assert session.scalar(select(DOCUMENTS.c.content)) == b"\x00\xffa"
        assert len(set(session.scalars(select(CODES.c.id)))) == 3


def test_postgresql_sends_the_rows_in_one_pipeline_and_sqlite_through_sqlalchemy(store: Store) -> None:
    seen = _statements(store)
    with store.transaction() as session:
        session.execute(text("SELECT 1"))
        seen.clear()
        insert_rows(session, [(ENTRIES, [_entry("urn:uuid:1", "1.2.1")]), (DOCUMENTS, [_document("1.2.1")])])
    inserts = [s for s in seen if s.lstrip().upper().startswith("INSERT")]
    if store.engine.dialect.name == "postgresql":
        assert inserts == []  # psycopg's pipeline, under SQLAlchemy
    else:
        assert len(inserts) == 2
    assert _count(store, DOCUMENTS) == 1


def test_rows_lacking_a_column_take_the_model_defaults(store: Store) -> None:
    row = _entry("urn:uuid:1", "1.2.1")
    del row["version"]  # default=1 on the model
    with store.transaction() as session:
        insert_rows(session, [(ENTRIES, [row])])
    with store.session() as session:
        assert session.scalar(select(ENTRIES.c.version)) == 1


def test_a_unique_violation_is_an_integrity_error_and_rolls_everything_back(store: Store) -> None:
    with store.transaction() as session:
        insert_rows(session, [(ENTRIES, [_entry("urn:uuid:1", "1.2.1")])])
    with pytest.raises(IntegrityError) as caught:
        with store.transaction() as session:
            insert_rows(
                session,
                [
                    (DOCUMENTS, [_document("1.2.9")]),
                    (ENTRIES, [_entry("urn:uuid:2", "1.2.1")]),  # (uniqueId, version) taken
                ],
            )
    assert "ix_xds_document_entry_unique_id" in str(caught.value.orig) or "xds_document_entry.unique_id" in str(caught.value.orig)
    assert (_count(store, ENTRIES), _count(store, DOCUMENTS)) == (1, 0)
    # The pooled connection is usable again.
    with store.transaction() as session:
        insert_rows(session, [(DOCUMENTS, [_document("1.2.9")])])
    assert _count(store, DOCUMENTS) == 1


def test_the_autocommit_engine_commits_each_statement_at_once(store: Store) -> None:
    with store.autocommit.connect() as connection:
        connection.execute(CODES.insert(), {"object_uuid": "u", "kind": "k", "code": "c"})
        # Seen by another connection before this one is returned to the pool.
        assert _count(store, CODES) == 1
    with store.transaction() as session:  # the pool's connections are transactional again
        session.execute(CODES.insert(), {"object_uuid": "u", "kind": "k", "code": "d"})
        with store.session() as other:
            assert other.scalar(select(func.count()).select_from(CODES)) == 1
    assert _count(store, CODES) == 2


@pytest.fixture
def server_store(store_url: str) -> Iterator[Store]:
    """A store on a database server (PostgreSQL): SQLite connections are files, which no
    server can close, so the idle ping exists only for servers."""
    instance = Store(store_url)
    instance.upgrade()
    yield instance
    instance.close()


# The `store_url` fixture's server backends (PostgreSQL when the suite is given one).
SERVER_BACKENDS = ["postgresql"] if os.environ.get("TSNHUB_TEST_POSTGRES_URL") else []


@pytest.mark.parametrize("store_url", SERVER_BACKENDS, indirect=True)
def test_a_connection_closed_by_the_server_while_idle_is_replaced(server_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = server_store
    with store.session() as session:
        session.execute(text("SELECT 1"))
    monkeypatch.setattr(hub.store, "IDLE_PING_SECONDS", 0.0)
    with Store(store.url).engine.connect() as admin:
        admin.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        )
        admin.commit()
    with store.transaction() as session:
        assert session.scalar(text("SELECT 2")) == 2


def test_without_pipeline_support_the_rows_go_through_sqlalchemy(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A psycopg built on a libpq older than 14 has no pipeline mode: same rows, plain path."""
    import hub.store.bulk as bulk

    monkeypatch.setattr(bulk, "_pipeline_supported", lambda: False)
    seen = _statements(store)
    with store.transaction() as session:
        insert_rows(session, [(ENTRIES, [_entry("urn:uuid:1", "1.2.1")]), (DOCUMENTS, [_document("1.2.1")])])
    assert len([s for s in seen if s.lstrip().upper().startswith("INSERT")]) == 2
    assert (_count(store, ENTRIES), _count(store, DOCUMENTS)) == (1, 1)
