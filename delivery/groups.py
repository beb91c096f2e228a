"""What goes to 企业微信 as more than text: ticket cards in the officials' 1:1 app messages and in
their groups (through the 智能机器人's freshest response_url, tickets/groups.py), tapped cards shown
anew, and the answers given later. delivery/deliver.py hands these notices over.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.sender import record_failure
from tickets import cards
from tickets.groups import take_reply_url, weekly_stats
from tickets.models import Notification, Official, WecomGroup

log = logging.getLogger(__name__)


def deliver(
    s: Session,
    sender,
    channel: str,
    recipient: str,
    items: list[Notification],
    now: datetime,
    public_url: str,
    outcome: dict,
    later: list,
) -> list[Notification]:
    """Sends what needs more than a text: returns the notices left for the plain path."""

    def sent(done: list[Notification]) -> None:
        batch = uuid.uuid4().hex
        for n in done:
            n.status, n.sent_at, n.batch = "sent", now, batch
        outcome["sent"] += len(done)

    def failed(done: list[Notification], exc: Exception) -> None:
        record_failure(channel, recipient, done, exc, now, later)
        outcome["error"] += len(done)

    if channel == "wecom_bot":
        for n in items:
            try:
                spec = json.loads(n.body)
                sender.post_reply(spec["url"], {"msgtype": "markdown", "markdown": {"content": run_job(s, spec, now)}})
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
                assert n.ticket is not None  # update_app_card writes the notice with its ticket
                card = cards.ticket_card(
                    n.ticket,
                    task_id=f"yq-u{n.id}",
                    public_url=public_url,
                    viewer=official,
                    in_group=False,
                    note=spec.get("note"),
                )
                sender.update_card(recipient, spec["code"], card)
            except Exception as exc:
                failed([n], exc)
            else:
                sent([n])
        else:
            plain.append(n)
    # One ticket to 签收 for one official: a card with buttons (a pile of notices stays a text card).
    if len(plain) == 1 and plain[0].presentation == "ticket" and plain[0].ticket is not None and sender.cards:
        n, ticket = plain[0], plain[0].ticket
        card = cards.ticket_card(
            ticket, task_id=f"yq-n{n.id}", public_url=public_url, viewer=_official(s, recipient), in_group=False
        )
        try:
            sender.send_card(recipient, card)
        except Exception as exc:
            failed([n], exc)
        else:
            sent([n])
        return []
    return plain


def _official(s: Session, wecom_user_id: str) -> Official | None:
    return s.scalars(select(Official).where(Official.wecom_user_id == wecom_user_id, Official.active)).first()


def _to_group(s, sender, chat_id, items, now, public_url, sent, failed, outcome) -> list:
    group = s.scalars(select(WecomGroup).where(WecomGroup.chat_id == chat_id)).first()
    # Only what is still the group's department's: a ticket returned or escalated since is not posted.
    due = [
        n
        for n in items
        if n.ticket is not None
        and group is not None
        and group.department_id is not None
        and n.ticket.department_id == group.department_id
        and n.ticket.status == "assigned"
    ]
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
        tickets = sorted(
            {n.ticket.id: n.ticket for n in due}.values(), key=lambda t: (t.accept_due is None, t.accept_due)
        )
        card = cards.list_card(
            tickets,
            len(tickets),
            title=f"新诉求 {len(tickets)} 件待签收",
            desc=group.department.name,
            task_id=f"yq-g{due[0].id}",
            public_url=public_url,
        )
    try:
        sender.post_reply(url, {"msgtype": "template_card", "template_card": card})
    except Exception as exc:
        failed(due, exc)
    else:
        sent(due)
    return []


def run_job(session: Session, spec: dict, now: datetime) -> str:
    if spec.get("job") == "weekly_stats":
        return weekly_stats(session, int(spec["department_id"]), now)
    raise ValueError(f"unknown job {spec.get('job')!r}")
