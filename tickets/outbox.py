"""The outbox: notices are written here, in the transaction of the change they report.

Writing in the same transaction means a committed change always has its notices, and a rolled back
one has none. Sending is not this module's: the job queue's delivery (delivery/deliver.py) reads
the rows, respects the platforms' limits and marks them sent. Notices for the web chat, which has
no push channel, are `held` and go with the reply to the enterprise's next message (`take_held`).

The statements here run with nearly every message and every ticket change: built once, and counted
by benchmarks/appeal_cost.py (the inbox and dialogue state's are handlers/store.py's).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, event, exists, select
from sqlalchemy.orm import Session

from core import unit
from tickets import directory, outreach
from tickets.models import Department, Notification, Ticket

log = logging.getLogger(__name__)


HELD_CHANNELS = ("web",)  # no push channel: delivered with the reply to the user's next message


def notice_values(channel: str, recipient: str, title: str, body: str, presentation: str | None = None) -> dict:
    return {
        "channel": channel,
        "recipient": recipient,
        "title": title[:128],
        "body": body,
        "status": "held" if channel in HELD_CHANNELS else "pending",
        "presentation": presentation,
    }


def add(
    session: Session,
    channel: str,
    recipient: str,
    ticket: Ticket | None,
    title: str,
    body: str,
    presentation: str | None = None,
) -> None:
    values = notice_values(channel, recipient, title, body, presentation)
    session.add(Notification(ticket=ticket, **values))
    written(session, [values])


def written(session: Session, notices: list[dict]) -> None:
    notes = unit.notes(session)
    notes.notified = True
    notes.held_for.update((n["channel"], n["recipient"]) for n in notices if n["status"] == "held")


# The outbox channel of an enterprise's notices, by the chat channel it wrote from: 公众号 customer
# service messages, a 企业微信 app message to the member who wrote, or held for the web chat's next
# reply. Each recipient id is only ever read within its own channel: a 企业微信 id is not a web
# chat's, whatever the two strings look like.
ENTERPRISE_CHANNELS = {"wechat": "wechat", "wecom": "wecom_user", "web": "web"}


def held_channel(channel: str) -> str:
    """The outbox channel of a chat channel's notices (web chat's are held, the others pushed)."""
    return ENTERPRISE_CHANNELS.get(channel, "web")


# Whether held notices wait for a user: asked with every message (handlers/router.py), on the
# (status, channel, recipient) index.
HELD_EXISTS = (
    exists()
    .where(
        Notification.status == "held",
        Notification.channel == bindparam("held_channel"),
        Notification.recipient == bindparam("user_id"),
    )
    .label("held")
)


def held_since_flush(session: Session, channel: str, user_id: str) -> bool:
    """Whether this session wrote a held notice for the user (after the HELD_EXISTS lookup)."""
    return (held_channel(channel), user_id) in unit.notes(session).held_for


# Built once: it runs on nearly every message, and building a statement costs more than running it.
_HELD = (
    select(Notification)
    .where(
        Notification.channel == bindparam("channel"),
        Notification.recipient == bindparam("recipient"),
        Notification.status == "held",
    )
    .order_by(Notification.id)
)


_INSERT = cast(Table, Notification.__table__).insert()


def recipients(session: Session, dept: Department, card: bool = False) -> list[tuple[str, str]]:
    """(channel, recipient) of a department's notices: its group robot, its officials in WeCom, and
    for a ticket to 签收 (`card`) the 企业微信 groups bound to it, where the 智能机器人 posts it."""
    found = directory.current(session)
    robot = [("wecom_robot", dept.robot_url)] if dept.robot_url else []
    groups = [("wecom_group", chat_id) for chat_id in found.groups.get(dept.id, ())] if card else []
    return robot + [("wecom_app", wecom_id) for wecom_id in found.recipients.get(dept.id, ())] + groups


# A ticket waiting for 签收 reaches the department's officials and groups as a card with buttons;
# the group robot (a webhook, no buttons) gets its markdown as before.
CARD_CHANNELS = ("wecom_app", "wecom_group")


def _presentation(channel: str, card: bool) -> str | None:
    return "ticket" if card and channel in CARD_CHANNELS else None


def department(
    session: Session, ticket: Ticket, title: str, body: str, dept: Department | None = None, card: bool = False
) -> None:
    """`card`: the notice hands the ticket to the department to 签收 (delivery/groups.py sends it
    as a card with buttons where the channel can)."""
    dept = dept or ticket.department
    if dept is None:
        return office(session, ticket, title, body)
    for channel, recipient in recipients(session, dept, card):
        add(session, channel, recipient, ticket, title, body, _presentation(channel, card))


def department_rows(
    session: Session, ticket_id: int, dept: Department, title: str, body: str, card: bool = False
) -> None:
    """As department(), written as plain rows for a ticket inserted just now (Lifecycle.submit)."""
    notices = [
        notice_values(channel, recipient, title, body, _presentation(channel, card))
        for channel, recipient in recipients(session, dept, card)
    ]
    if notices:
        session.execute(_INSERT, [{**n, "ticket_id": ticket_id} for n in notices])
        written(session, notices)


def office(session: Session, ticket: Ticket, title: str, body: str) -> None:
    department(session, ticket, title, body, dept=directory.office(session))


def enterprise(session: Session, ticket: Ticket, body: str, kind: str | None = None, **fields) -> None:
    """A notice to the ticket's enterprise. `kind` (accept, resolve …) and the ticket's fields go with
    it, so that a 公众号 template message can carry it when the chat window is closed
    (delivery/templates.py); `fields` adds to them (the rating link)."""
    values = notice_values(held_channel(ticket.channel), ticket.enterprise.user_id, f"诉求 {ticket.number}", body)
    data = outreach.ticket_fields(ticket, **fields) if kind is not None else None
    session.add(Notification(ticket=ticket, kind=kind, data=data, **values))
    written(session, [values])


def take_held(session: Session, channel: str, user_id: str, now: datetime) -> list[Notification]:
    """Held notices for a user who just wrote, to go with the reply (marked sent)."""
    channel = held_channel(channel)
    held = session.scalars(_HELD, {"channel": channel, "recipient": user_id}).all()
    batch = uuid.uuid4().hex
    for n in held:
        n.status, n.sent_at, n.batch = "sent", now, f"reply:{batch}"
    return list(held)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    notes = unit.notes(session)
    notes.held_for.clear()
    if notes.notified:
        notes.notified = False
        wake = unit.wakers(session).deliver
        if wake is not None:
            try:
                wake()
            except Exception:  # the periodic sweep delivers it anyway; never fail the committed change
                log.exception("could not enqueue notification delivery")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    notes = unit.notes(session)
    notes.notified = False
    notes.held_for.clear()
