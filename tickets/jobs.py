"""What the clock does to open tickets: remind at 75% of the time, 督办 when overdue, escalate after grace.

`sweep` runs as a periodic job; each ticket is handled in its own transaction, and the ticket's
version column makes a second worker sweeping at the same moment fail harmlessly instead of
notifying twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from core import settings
from tickets.lifecycle import Lifecycle
from tickets.models import Ticket
from tickets.workdays import add_working_days

log = logging.getLogger(__name__)
ACTIVE = ("assigned", "accepted")  # waiting (补充材料) pauses the clock; submitted has no deadline yet


def sweep(Session, config: dict, now: datetime) -> dict[str, int]:
    done = {"reminded": 0, "supervised": 0, "escalated": 0}
    with Session() as s:
        ids = s.scalars(
            select(Ticket.id).where(Ticket.status.in_(ACTIVE), Ticket.deadline.is_not(None), Ticket.paused_at.is_(None))
        ).all()
    for ticket_id in ids:
        try:
            with Session() as s, s.begin():
                ticket = s.get(Ticket, ticket_id)
                if ticket is None or ticket.status not in ACTIVE or ticket.deadline is None:
                    continue
                what = _due(ticket, config, now)
                if what is None:
                    continue
                life = Lifecycle(s, now, config)
                {"reminded": life.remind, "supervised": life.mark_overdue, "escalated": life.auto_escalate}[what](
                    ticket
                )
                done[what] += 1
        except StaleDataError:
            log.info("ticket %s changed while sweeping; the next sweep sees it again", ticket_id)
    from tickets.outreach import schedule_sms

    if config.get("SMS_PROVIDER"):
        with Session() as s, s.begin():  # 回访 by SMS: answers still unrated after SMS_AFTER_HOURS
            done["sms_written"] = schedule_sms(s, config, now)
    return done


def _due(ticket: Ticket, config: dict, now: datetime):
    deadline = ticket.deadline
    assert deadline is not None  # sweep passes only tickets with one
    if now > deadline:
        grace_end = add_working_days(deadline, int(settings.value(config, "ESCALATE_GRACE_DAYS")))
        if ticket.overdue_notified_at is None:
            return "supervised"
        if now > grace_end:
            return "escalated"
        return None
    start = ticket.assigned_at or ticket.created_at
    if ticket.reminded_at is None and now >= start + (deadline - start) * float(settings.value(config, "REMIND_AT")):
        return "reminded"
    return None
