"""What arrives from outside, checked at the door: text cleaned, numbers and dates bounded.

Every value here came from a query string, a form or a JSON body that anyone can write. A number
past what a database column holds, a date past what `datetime` can shift into another time zone,
or a character that XML (and so Excel) cannot carry used to travel inward until something broke
with a 500; here each becomes either a clean value or a 400 with a short Chinese sentence.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from core.errors import RequestRejected

# Lone surrogates cannot be encoded (PostgreSQL, UTF-8 logs refuse them); the C0 controls other than
# tab, newline and carriage return, and U+FFFE/U+FFFF, are illegal in XML 1.0 and in Excel cells.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Query dates outside these years mean nothing here, and the extremes (year 1, year 9999) overflow
# when shifted between time zones.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2100, 12, 31)
MAX_PAGE = 100_000
MAX_INT = 2**31 - 1  # what an INTEGER column holds on both databases


def clean_text(text: str) -> str:
    """The text without lone surrogates and XML-illegal control characters."""
    return _ILLEGAL.sub("", text)


def has_illegal(text: str) -> bool:
    return _ILLEGAL.search(text) is not None


def integer(value: Any, name: str, *, default: int | None = None, low: int = 0, high: int = MAX_INT) -> int:
    """A whole number between low and high, from a query string or JSON; anything else is a 400.
    JSON's 1e400 arrives as infinity and 3.0 as a float: only true integers (or digit strings) pass."""
    if value is None or value == "":
        if default is not None:
            return default
        raise RequestRejected(400, f"{name} 必须填写（整数）")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RequestRejected(400, f"{name} 应为整数")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
            raise RequestRejected(400, f"{name} 应为 {low} 到 {high} 之间的整数")
        value = int(text)
    if not low <= value <= high:
        raise RequestRejected(400, f"{name} 应为 {low} 到 {high} 之间的整数")
    return value


def day(value: str, name: str) -> date:
    """A calendar day (2026-11-01) within FIRST_DAY … LAST_DAY; a 400 otherwise."""
    try:
        parsed = date.fromisoformat(value.strip()) if value.strip().isascii() and len(value.strip()) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RequestRejected(400, f"{name} 应为日期，例如 2026-11-01")
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise RequestRejected(400, f"{name} 应在 {FIRST_DAY.year} 年到 {LAST_DAY.year} 年之间")
    return parsed


def moment(value: str, name: str) -> datetime:
    """An ISO date or date-time within FIRST_DAY … LAST_DAY (naive means UTC to the caller)."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text) if text.isascii() and len(text) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RequestRejected(400, f"{name} 应为 ISO 日期，例如 2026-11-01")
    if not FIRST_DAY <= parsed.date() <= LAST_DAY:
        raise RequestRejected(400, f"{name} 应在 {FIRST_DAY.year} 年到 {LAST_DAY.year} 年之间")
    return parsed


def month(value: str, name: str = "month") -> date:
    """The first day of a month given as 2026-11."""
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
        raise RequestRejected(400, f"{name} 应为月份，例如 2026-11")
    first = date(int(text[:4]), int(text[5:]), 1)
    if not FIRST_DAY <= first <= LAST_DAY:
        raise RequestRejected(400, f"{name} 应在 {FIRST_DAY.year} 年到 {LAST_DAY.year} 年之间")
    return first


def text_field(body: dict, name: str, *, required: bool = False, limit: int = 5000) -> str | None:
    """A string field of a JSON body (None when absent and not required); other types are a 400."""
    value = body.get(name)
    if value is None:
        if required:
            raise RequestRejected(400, f"{name} 必须填写（字符串）")
        return None
    if not isinstance(value, str):
        raise RequestRejected(400, f"{name} 应为字符串")
    value = clean_text(value)
    if len(value) > limit:
        raise RequestRejected(400, f"{name} 不能超过 {limit} 个字符")
    return value


def local_target(value: str | None, prefix: str, default: str) -> str:
    """Where to send a browser after signing in: a path of this site under `prefix`, nothing else
    (no other host, no scheme, no backslash, no control character to split a header with)."""
    if (
        not value
        or not value.startswith(prefix)
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch.isspace() for ch in value)
    ):
        return default
    rest = value[len(prefix) :]
    if rest and rest[0] not in "/?":
        return default
    return value
