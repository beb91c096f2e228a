"""The figures seeds 002 and 004 ask for: 按时办结率, 解决率, 满意率, 回退率, 重办率, open and overdue."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import median
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.models import Ticket

SATISFIED = (3, 4, 5)


def figures(session: Session, now: datetime, since: Optional[datetime] = None, until: Optional[datetime] = None,
            department_id: Optional[int] = None, region: Optional[str] = None) -> dict[str, Any]:
    q = select(Ticket)
    if since:
        q = q.where(Ticket.created_at >= since)
    if until:
        q = q.where(Ticket.created_at < until)
    if department_id:
        q = q.where(Ticket.department_id == department_id)
    if region:
        q = q.where(Ticket.region == region)
    rows = session.scalars(q).all()
    done = [t for t in rows if t.resolved_at is not None]
    rated = [t for t in rows if t.rating is not None]
    open_ = [t for t in rows if t.status in ("submitted", "assigned", "accepted", "waiting")]
    accepted = [t for t in rows if t.accepted_at is not None and t.assigned_at is not None]

    def rate(part: int, whole: int) -> Optional[float]:
        return round(part / whole, 4) if whole else None

    def hours(values: list[float]) -> Optional[float]:
        return round(median(values), 2) if values else None

    return {
        "total": len(rows),
        "by_status": dict(Counter(t.status for t in rows)),
        "by_category": dict(Counter(t.category for t in rows)),
        "by_department": dict(Counter(t.department.name if t.department else "未分办" for t in rows)),
        "open": len(open_),
        "overdue": sum(1 for t in open_ if t.deadline is not None and t.paused_at is None and t.deadline < now),
        "on_time_rate": rate(sum(1 for t in done if t.deadline is None or t.resolved_at <= t.deadline), len(done)),
        "resolution_rate": rate(len(done), len(rows)),
        "satisfaction_rate": rate(sum(1 for t in rated if t.rating in SATISFIED), len(rated)),
        "on_time_acceptance_rate": rate(sum(1 for t in accepted if t.accept_due is None or t.accepted_at <= t.accept_due),
                                        len(accepted)),
        "return_rate": rate(sum(1 for t in rows if t.returned_count), len(rows)),
        "redo_rate": rate(sum(1 for t in rows if t.redo_count), len(rows)),
        "median_hours_to_accept": hours([(t.accepted_at - t.assigned_at).total_seconds() / 3600 for t in accepted]),
        "median_hours_to_resolve": hours([(t.resolved_at - t.created_at).total_seconds() / 3600 for t in done]),
    }
