"""Database plumbing shared by every package: the declarative base, column types, engines.

Functions elsewhere take a `Session`; whoever starts the work owns the transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


# INSERT … ON CONFLICT is spelled per dialect in SQLAlchemy; these are the two the project runs on.
# Typed Any: each `insert` returns its dialect's own Insert class (both have on_conflict_do_nothing),
# which the inferred common type would lose, so callers could not type-check.
DIALECT_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def per_dialect(build):
    """A statement built once per supported database from its dialect's `insert` (hot statements
    are built at import: building one costs more than running it)."""
    return {name: build(insert) for name, insert in DIALECT_INSERTS.items()}


def autocommit(engine: Engine) -> Connection:
    """A connection whose statements each commit by themselves: for one statement that needs no
    transaction around it, this spares the BEGIN and COMMIT round trips."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """hide_parameters: a failed statement's error (and so a logged traceback) names the statement,
    not the values bound to it, which are enterprises' names, phones and messages."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets readers run beside the one writer; busy_timeout makes writers queue. WAL is
            # kept in the file: switching is asked for only when it is not on yet, since the switch
            # fails at once ("database is locked") while another process is writing.
            # The switch takes no busy wait, so two processes opening a fresh file at once may both
            # try it: the one that loses finds WAL already on (or the file busy) and goes on, since
            # WAL, once set by anyone, holds for every connection to the file.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=False, pool_size=10, max_overflow=10, hide_parameters=True)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
