"""Imports every package's models so that one metadata describes the whole schema (for Alembic)."""

import contacts.models  # noqa: F401
import handlers.models  # noqa: F401
import inspections.models  # noqa: F401
import knowledge.models  # noqa: F401
import nlp.models  # noqa: F401
import tickets.models  # noqa: F401
import tickets.outreach_models  # noqa: F401
from core.db import Base

metadata = Base.metadata
