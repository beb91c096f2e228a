"""The schema's migrations: the edge that knows every package's models runs them."""

from __future__ import annotations

import os


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema to the newest revision; the only way the schema changes."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
