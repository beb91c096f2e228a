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
import uuid
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from core.db import DIALECT_INSERTS
from tickets import cards
from tickets.models import Department, Notification, Official, Ticket, WecomGroup

log = logging.getLogger(__name__)
REPLY_URL_LIFE = timedelta(minutes=55)  # WeCom: a response_url answers once, within an hour
_GROUPS = WecomGroup.__table__
_NOTICES = Notification.__table__


# -- which group is whose ---------------------------------------------------------------------------

def seen(session: Session, chat_id: str, now: datetime) -> WecomGroup:
    """The group, recorded unbound the first time the bot meets it (two first messages at once
    record it once)."""
    insert = DIALECT_INSERTS[session.bind.dialect.name]
    session.execute(insert(WecomGroup).values(chat_id=chat_id, name="", first_seen_at=now)
                    .on_conflict_do_nothing(index_elements=["chat_id"]))
    return session.scalars(select(WecomGroup).where(WecomGroup.chat_id == chat_id)).one()


def bind(session: Session, group: WecomGroup, department: Optional[Department], name: str, by: str,
         now: datetime) -> WecomGroup:
    group.department = department
    group.department_id = department.id if department is not None else None
    group.name = name[:64]
    group.bound_at, group.bound_by = (now, by[:64]) if department is not None else (None, None)
    return group


def shows(group: Optional[WecomGroup], ticket: Ticket) -> bool:
    """Whether a ticket may be shown in this group: its own department's, or anything in a 营商办
    group. A 1:1 chat (no group) leaves it to the official's own rights."""
    if group is None:
        return True
    if group.department is None:
        return False
    return group.department.is_office or ticket.department_id == group.department_id


def keep_reply_url(session: Session, group: WecomGroup, url: Optional[str], now: datetime) -> None:
    """A callback's response_url the answer did not use: the group's way in for cards waiting to be
    posted, which are woken now. Plain statements: the directory's copy of the groups (bindings)
    must not reload for this."""
    if not url:
        return
    session.execute(_GROUPS.update().where(_GROUPS.c.id == group.id).values(reply_url=url[:600], reply_url_at=now))
    woken = session.execute(_NOTICES.update().where(_NOTICES.c.channel == "wecom_group",
                                                    _NOTICES.c.recipient == group.chat_id,
                                                    _NOTICES.c.status == "held")
                            .values(status="pending", next_attempt_at=None)).rowcount
    if woken:
        session.info["notified"] = True  # the delivery job runs after the commit


_FRESHEST = select(_GROUPS.c.reply_url).where(_GROUPS.c.chat_id == bindparam("chat"), _GROUPS.c.reply_url.is_not(None),
                                              _GROUPS.c.reply_url_at > bindparam("since"))
_TAKE = (_GROUPS.update().where(_GROUPS.c.chat_id == bindparam("chat"), _GROUPS.c.reply_url == bindparam("url"))
         .values(reply_url=None, reply_url_at=None))


def take_reply_url(session: Session, chat_id: str, now: datetime) -> Optional[str]:
    """The group's freshest unused response_url, taken (it works once): it is cleared only where it
    is still the one read, so two deliveries never take the same one."""
    url = session.execute(_FRESHEST, {"chat": chat_id, "since": now - REPLY_URL_LIFE}).scalar()
    if url is None or session.execute(_TAKE, {"chat": chat_id, "url": url}).rowcount != 1:
        return None
    return url


# -- one tap, one transition ------------------------------------------------------------------------

def lock_ticket(session: Session, number: str) -> Optional[Ticket]:
    """The ticket read afresh under a write lock, so that of two officials tapping 签收 at once the
    second one sees the first one's 签收, not the status both read before. PostgreSQL locks the
    row; SQLite has one writer at a time, taken here by a statement that changes nothing."""
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
    if ticket_id is None:
        return None
    if session.bind.dialect.name == "sqlite":
        table = Ticket.__table__
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
    session.add(Notification(channel="wecom_bot", recipient=hashlib.sha1(url.encode()).hexdigest(),
                             title=job, body=body, status="pending", presentation="job"))
    session.info["notified"] = True


def update_app_card(session: Session, ticket: Ticket, official: Official, response_code: str, note: Optional[str]) -> None:
    """A tapped app card shown anew to who tapped it (through the tap's ResponseCode)."""
    body = json.dumps({"code": response_code, "note": note}, ensure_ascii=False)
    session.add(Notification(channel="wecom_app", recipient=official.wecom_user_id, ticket=ticket,
                             title=f"工单 {ticket.number}", body=body, status="pending", presentation="card_update"))
    session.info["notified"] = True


# -- delivering (notify.deliver_pending hands these over) ----------------------------------------------

def deliver(s: Session, sender, channel: str, recipient: str, items: list[Notification], now: datetime,
            public_url: str, outcome: dict, later: list) -> list[Notification]:
    """Sends what needs more than a text: returns the notices left for the plain path."""
    from tickets import notify

    def sent(done: list[Notification]) -> None:
        batch = uuid.uuid4().hex
        for n in done:
            n.status, n.sent_at, n.batch = "sent", now, batch
        outcome["sent"] += len(done)

    def failed(done: list[Notification], exc: Exception) -> None:
        notify.record_failure(channel, recipient, done, exc, now, later)
        outcome["error"] += len(done)

    if channel == "wecom_bot":
        for n in items:
            try:
                spec = json.loads(n.body)
                sender.post_reply(spec["url"], {"msgtype": "markdown",
                                                "markdown": {"content": run_job(s, spec, now)}})
            except Exception as exc:  # kept and retried like any notice; a bad address fails at once
                failed([n], exc)
            else:
                sent([n])
        return []
    if channel == "wecom_group":
        return _to_group(s, sender, recipient, items, now, public_url, sent, failed, outcome)
    plain = []
    for n in items:
        if n.presentation == "card_update":
            try:
                spec = json.loads(n.body)
                official = _official(s, recipient)
                card = cards.ticket_card(n.ticket, task_id=f"yq-u{n.id}", public_url=public_url, viewer=official,
                                         in_group=False, note=spec.get("note"))
                sender.update_card(recipient, spec["code"], card)
            except Exception as exc:
                failed([n], exc)
            else:
                sent([n])
        else:
            plain.append(n)
    # One ticket to 签收 for one official: a card with buttons (a pile of notices stays a text card).
    if len(plain) == 1 and plain[0].presentation == "ticket" and plain[0].ticket is not None and sender.cards:
        n = plain[0]
        card = cards.ticket_card(n.ticket, task_id=f"yq-n{n.id}", public_url=public_url,
                                 viewer=_official(s, recipient), in_group=False)
        try:
            sender.send_card(recipient, card)
        except Exception as exc:
            failed([n], exc)
        else:
            sent([n])
        return []
    return plain


def _official(s: Session, wecom_user_id: str) -> Optional[Official]:
    return s.scalars(select(Official).where(Official.wecom_user_id == wecom_user_id, Official.active)).first()


def _to_group(s, sender, chat_id, items, now, public_url, sent, failed, outcome) -> list:
    group = s.scalars(select(WecomGroup).where(WecomGroup.chat_id == chat_id)).first()
    # Only what is still the group's department's: a ticket returned or escalated since is not posted.
    due = [n for n in items if n.ticket is not None and group is not None and group.department_id is not None
           and n.ticket.department_id == group.department_id and n.ticket.status == "assigned"]
    for n in items:
        if n not in due:
            n.status, n.last_error = "obsolete", "工单已不在本群所属部门待签收，不再发送"
            outcome["obsolete"] += 1
    if not due:
        return []
    url = take_reply_url(s, chat_id, now)
    if url is None:
        for n in due:
            n.status = "held"  # posted when the group next writes to the bot (keep_reply_url)
        outcome["held"] += len(due)
        return []
    if len(due) == 1:
        card = cards.ticket_card(due[0].ticket, task_id=f"yq-g{due[0].id}", public_url=public_url, in_group=True)
    else:
        tickets = sorted({n.ticket.id: n.ticket for n in due}.values(), key=lambda t: (t.accept_due is None, t.accept_due))
        card = cards.list_card(tickets, len(tickets), title=f"新诉求 {len(tickets)} 件待签收",
                               desc=group.department.name, task_id=f"yq-g{due[0].id}", public_url=public_url)
    try:
        sender.post_reply(url, {"msgtype": "template_card", "template_card": card})
    except Exception as exc:
        failed(due, exc)
    else:
        sent(due)
    return []


# -- answers that take a while ---------------------------------------------------------------------

def run_job(session: Session, spec: dict, now: datetime) -> str:
    if spec.get("job") == "weekly_stats":
        return weekly_stats(session, int(spec["department_id"]), now)
    raise ValueError(f"unknown job {spec.get('job')!r}")


def _percent(value: Optional[float]) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def weekly_stats(session: Session, department_id: int, now: datetime) -> str:
    """本周统计: this week's figures of one department, charged as the dashboard charges them."""
    from tickets import stats
    from tickets.workdays import CHINA

    local = now.astimezone(CHINA)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    dept = session.get(Department, department_id)
    f = stats.figures(session, now, since=monday, department_id=department_id)
    return "\n".join([
        f"**{dept.name if dept else ''}本周统计**（{monday:%m月%d日}起）",
        f"> 收到诉求：{f['total']} 件，办理中：{f['open']} 件",
        f"> 超期：<font color=\"warning\">{f['overdue']}</font> 件（仍未办结 {f['overdue_open']} 件）",
        f"> 按时办结率：{_percent(f['on_time_rate'])}，及时签收率：{_percent(f['on_time_acceptance_rate'])}",
        f"> 满意率：{_percent(f['satisfaction_rate'])}，回退率：{_percent(f['return_rate'])}",
    ])


__all__ = ["seen", "bind", "shows", "keep_reply_url", "take_reply_url", "lock_ticket", "answer_later",
           "update_app_card", "deliver", "run_job", "weekly_stats", "REPLY_URL_LIFE"]
