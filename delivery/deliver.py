"""Delivery: the job queue's side of the outbox (tickets/outbox.py). Sends what is due, one digest
per recipient, within the platforms' limits, which drop the excess silently (a group robot takes 20
messages a minute, a WeCom member receives at most 30 app messages a minute, a 公众号 user at most 5
customer-service messages per message they send, within 48 hours): what cannot go now waits.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from core import timefmt
from core.db import autocommit
from delivery import groups, templates
from delivery.sender import WINDOW_CLOSED, Sender, record_failure
from handlers.models import InboundMessage
from nlp.categories import label as category_label
from tickets.models import Notification, Ticket

log = logging.getLogger(__name__)


PER_MINUTE = {"wecom_app": 30, "wecom_user": 30, "wecom_robot": 20, "wecom_group": 20}


WECHAT_WINDOW = timedelta(hours=48)


WECHAT_QUOTA = 5  # customer-service messages allowed per message the user sends


# Built once: the delivery job runs after every commit that wrote a notice.
_DUE = (
    select(Notification.id, Notification.channel, Notification.recipient)
    .where(
        Notification.status == "pending",
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= bindparam("now")),
    )
    .order_by(Notification.id)
    .limit(1000)
)


_LOCK = (
    select(Notification)
    .where(Notification.id.in_(bindparam("ids", expanding=True)), Notification.status == "pending")
    .options(joinedload(Notification.ticket).load_only(Ticket.number, Ticket.category, Ticket.deadline))
    .order_by(Notification.id)
    .with_for_update(skip_locked=True, of=Notification)
)


_RECENT_SENDS = (
    select(Notification.batch, func.min(Notification.sent_at))
    .where(
        Notification.channel == bindparam("channel"),
        Notification.recipient == bindparam("recipient"),
        Notification.sent_at > bindparam("since"),
    )
    .group_by(Notification.batch)
)


_DEFER = (
    update(Notification)
    .where(Notification.id.in_(bindparam("ids", expanding=True)), Notification.status == "pending")
    .values(next_attempt_at=bindparam("until"))
    .execution_options(synchronize_session=False)
)


def _limited_until(session: Session, channel: str, recipient: str, now: datetime) -> datetime | None:
    """When the recipient's per-minute limit frees a place again; None while there is one now."""
    sends = session.execute(
        _RECENT_SENDS, {"channel": channel, "recipient": recipient, "since": now - timedelta(minutes=1)}
    ).all()
    if len(sends) < PER_MINUTE[channel]:
        return None
    times = sorted(cast(datetime, at) for _, at in sends)  # MIN of sent_at > since: never NULL
    return times[len(times) - PER_MINUTE[channel]] + timedelta(minutes=1)


def deliver_pending(Session, sender: Sender, now: datetime, public_url: str = "") -> dict[str, int]:
    """Sends what is due, one digest per recipient; returns counts by outcome, and in `next_in` the
    seconds until the earliest notice put off now (a recipient's limit, a failed send) is due."""
    outcome: dict[str, int] = defaultdict(int)
    later: list[datetime] = []
    # Only the keys, on a connection without a transaction (one round trip): this scan runs for
    # every wake-up, and whole rows are loaded below, locked.
    with autocommit(Session.kw["bind"]) as conn:
        due = conn.execute(_DUE, {"now": now}).all()
    by_recipient: dict[tuple[str, str], list[int]] = defaultdict(list)
    for notice_id, channel, recipient in due:
        by_recipient[(channel, recipient)].append(notice_id)
    for (channel, recipient), ids in by_recipient.items():
        with Session() as s, s.begin():
            if channel in PER_MINUTE:
                free_at = _limited_until(s, channel, recipient, now)
                if free_at is not None:
                    # Put off in the outbox itself, so no wake-up looks at them again before then.
                    s.execute(_DEFER, {"ids": ids, "until": free_at})
                    outcome["deferred"] += len(ids)
                    later.append(free_at)
                    continue
            # Row locks (PostgreSQL) keep two workers from sending one notice; SKIP LOCKED moves on.
            items = s.scalars(_LOCK, {"ids": ids}).unique().all()
            if not items:
                continue
            if channel in SPECIAL_CHANNELS or any(n.presentation for n in items):
                # cards, group posts and later answers; the rest goes on below
                items = groups.deliver(s, sender, channel, recipient, items, now, public_url, outcome, later)
                if not items:
                    continue
            if channel == "wechat":
                last_in = s.scalar(
                    select(func.max(InboundMessage.received_at)).where(
                        InboundMessage.channel == "wechat", InboundMessage.user_id == recipient
                    )
                )
                used = (
                    0
                    if last_in is None
                    else s.scalar(
                        select(func.count(func.distinct(Notification.batch))).where(
                            Notification.channel == "wechat",
                            Notification.recipient == recipient,
                            Notification.sent_at > last_in,
                        )
                    )
                )
                if last_in is None or now - last_in > WECHAT_WINDOW or used >= WECHAT_QUOTA or sender.wechat is None:
                    # A template message where one is configured, else held for the next reply.
                    templates.outside_window(sender, items, now, outcome, later)
                    continue
            if channel == "sms":
                templates.deliver_sms(s, sender, recipient, items, now, outcome, later)
                continue
            title, body = robot_digest(items, public_url) if channel == "wecom_robot" else digest(items)
            url = link(items, public_url)
            batch = uuid.uuid4().hex
            try:
                sender.send(channel, recipient, title, body, url)
            except Exception as exc:  # kept and retried with backoff; visible when it finally fails
                code = getattr(exc, "errcode", None)
                if channel == "wechat" and code in WINDOW_CLOSED:  # the window closed meanwhile
                    templates.outside_window(sender, items, now, outcome, later)
                    continue
                record_failure(channel, recipient, items, exc, now, later)
                outcome["error"] += len(items)
                continue
            for n in items:
                n.status, n.sent_at, n.batch = "sent", now, batch
            outcome["sent"] += len(items)
    if later:
        outcome["next_in"] = max(1, math.ceil((min(later) - now).total_seconds()))
    return dict(outcome)


# Channels whose notices are composed by delivery/groups.py: cards posted into a group through the
# 智能机器人, and its answers given later (a response_url each).
SPECIAL_CHANNELS = ("wecom_group", "wecom_bot")


def link(items: list[Notification], public_url: str) -> str:
    """Where a text card leads: the ticket's page when the notices are about one ticket, else the
    console's queue (never the site's root, which is the enterprises' chat page)."""
    if not public_url:
        return ""
    base = public_url.rstrip("/")
    tickets = {n.ticket.number for n in items if n.ticket is not None}
    if len(tickets) == 1 and all(n.ticket is not None for n in items):
        return f"{base}/console/tickets/{tickets.pop()}"
    return f"{base}/console/"


def robot_digest(items: list[Notification], public_url: str = "") -> tuple[str, str]:
    """The group robot's markdown: each notice with its ticket's category, deadline and link."""

    def block(n: Notification, heading: str | None = None) -> str:
        lines = ([f"**{heading}**"] if heading else []) + [n.body]
        t = n.ticket
        if t is not None:
            deadline = timefmt.local(t.deadline) if t.deadline is not None else "未定"
            lines.append(f'> 类别：<font color="info">{category_label(t.category)}</font>')
            lines.append(f'> 办结期限：<font color="warning">{deadline}</font>')
            if public_url:
                lines.append(f"> [查看工单 {t.number}]({public_url.rstrip('/')}/console/tickets/{t.number})")
        return "\n".join(lines)

    if len(items) == 1:
        return items[0].title, block(items[0])
    return f"您有 {len(items)} 条诉求通知", "\n\n".join(block(n, f"{i}. {n.title}") for i, n in enumerate(items, 1))


def digest(items: list[Notification]) -> tuple[str, str]:
    if len(items) == 1:
        return items[0].title, items[0].body
    lines = [f"{i}. {n.title}\n{n.body}" for i, n in enumerate(items, 1)]
    return f"您有 {len(items)} 条诉求通知", "\n\n".join(lines)
