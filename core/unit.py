"""What one unit of work (a Session and its transaction) carries besides its rows, in typed fields.

Domain code notes here what must happen once the transaction commits (wake the delivery job, fetch
media, reload the directory) and what it already looked up; the after-commit listeners of
tickets/outbox.py, tickets/attachments.py and tickets/directory.py act on it. One dataclass instead
of loose `session.info` keys, so that a misspelt flag fails at once instead of doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

_NOTES = "appealbot.notes"
_WAKERS = "appealbot.wakers"


@dataclass
class Notes:
    # Per transaction: each owner's after-commit and after-rollback listener resets its own fields.
    notified: bool = False  # outbox rows written: wake the delivery job after the commit
    held_for: set[tuple[str, str]] = field(default_factory=set)  # (channel, recipient) of held notices written
    media_pending: bool = False  # an attachment to download was recorded
    directory_changed: bool = False  # a department, official, routing rule or group changed
    # Per session: what a query made anyway already found (tickets/service.remember_enterprise).
    enterprises: dict[tuple[str, str], Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Wakers:
    """Jobs a committed unit of work may wake, given by whoever owns the job queue (delivery/queue.py)."""

    deliver: Callable[[], None] | None = None
    fetch_media: Callable[[], None] | None = None


def notes(session: Session) -> Notes:
    found = session.info.get(_NOTES)
    if found is None:
        found = session.info[_NOTES] = Notes()
    return found


def wakers(session: Session) -> Wakers:
    return session.info.get(_WAKERS) or Wakers()


def set_wakers(factory: sessionmaker, **jobs: Callable[[], None]) -> None:
    """Every session this factory makes from now on wakes these jobs after its commits."""
    info = factory.kw.setdefault("info", {})
    current = info.get(_WAKERS) or Wakers()
    info[_WAKERS] = Wakers(**{**current.__dict__, **jobs})
