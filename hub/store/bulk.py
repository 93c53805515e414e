"""Rows of several tables inserted in one round trip, inside the caller's transaction.

An ITI-41 writes five to seven small INSERTs (submission set, entries, associations,
codes, authors, the document). On PostgreSQL they are sent through psycopg's pipeline
mode, which queues every statement and waits for the server once; elsewhere (SQLite,
in process) each table is one executemany. Either way the rows are part of the session's
transaction, and a failure is raised as SQLAlchemy's own exception class (an
`IntegrityError` stays an `IntegrityError`), as `Session.execute` would.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

Batch = tuple[Table, Sequence[Mapping[str, Any]]]

Plan = tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]]
_compiled: dict[tuple[str, Table], Plan] = {}


def _plan(dialect: Dialect, table: Table) -> Plan:
    """The INSERT of `table` in the driver's paramstyle, the columns it binds (all but an
    autoincrement key) and their bind processors, as SQLAlchemy would apply them."""
    key = (dialect.name, table)
    plan = _compiled.get(key)
    if plan is None:
        columns = [column for column in table.columns if column is not table.autoincrement_column]
        statement = insert(table).inline().values({column.key: bindparam(column.key) for column in columns})
        processors = {column.key: column.type.bind_processor(dialect) for column in columns}
        plan = _compiled[key] = (
            str(statement.compile(dialect=dialect)),
            tuple(column.key for column in columns),
            {name: processor for name, processor in processors.items() if processor is not None},
        )
    return plan


@functools.cache
def _pipeline_supported() -> bool:
    """psycopg's pipeline mode needs libpq 14 or newer (a psycopg built against an older
    system libpq takes the plain path)."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


def insert_rows(session: Session, batches: Sequence[Batch]) -> None:
    """Insert every batch (in order) in the session's transaction. The pipeline takes rows
    naming every column but an autoincrement key; batches with rows that leave a column
    out go through `Session.execute`, where the model's defaults apply."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    connection = session.connection()
    dialect = connection.dialect
    plans = [_plan(dialect, table) for table, _ in batches] if dialect.driver == "psycopg" and _pipeline_supported() else []
    if not plans or any(any(name not in row for row in rows for name in plan[1]) for plan, (_, rows) in zip(plans, batches)):
        for table, rows in batches:
            session.execute(insert(table), list(rows))
        return
    import psycopg

    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.pipeline(), driver.cursor() as cursor:
            for (sql, names, processors), (_table, rows) in zip(plans, batches):
                parameters = [{name: row[name] for name in names} for row in rows]
                for name, processor in processors.items():
                    for values in parameters:
                        values[name] = processor(values[name])
                cursor.executemany(sql, parameters)
    except psycopg.Error as error:
        # The statement parameters hold metadata and content: they are not carried.
        raise DBAPIError.instance("pipelined INSERT", None, error, psycopg.Error, dialect=dialect) from error
