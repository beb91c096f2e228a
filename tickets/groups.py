"""企业微信 groups of the 智能机器人, and what goes to 企业微信 as more than text: ticket cards in
the officials' 1:1 app messages and in their groups, tapped cards shown anew, answers given later.

A group is bound to a department in the console. A ticket handed to a department to 签收 is posted
as a card (tickets/cards.py) into the groups bound to it, and into no other: never another
department's group. A 营商办 group may look at any ticket (查看), but is posted only what 营商办
itself holds.

The 智能机器人 in API mode answers callbacks; it cannot write into a group on its own. What it can
do is answer a callback later, once, within an hour, through the callback's response_url. So every
callback from a group that the bot answered at once leaves its response_url here (`reply_url`),
and a card for the group goes through the freshest one. When there is none, the card waits
(`held`) for the next message in that group, which brings a new one and wakes the delivery. (The
long-connection mode could push at any time; this project runs the callback mode.)
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from core import unit
from core.db import DIALECT_INSERTS
from tickets.models import Department, Notification, Official, Ticket, WecomGroup

log = logging.getLogger(__name__)
REPLY_URL_LIFE = timedelta(minutes=55)  # WeCom: a response_url answers once, within an hour
_GROUPS: Table = cast(Table, WecomGroup.__table__)
_NOTICES: Table = cast(Table, Notification.__table__)


# -- which group is whose ---------------------------------------------------------------------------


def seen(session: Session, chat_id: str, now: datetime) -> WecomGroup:
    """The group, recorded unbound the first time the bot meets it (two first messages at once
    record it once)."""
    insert = DIALECT_INSERTS[session.get_bind().dialect.name]
    session.execute(
        insert(WecomGroup)
        .values(chat_id=chat_id, name="", first_seen_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )
    return session.scalars(select(WecomGroup).where(WecomGroup.chat_id == chat_id)).one()


def bind(
    session: Session, group: WecomGroup, department: Department | None, name: str, by: str, now: datetime
) -> WecomGroup:
    group.department = department
    group.department_id = department.id if department is not None else None
    group.name = name[:64]
    group.bound_at, group.bound_by = (now, by[:64]) if department is not None else (None, None)
    return group


def shows(group: WecomGroup | None, ticket: Ticket) -> bool:
    """Whether a ticket may be shown in this group: its own department's, or anything in a 营商办
    group. A 1:1 chat (no group) leaves it to the official's own rights."""
    if group is None:
        return True
    if group.department is None:
        return False
    return group.department.is_office or ticket.department_id == group.department_id


def keep_reply_url(session: Session, group: WecomGroup, url: str | None, now: datetime) -> None:
    """A callback's response_url the answer did not use: the group's way in for cards waiting to be
    posted, which are woken now. Plain statements: the directory's copy of the groups (bindings)
    must not reload for this."""
    if not url:
        return
    session.execute(_GROUPS.update().where(_GROUPS.c.id == group.id).values(reply_url=url[:600], reply_url_at=now))
    result = session.execute(
        _NOTICES.update()
        .where(_NOTICES.c.channel == "wecom_group", _NOTICES.c.recipient == group.chat_id, _NOTICES.c.status == "held")
        .values(status="pending", next_attempt_at=None)
    )
    woken = cast(CursorResult, result).rowcount
    if woken:
        unit.notes(session).notified = True  # the delivery job runs after the commit


_FRESHEST = select(_GROUPS.c.reply_url).where(
    _GROUPS.c.chat_id == bindparam("chat"),
    _GROUPS.c.reply_url.is_not(None),
    _GROUPS.c.reply_url_at > bindparam("since"),
)
_TAKE = (
    _GROUPS.update()
    .where(_GROUPS.c.chat_id == bindparam("chat"), _GROUPS.c.reply_url == bindparam("url"))
    .values(reply_url=None, reply_url_at=None)
)


def take_reply_url(session: Session, chat_id: str, now: datetime) -> str | None:
    """The group's freshest unused response_url, taken (it works once): it is cleared only where it
    is still the one read, so two deliveries never take the same one."""
    url = session.execute(_FRESHEST, {"chat": chat_id, "since": now - REPLY_URL_LIFE}).scalar()
    if url is None or cast(CursorResult, session.execute(_TAKE, {"chat": chat_id, "url": url})).rowcount != 1:
        return None
    return url


# -- one tap, one transition ------------------------------------------------------------------------


def lock_ticket(session: Session, number: str) -> Ticket | None:
    """The ticket read afresh under a write lock, so that of two officials tapping 签收 at once the
    second one sees the first one's 签收, not the status both read before. PostgreSQL locks the
    row; SQLite has one writer at a time, taken here by a statement that changes nothing."""
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
    if ticket_id is None:
        return None
    if session.get_bind().dialect.name == "sqlite":
        table = cast(Table, Ticket.__table__)
        session.execute(table.update().where(table.c.id == ticket_id).values(version=table.c.version))
        q = select(Ticket).where(Ticket.id == ticket_id)
    else:
        q = select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket)
    return session.scalars(q.execution_options(populate_existing=True)).one()


# -- answers and cards written with the change they report --------------------------------------------


def answer_later(session: Session, url: str, job: str, **params) -> None:
    """Work that takes longer than WeCom waits for an answer: done by the job queue, its result
    posted through the message's response_url. Written to the outbox, so it happens once."""
    body = json.dumps({"url": url, "job": job, **params}, ensure_ascii=False)
    session.add(
        Notification(
            channel="wecom_bot",
            recipient=hashlib.sha1(url.encode()).hexdigest(),
            title=job,
            body=body,
            status="pending",
            presentation="job",
        )
    )
    unit.notes(session).notified = True


def update_app_card(session: Session, ticket: Ticket, official: Official, response_code: str, note: str | None) -> None:
    """A tapped app card shown anew to who tapped it (through the tap's ResponseCode)."""
    body = json.dumps({"code": response_code, "note": note}, ensure_ascii=False)
    session.add(
        Notification(
            channel="wecom_app",
            recipient=official.wecom_user_id,
            ticket=ticket,
            title=f"工单 {ticket.number}",
            body=body,
            status="pending",
            presentation="card_update",
        )
    )
    unit.notes(session).notified = True


# -- answers that take a while ---------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def weekly_stats(session: Session, department_id: int, now: datetime) -> str:
    """本周统计: this week's figures of one department, charged as the dashboard charges them."""
    from tickets import stats
    from tickets.workdays import CHINA

    local = now.astimezone(CHINA)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    dept = session.get(Department, department_id)
    f = stats.figures(session, now, since=monday, department_id=department_id)
    return "\n".join(
        [
            f"**{dept.name if dept else ''}本周统计**（{monday:%m月%d日}起）",
            f"> 收到诉求：{f['total']} 件，办理中：{f['open']} 件",
            f'> 超期：<font color="warning">{f["overdue"]}</font> 件（仍未办结 {f["overdue_open"]} 件）',
            f"> 按时办结率：{_percent(f['on_time_rate'])}，及时签收率：{_percent(f['on_time_acceptance_rate'])}",
            f"> 满意率：{_percent(f['satisfaction_rate'])}，回退率：{_percent(f['return_rate'])}",
        ]
    )


__all__ = [
    "seen",
    "bind",
    "shows",
    "keep_reply_url",
    "take_reply_url",
    "lock_ticket",
    "answer_later",
    "update_app_card",
    "weekly_stats",
    "REPLY_URL_LIFE",
]
