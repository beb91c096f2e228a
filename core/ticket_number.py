"""Ticket numbers: YQ-20261122-0007 (the China date of submission, the day's serial), written one way
and read however people type them ("yq20261122 0007" in a chat, "YQ-20261122-0007" in a card).

The one place that knows the format: the chat's rule layer, the enterprise's and the officials'
commands, the console's search and the ticket creation all read and write numbers through here.
Imports nothing of the project, so every layer may use it.
"""

from __future__ import annotations

import re
from datetime import date

PREFIX = "YQ"
# For embedding in a larger pattern (a command with an optional number): no groups of its own.
TEXT = r"YQ[-_ ]?\d{8}[-_ ]?\d{4,6}"
_SEARCH = re.compile(r"(?<![A-Za-z0-9])YQ[-_ ]?(\d{8})[-_ ]?(\d{4,6})(?!\d)", re.IGNORECASE)


def format_number(day: date, serial: int) -> str:
    """The number of the `serial`-th ticket of `day` (a China date)."""
    return f"{PREFIX}-{day:%Y%m%d}-{serial:04d}"


def parse(text: str | None) -> str | None:
    """The first ticket number in `text`, in its canonical form; None when there is none."""
    m = _SEARCH.search(text or "")
    return f"{PREFIX}-{m.group(1)}-{m.group(2)}" if m else None


def parse_all(text: str | None) -> list[str]:
    return [f"{PREFIX}-{a}-{b}" for a, b in _SEARCH.findall(text or "")]


def canonical(raw: str) -> str:
    """A number as typed ("yq202611220007", "YQ 20261122-0007") in its canonical form; a string that
    is not a number comes back upper-cased, so a lookup by it finds nothing rather than failing."""
    return parse(raw) or (raw or "").strip().upper()


def is_number(text: str) -> bool:
    """Whether `text` is exactly one ticket number (allowing surrounding spaces)."""
    m = _SEARCH.fullmatch((text or "").strip())
    return m is not None


__all__ = ["PREFIX", "TEXT", "format_number", "parse", "parse_all", "canonical", "is_number"]
