"""Deadlines in working days, from the official holiday calendar with its make-up working days."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import chinese_calendar

from bot.errors import AppealbotError

CHINA = timezone(timedelta(hours=8))  # no daylight saving time, so a fixed offset is exact
END_OF_DAY = time(23, 59, 59)


class CalendarError(AppealbotError):
    """The holiday calendar does not know the year: refusing beats a silently wrong deadline."""


@lru_cache(maxsize=4096)  # every deadline walks the days ahead; the calendar validates each date anew
def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        raise CalendarError(
            f"节假日日历（chinesecalendar {chinese_calendar.__version__}）不包含 {day.year} 年，"
            "无法按工作日计算期限；请升级 chinesecalendar"
        ) from None


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (23:59:59 China time) of the `days`-th working day after the day of `start`.

    A request that arrives on a Saturday or during the National Day holiday therefore starts
    counting on the next working day, as a 办事窗口 would.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    day = local_date(start)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return datetime.combine(day, END_OF_DAY, CHINA).astimezone(timezone.utc)


def working_days_between(start: datetime, end: datetime) -> int:
    """Working days after the day of `start` up to and including the day of `end`."""
    a, b = local_date(start), local_date(end)
    n = 0
    while a < b:
        a += timedelta(days=1)
        n += is_workday(a)
    return n
