"""The schema changes only through Alembic: the migrated database must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bot.models import metadata


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # FTS/tsvector helper tables created by raw SQL are not in the metadata; ignore their removal.
    diff = [
        d
        for d in diff
        if not (
            isinstance(d, tuple)
            and d[0] in ("remove_table", "remove_index")
            and (d[1].name.startswith("fts_") or getattr(d[1], "table", d[1]).name.startswith("fts_"))
        )
    ]
    assert diff == []


def test_a_new_sqlite_file_is_put_in_wal_mode_once(tmp_path):
    from core.db import make_engine

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):  # the second engine finds WAL on already and leaves it
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        engine.dispose()
