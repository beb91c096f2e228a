"""Imports every package's models so that one metadata describes the whole schema (for Alembic)."""
from bot.db import Base
import handlers.models  # noqa: F401

metadata = Base.metadata
