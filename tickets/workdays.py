"""Deadlines in working days, from the official holiday calendar with its make-up working days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import chinese_calendar

from core.errors import AppealbotError
from core.timefmt import CHINA, local_date  # noqa: F401  (re-exported: the calendar speaks China time)

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
    return datetime.combine(day, END_OF_DAY, CHINA).astimezone(UTC)


def working_days_between(start: datetime, end: datetime) -> int:
    """Working days after the day of `start` up to and including the day of `end`."""
    a, b = local_date(start), local_date(end)
    n = 0
    while a < b:
        a += timedelta(days=1)
        n += is_workday(a)
    return n


# -- service hours ("工作日 9:00-12:00, 13:30-17:30") --------------------------------------------------

_SPAN = re.compile(r"(\d{1,2})[:：](\d{2})\s*[-—–~至到]\s*(\d{1,2})[:：](\d{2})")
DEFAULT_HOURS = "工作日 9:00-12:00, 13:30-17:30"


def service_spans(hours: str) -> tuple[bool, list[tuple[time, time]]]:
    """(working days only?, the day's open spans) of a card's hours; a card that says "24小时" or
    "全天" is always open."""
    text = hours or DEFAULT_HOURS
    if re.search(r"24\s*小时|全天|随时", text):
        return False, [(time(0, 0), END_OF_DAY)]
    spans = [(time(int(a), int(b)), time(int(c), int(d))) for a, b, c, d in _SPAN.findall(text)]
    working_only = not re.search(r"每天|天天|全年|节假日(照常|无休|不休)|7\s*[x×*]\s*24", text)
    return working_only, spans or service_spans(DEFAULT_HOURS)[1]


def add_service_minutes(start: datetime, minutes: int, hours: str) -> datetime:
    """`minutes` of a card's service time after `start`: a call-out at 23:07 on a Friday promised
    within two hours is due on Monday morning, not at 01:07."""
    working_only, spans = service_spans(hours)
    moment = start.astimezone(CHINA)
    left = timedelta(minutes=max(minutes, 0))
    for _ in range(400):  # at most a year of days; a calendar error surfaces from is_workday
        day = moment.date()
        if not working_only or is_workday(day):
            for opens, closes in spans:
                begin = max(moment, datetime.combine(day, opens, CHINA))
                end = datetime.combine(day, closes, CHINA)
                if begin >= end:
                    continue
                if end - begin >= left:
                    return (begin + left).astimezone(UTC)
                left -= end - begin
        moment = datetime.combine(day + timedelta(days=1), time(0, 0), CHINA)
    return (start + timedelta(minutes=minutes)).astimezone(UTC)


# -- the clock in working time ---------------------------------------------------------------------
# A deadline is the end of a working day. Time that passes on a weekend or a holiday is not working
# time: a ticket waiting (补充材料) from Friday 10:00 to Monday 10:00 stood still for one working day,
# so a Friday deadline moves to Monday's end, not to Saturday.

DAY = timedelta(days=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA)


def working_time_between(start: datetime, end: datetime) -> timedelta:
    """The part of [start, end) that falls on working days (China time)."""
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    day = local_date(start)
    while _day_start(day) < end:
        if is_workday(day):
            lo, hi = max(start, _day_start(day)), min(end, _day_start(day + DAY))
            if hi > lo:
                total += hi - lo
        day += DAY
    return total


def add_working_time(moment: datetime, amount: timedelta) -> datetime:
    """`moment` moved forward by `amount` of working time: weekends and holidays are stepped over."""
    if amount <= timedelta(0):
        return moment
    local = moment.astimezone(CHINA)
    day = local.date()
    while True:
        if is_workday(day):
            start = max(local, _day_start(day))
            room = _day_start(day + DAY) - start
            if amount < room:
                return (start + amount).astimezone(UTC)
            amount -= room
        day += DAY


def working_time_left(now: datetime, deadline: datetime) -> timedelta:
    """Working time from now until the deadline; negative (calendar time) once it has passed."""
    if deadline < now:
        return deadline - now
    return working_time_between(now, deadline)
