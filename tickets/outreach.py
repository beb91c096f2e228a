"""What the enterprise is told when no chat window is open, decided in the domain: the fields a
template message or an SMS about a ticket may show, and which answers get the one SMS that asks for
a rating (`schedule_sms`, written to the outbox by the sweep). Sending is delivery/templates.py's.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from core import settings, timefmt, unit
from core.db import DIALECT_INSERTS
from tickets.models import Enterprise, Notification, Ticket

log = logging.getLogger(__name__)


FIELD_LIMIT = 20  # a template message shows at most 20 characters of one field, on one line


def _short(text: str | None, n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _local(moment: datetime | None, fmt: str = timefmt.DAY) -> str:
    return timefmt.local(moment, fmt)


_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def mobile_number(phone: str | None) -> str | None:
    """+86… for a mainland mobile number however it was typed; None for a landline or nothing."""
    digits = re.sub(r"[\s\-()（）]", "", phone or "").translate(str.maketrans("０１２３４５６７８９＋", "0123456789+"))
    m = _MOBILE.match(digits)
    return f"+86{m.group(1)}" if m else None


def ticket_fields(ticket: Ticket, **extra: Any) -> dict[str, str]:
    """What a template message or an SMS about this ticket may show, as it is when the notice is
    written (a later change does not rewrite what was reported)."""
    from nlp.categories import label
    from tickets.transitions import STATUS

    fields = {
        "number": ticket.number,
        "category": label(ticket.category),
        "department": ticket.department.name if ticket.department else "营商办",
        "deadline": _local(ticket.deadline),
        "status": STATUS.get(ticket.status, ticket.status),
        "result": _short(ticket.result),
        "date": _local(ticket.updated_at or ticket.created_at, "%Y-%m-%d %H:%M"),
    }
    fields.update({k: str(v) for k, v in extra.items() if v is not None})
    return fields


def stamp(moment: datetime | None) -> str:
    return str(int(moment.timestamp())) if moment else ""


def schedule_sms(session: Session, config, now: datetime) -> int:
    """Writes one SMS notice for each answer that has waited SMS_AFTER_HOURS for the enterprise's
    rating (回访) — whether or not it saw the answer — to the mobile number it gave. The notice's
    unique key (ticket, answer) makes it once, even with two sweeps at the same moment."""
    if not config.get("SMS_PROVIDER") or "resolve" not in (config.get("SMS_TEMPLATES") or {}):
        return 0
    from tickets import rating_links

    hours = int(config.get("SMS_AFTER_HOURS") or 0)
    days = int(settings.value(config, "RATING_LINK_DAYS"))
    due = session.scalars(
        select(Ticket)
        .join(Enterprise, Ticket.enterprise_id == Enterprise.id)
        .where(
            Ticket.status == "resolved",
            Ticket.resolved_at <= now - timedelta(hours=hours),
            Ticket.resolved_at > now - timedelta(days=days),  # an answer older than its link's life is not chased
            Enterprise.phone.is_not(None),
            Enterprise.sms_opt_out.is_(False),
            # already chased for this answer: skipped here; the unique key is what guarantees it
            ~exists().where(
                Notification.ticket_id == Ticket.id,
                Notification.channel == "sms",
                Notification.created_at >= Ticket.resolved_at,
            ),
        )
    ).all()
    written = 0
    insert = DIALECT_INSERTS[session.get_bind().dialect.name]
    for ticket in due:
        phone = mobile_number(ticket.enterprise.phone)
        if phone is None:
            continue
        key = f"sms:resolve:{ticket.id}:{stamp(ticket.resolved_at)}"
        if session.scalar(select(Notification.id).where(Notification.once_key == key)) is not None:
            continue
        link = rating_links.current(session, ticket, now, config)
        data = ticket_fields(ticket, link=link, resolved_at=stamp(ticket.resolved_at))
        done = session.execute(
            insert(Notification)
            .values(
                channel="sms",
                recipient=phone,
                ticket_id=ticket.id,
                title=f"回访短信 {ticket.number}",
                body=f"诉求 {ticket.number} 已答复，请评价：{link or ''}",
                status="pending",
                kind="resolve",
                data=data,
                once_key=key,
                created_at=now,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["once_key"])
        )
        if cast(CursorResult, done).rowcount:
            written += 1
    if written:
        unit.notes(session).notified = True  # wakes delivery after the commit, as every outbox write does
    return written
