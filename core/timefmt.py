"""Time as people here read it: China Standard Time, in the few formats the project shows.

Every stored moment is UTC; conversion happens only when a moment is written for a person. One
module, so that a reply, a card, a console cell and a template message show the same date alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))  # no daylight saving time, so a fixed offset is exact

DAY = "%Y年%m月%d日"  # messages to enterprises and officials
MONTH_DAY_TIME = "%m月%d日 %H:%M"
STAMP = "%Y-%m-%d %H:%M"  # console cells and exports
SHORT = "%m-%d %H:%M"  # narrow columns, cards


def local(moment: datetime | None, fmt: str = DAY, missing: str = "") -> str:
    """`moment` in China time as `fmt`; `missing` when there is none."""
    return moment.astimezone(CHINA).strftime(fmt) if moment else missing


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def month_day(moment: datetime | None, missing: str = "未定") -> str:
    """3月5日, without leading zeros: how a deadline reads in one short line."""
    if moment is None:
        return missing
    day = moment.astimezone(CHINA)
    return f"{day.month}月{day.day}日"
