"""The figures the 营商办 judges departments by (seeds 002 and 004), charged from the history.

A ticket's history (TicketEvent, with the department and deadlines right after each event) is
replayed into *turns*: each time a department is given the ticket (分办, 提级 to it, 重办) it gets
a 签收 deadline and a 办结 deadline, and the turn ends when it answers, returns, or the ticket is
taken away (提级, reassigned). What happened in a turn is charged to that turn's department, so a
department keeps its record after the ticket has moved on:

- 超期 (`overdue`): tickets a department let pass its 办结 deadline while holding them — answered
  late, handed on late (the sweep escalates after the grace days), or still open past it now.
- 按时办结率: answers given by the deadline, out of every turn that came due (answered, or past its
  deadline unanswered: a pending ticket past due counts as late, not as nothing).
- 及时签收率: 签收 by the 签收 deadline, out of every turn that was accepted or is/was past that deadline.
- 回退率: returns by the department, out of the turns it was given.
- 满意率 and 重办率: each rating is charged to the department whose answer was rated (also when a
  second 不满意 moves the ticket to 营商办); 重办率 is the share of its answers sent back for 重办.
- 办结 and 解决率: tickets answered or closed now; a ticket reopened for 重办 is no longer 办结.

Filters (submission dates, region, department) choose the tickets; every figure, the 红黑榜 and the
charts follow them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.models import Department, Ticket, TicketEvent
from tickets.transitions import OPEN
from tickets.workdays import CHINA

SATISFIED = (3, 4, 5)
NEW_TURN = ("assign", "escalate")


@dataclass
class Turn:
    """One department's turn with one ticket."""

    ticket: Ticket
    department_id: int
    start: datetime
    accept_due: datetime | None
    deadline: datetime | None
    accepted_at: datetime | None = None
    end: datetime | None = None
    ended_by: str | None = None  # resolve | return | escalate | assign | rate (reopened elsewhere) | None: holding

    def stopped_at(self, now: datetime) -> datetime:
        """Where the clock of this turn stands: its end, the start of a pause (补充材料), or now."""
        if self.end is not None:
            return self.end
        if self.ticket.status == "waiting" and self.ticket.paused_at is not None:
            return self.ticket.paused_at
        return now

    def late(self, now: datetime) -> bool:
        return self.deadline is not None and self.stopped_at(now) > self.deadline

    def answered_on_time(self, now: datetime) -> bool | None:
        """True/False for a turn that came due (answered, or past its deadline); None otherwise."""
        if self.ended_by == "resolve":
            return not self.late(now)
        return False if self.late(now) else None

    def accepted_on_time(self, now: datetime) -> bool | None:
        if self.accept_due is None:
            return None
        if self.accepted_at is not None:
            return self.accepted_at <= self.accept_due
        return False if self.stopped_at(now) > self.accept_due else None


@dataclass
class Tally:
    """What is charged to one department."""

    tickets: set[int] = field(default_factory=set)
    turns: int = 0
    answers: int = 0
    resolved: set[int] = field(default_factory=set)  # 办结 now, by this department's answer
    open_now: set[int] = field(default_factory=set)
    overdue: set[int] = field(default_factory=set)
    overdue_open: set[int] = field(default_factory=set)
    on_time: int = 0
    came_due: int = 0
    accepted_on_time: int = 0
    acceptance_due: int = 0
    returns: int = 0
    ratings: int = 0
    satisfied: int = 0
    redos: int = 0
    supervised: set[int] = field(default_factory=set)
    hours_to_accept: list[float] = field(default_factory=list)
    hours_to_resolve: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("tickets", "resolved", "open_now", "overdue", "overdue_open", "supervised"):
            getattr(self, name).update(getattr(other, name))
        for name in (
            "turns",
            "answers",
            "on_time",
            "came_due",
            "accepted_on_time",
            "acceptance_due",
            "returns",
            "ratings",
            "satisfied",
            "redos",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hours_to_accept += other.hours_to_accept
        self.hours_to_resolve += other.hours_to_resolve


def turns_of(ticket: Ticket, events: Iterable[TicketEvent]) -> tuple[list[Turn], dict[int, Tally]]:
    """Replays one ticket's history: its turns, and what each event charges to which department."""
    charged: dict[int, Tally] = defaultdict(Tally)
    turns: list[Turn] = []
    current: Turn | None = None
    answered_by: int | None = None  # the department whose answer the next rating judges
    for e in events:
        data = e.data or {}
        reopened = e.action == "rate" and (data.get("redo") or data.get("supervise"))
        if e.action == "rate":
            if answered_by is not None and data.get("rating") is not None:
                tally = charged[answered_by]
                tally.ratings += 1
                tally.satisfied += int(data["rating"]) in SATISFIED
                tally.redos += bool(data.get("redo"))
        if e.action in NEW_TURN or reopened:
            if current is not None and current.end is None:
                current.end, current.ended_by = e.at, ("escalate" if e.action == "escalate" else e.action)
            current = None
            if e.department_id is not None:
                current = Turn(ticket, e.department_id, e.at, e.accept_due, e.deadline)
                turns.append(current)
            continue
        if current is None:
            continue
        if e.action == "accept":
            current.accepted_at = e.at
        elif e.action == "resolve":
            current.end, current.ended_by = e.at, "resolve"
            answered_by = current.department_id
            charged[current.department_id].answers += 1
        elif e.action == "return":
            current.end, current.ended_by = e.at, "return"
            charged[current.department_id].returns += 1
            current = None
        elif e.action in ("supplement", "approve_extension") and e.deadline is not None:
            current.deadline = e.deadline  # the clock stood still, or 营商办 granted more time
        elif e.action == "supervise":
            charged[current.department_id].supervised.add(ticket.id)
    if current is not None and current.end is None:
        # Histories written before the deadlines were recorded with each event: the ticket's own.
        current.deadline = current.deadline or ticket.deadline
        current.accept_due = current.accept_due or ticket.accept_due
    return turns, charged


def tally(tickets: list[Ticket], events: dict[int, list[TicketEvent]], now: datetime) -> dict[int, Tally]:
    by_department: dict[int, Tally] = defaultdict(Tally)
    for ticket in tickets:
        turns, charged = turns_of(ticket, events.get(ticket.id, ()))
        for department_id, part in charged.items():
            by_department[department_id].add(part)
        for turn in turns:
            t = by_department[turn.department_id]
            t.tickets.add(ticket.id)
            t.turns += 1
            if turn.late(now):
                t.overdue.add(ticket.id)
                if turn.end is None:
                    t.overdue_open.add(ticket.id)
            if turn.end is None and ticket.status in OPEN:
                t.open_now.add(ticket.id)
            verdict = turn.answered_on_time(now)
            if verdict is not None:
                t.came_due += 1
                t.on_time += verdict
            verdict = turn.accepted_on_time(now)
            if verdict is not None:
                t.acceptance_due += 1
                t.accepted_on_time += verdict
            if turn.accepted_at is not None:
                t.hours_to_accept.append((turn.accepted_at - turn.start).total_seconds() / 3600)
            if turn.ended_by == "resolve":
                assert turn.end is not None  # set together with ended_by
                t.hours_to_resolve.append((turn.end - turn.start).total_seconds() / 3600)
        if turns and ticket.status in ("resolved", "closed") and turns[-1].ended_by == "resolve":
            by_department[turns[-1].department_id].resolved.add(ticket.id)
    return by_department


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: list[float]) -> float | None:
    return round(median(values), 2) if values else None


def _row(name: str, t: Tally) -> dict[str, Any]:
    return {
        "department": name,
        "total": len(t.tickets),
        "resolved": len(t.resolved),
        "open": len(t.open_now),
        "overdue": len(t.overdue),
        "overdue_open": len(t.overdue_open),
        "returns": t.returns,
        "ratings": t.ratings,
        "redos": t.redos,
        "supervised": len(t.supervised),
        "on_time_rate": _rate(t.on_time, t.came_due),
        "on_time_acceptance_rate": _rate(t.accepted_on_time, t.acceptance_due),
        "satisfaction": _rate(t.satisfied, t.ratings),
        "return_rate": _rate(t.returns, t.turns),
        "redo_rate": _rate(t.redos, t.answers),
    }


def scope(
    since: datetime | None = None,
    until: datetime | None = None,
    department_id: int | None = None,
    region: str | None = None,
):
    """The tickets the figures are about: submitted in [since, until), of the region, and (for one
    department) those the department has held at some time."""
    q = select(Ticket)
    if since:
        q = q.where(Ticket.created_at >= since)
    if until:
        q = q.where(Ticket.created_at < until)
    if region:
        q = q.where(Ticket.region == region)
    if department_id:
        q = q.where(Ticket.id.in_(select(TicketEvent.ticket_id).where(TicketEvent.department_id == department_id)))
    return q


def report(
    session: Session,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    department_id: int | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Figures, 红黑榜 and weekly trend for the tickets the filters choose; with `department_id`, only
    what is charged to that department."""
    q = scope(since, until, department_id, region)
    tickets = list(session.scalars(q))
    events: dict[int, list[TicketEvent]] = defaultdict(list)
    ids = q.with_only_columns(Ticket.id)
    for e in session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id.in_(ids)).order_by(TicketEvent.ticket_id, TicketEvent.id)
    ):
        events[e.ticket_id].append(e)
    by_department = tally(tickets, events, now)
    names = dict(session.execute(select(Department.id, Department.name)).all())
    if department_id:
        by_department = {department_id: by_department.get(department_id, Tally())}
    ranking = sorted(
        (_row(names.get(d, "?"), t) for d, t in by_department.items() if t.turns),
        key=lambda r: (
            -(r["on_time_rate"] if r["on_time_rate"] is not None else -1),
            -(r["satisfaction"] if r["satisfaction"] is not None else -1),
            r["overdue"],
            r["department"],
        ),
    )
    whole = Tally()
    for t in by_department.values():
        whole.add(t)
    if department_id:
        total, done = len(whole.tickets), len(whole.resolved)
        open_ = len(whole.open_now)
    else:
        total = len(tickets)
        done = sum(1 for t in tickets if t.status in ("resolved", "closed"))
        open_ = sum(1 for t in tickets if t.status in OPEN)
    weeks: Counter = Counter()
    for t in tickets:
        day = t.created_at.astimezone(CHINA).date()
        weeks[(day - timedelta(days=day.weekday())).isoformat()] += 1
    figures = {
        "total": total,
        "by_status": dict(Counter(t.status for t in tickets)),
        "by_category": dict(Counter(t.category for t in tickets)),
        "by_department": {r["department"]: r["total"] for r in ranking},
        "open": open_,
        "overdue": len(whole.overdue),
        "overdue_open": len(whole.overdue_open),
        "supervised": len(whole.supervised),
        "on_time_rate": _rate(whole.on_time, whole.came_due),
        "resolution_rate": _rate(done, total),
        "satisfaction_rate": _rate(whole.satisfied, whole.ratings),
        "on_time_acceptance_rate": _rate(whole.accepted_on_time, whole.acceptance_due),
        "return_rate": _rate(whole.returns, whole.turns),
        "redo_rate": _rate(whole.redos, whole.answers),
        "median_hours_to_accept": _median(whole.hours_to_accept),
        "median_hours_to_resolve": _median(whole.hours_to_resolve),
    }
    return {"figures": figures, "ranking": ranking, "weeks": sorted(weeks.items())}


def figures(
    session: Session,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    department_id: int | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    return report(session, now, since, until, department_id, region)["figures"]


__all__ = ["report", "figures", "turns_of", "Turn", "Tally", "SATISFIED"]
