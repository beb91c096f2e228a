"""What `make run` needs on a fresh machine, each step skipped when already done."""
from __future__ import annotations

from typing import Iterator

from bot.db import upgrade
from bot.state import AppState


def initialise(app) -> Iterator[str]:
    state: AppState = app.extensions["appealbot"]
    upgrade(app.config["DATABASE_URL"])
    yield "database: schema up to date"
