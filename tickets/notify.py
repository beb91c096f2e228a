"""Notifications: written to an outbox with the change they report, delivered later by the job queue.

Writing in the same transaction means a committed change always has its notices, and a rolled
back one has none. Delivery respects the platforms' limits, which drop the excess silently
(a group robot takes 20 messages a minute, a WeCom member receives at most 30 app messages a
minute, a 公众号 user at most 5 customer-service messages per message they send, within 48 hours):
whatever is waiting for one recipient goes out as one digest, and what cannot go now waits.
"""
from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Callable, Optional

import requests
from sqlalchemy import bindparam, event, exists, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from core import timefmt
from core.db import autocommit
from tickets import directory, outreach
from tickets.models import Department, Notification, Ticket

log = logging.getLogger(__name__)

PER_MINUTE = {"wecom_app": 30, "wecom_user": 30, "wecom_robot": 20, "wecom_group": 20}
WECHAT_WINDOW = timedelta(hours=48)
WECHAT_QUOTA = 5  # customer-service messages allowed per message the user sends
MAX_ATTEMPTS = 8
HELD_CHANNELS = ("web",)  # no push channel: delivered with the reply to the user's next message


# -- writing -----------------------------------------------------------------------------------

def _values(channel: str, recipient: str, title: str, body: str, presentation: Optional[str] = None) -> dict:
    return {"channel": channel, "recipient": recipient, "title": title[:128], "body": body,
            "status": "held" if channel in HELD_CHANNELS else "pending", "presentation": presentation}


def _add(session: Session, channel: str, recipient: str, ticket: Optional[Ticket], title: str, body: str,
         presentation: Optional[str] = None) -> None:
    values = _values(channel, recipient, title, body, presentation)
    session.add(Notification(ticket=ticket, **values))
    _written(session, [values])


def _written(session: Session, notices: list[dict]) -> None:
    session.info["notified"] = True
    for n in notices:
        if n["status"] == "held":
            session.info.setdefault("held_for", set()).add((n["channel"], n["recipient"]))


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
HELD_EXISTS = exists().where(Notification.status == "held", Notification.channel == bindparam("held_channel"),
                             Notification.recipient == bindparam("user_id")).label("held")


def held_since_flush(session: Session, channel: str, user_id: str) -> bool:
    """Whether this session wrote a held notice for the user (after the HELD_EXISTS lookup)."""
    return (held_channel(channel), user_id) in session.info.get("held_for", ())


# Built once: it runs on nearly every message, and building a statement costs more than running it.
_HELD = select(Notification).where(Notification.channel == bindparam("channel"),
                                   Notification.recipient == bindparam("recipient"),
                                   Notification.status == "held").order_by(Notification.id)
_INSERT = Notification.__table__.insert()


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


def _presentation(channel: str, card: bool) -> Optional[str]:
    return "ticket" if card and channel in CARD_CHANNELS else None


def department(session: Session, ticket: Ticket, title: str, body: str,
               dept: Optional[Department] = None, card: bool = False) -> None:
    """`card`: the notice hands the ticket to the department to 签收 (tickets/groups.py sends it
    as a card with buttons where the channel can)."""
    dept = dept or ticket.department
    if dept is None:
        return office(session, ticket, title, body)
    for channel, recipient in recipients(session, dept, card):
        _add(session, channel, recipient, ticket, title, body, _presentation(channel, card))


def department_rows(session: Session, ticket_id: int, dept: Department, title: str, body: str,
                    card: bool = False) -> None:
    """As department(), written as plain rows for a ticket inserted just now (Lifecycle.submit)."""
    notices = [_values(channel, recipient, title, body, _presentation(channel, card))
               for channel, recipient in recipients(session, dept, card)]
    if notices:
        session.execute(_INSERT, [{**n, "ticket_id": ticket_id} for n in notices])
        _written(session, notices)


def office(session: Session, ticket: Ticket, title: str, body: str) -> None:
    from tickets.lifecycle import office as office_department

    department(session, ticket, title, body, dept=office_department(session))


def enterprise(session: Session, ticket: Ticket, body: str, kind: Optional[str] = None, **fields) -> None:
    """A notice to the ticket's enterprise. `kind` (accept, resolve …) and the ticket's fields go with
    it, so that a 公众号 template message can carry it when the chat window is closed
    (tickets/outreach.py); `fields` adds to them (the rating link)."""
    values = _values(held_channel(ticket.channel), ticket.enterprise.user_id, f"诉求 {ticket.number}", body)
    data = outreach.ticket_fields(ticket, **fields) if kind is not None else None
    session.add(Notification(ticket=ticket, kind=kind, data=data, **values))
    _written(session, [values])


def on_commit(Session, kick: Callable[[], None]) -> None:
    """Makes every session of this factory wake the delivery job after a commit that wrote notices."""
    Session.configure(info={"kick": kick})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    kick = session.info.get("kick")
    session.info.pop("held_for", None)
    if session.info.pop("notified", False) and kick is not None:
        try:
            kick()
        except Exception:  # the periodic sweep delivers it anyway; never fail the committed change
            log.exception("could not enqueue notification delivery")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("notified", None)
    session.info.pop("held_for", None)


# -- delivering --------------------------------------------------------------------------------

class Sender:
    """The outbound side, built from the configuration: WeCom app and robot, 公众号 customer service."""

    def __init__(self, config, Session):
        from tickets.platforms import WeChatClient, WeComClient, token_storage

        storage = token_storage(config, Session)
        self.config = config
        self.wecom = self.wechat = None
        if config.get("WECOM_SECRET") and config.get("WECOM_CORP_ID"):
            self.wecom = WeComClient(config["WECOM_CORP_ID"], config["WECOM_SECRET"], config["WECOM_API_BASE"], storage)
        if config.get("WECHAT_SECRET") and config.get("WECHAT_APPID"):
            self.wechat = WeChatClient(config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"], storage)
        from tickets.sms import provider

        self.sms = provider(config)  # the last resort (tickets/outreach.py), None unless configured

    def send(self, channel: str, recipient: str, title: str, body: str, url: str) -> None:
        if channel == "wecom_app":
            if self.wecom is None:
                raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
            # The platform's duplicate check makes a re-send after a crash (sent, but not yet marked so)
            # reach the official once.
            self.wecom.message.send(self.config["WECOM_AGENT_ID"], recipient, msg={
                "msgtype": "textcard", "enable_duplicate_check": 1, "duplicate_check_interval": 1800,
                "textcard": {"title": title, "description": body[:500], "url": url or "https://work.weixin.qq.com",
                             "btntxt": "详情"}})
        elif channel == "wecom_user":  # an enterprise that writes through 企业微信: plain text, no console link
            if self.wecom is None:
                raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
            self.wecom.message.send_text(self.config["WECOM_AGENT_ID"], recipient, f"{title}\n{body}")
        elif channel == "wecom_robot":
            res = requests.post(recipient, json={"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{body}"[:4000]}},
                                timeout=10)
            res.raise_for_status()
            result = res.json()
            if result.get("errcode"):
                raise RuntimeError(f"robot errcode {result['errcode']}: {result.get('errmsg')}")
        elif channel == "wechat":
            if self.wechat is None:
                raise Unconfigured("WECHAT_SECRET 未配置")
            self.wechat.message.send_text(recipient, body)
        else:
            raise ValueError(f"unknown channel {channel}")

    # -- 企业微信 cards and the 智能机器人 (tickets/groups.py decides what goes) ----------------------

    @property
    def cards(self) -> bool:
        """Whether app messages may carry buttons: a tap comes back to the app's callback (/wecom),
        which the configuration requires with the app's keys (bot/config.py)."""
        return self.wecom is not None and bool(self.config.get("WECOM_TOKEN"))

    def send_card(self, recipient: str, card: dict) -> dict:
        """A template card to one official through the app (its task_id is the notice's own, so the
        platform's duplicate check keeps a re-send after a crash to one card)."""
        if self.wecom is None:
            raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
        return self.wecom.post("message/send", data={
            "touser": recipient, "agentid": self.config["WECOM_AGENT_ID"], "msgtype": "template_card",
            "template_card": card, "enable_duplicate_check": 1, "duplicate_check_interval": 1800})

    def update_card(self, recipient: str, response_code: str, card: dict) -> dict:
        """A tapped app card shown anew to the official who tapped it (the tap's ResponseCode works
        once, within 72 hours)."""
        if self.wecom is None:
            raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
        return self.wecom.post("message/update_template_card", data={
            "userids": [recipient], "agentid": self.config["WECOM_AGENT_ID"], "response_code": response_code,
            "template_card": card})

    def post_reply(self, url: str, payload: dict) -> None:
        """A message the 智能机器人 posts through a response_url (once, within an hour). Only to the
        platform's own address: the URL came in a signed callback, and is checked once more."""
        base = str(self.config.get("WECOM_API_BASE") or "").rstrip("/") + "/cgi-bin/aibot/response?"
        if not url.startswith(base):
            raise BadReplyAddress("response_url 不是企业微信的地址")
        res = requests.post(url, json=payload, timeout=10)
        res.raise_for_status()
        result = res.json()
        if result.get("errcode"):
            raise RuntimeError(f"aibot response errcode {result['errcode']}: {result.get('errmsg')}")


class Unconfigured(RuntimeError):
    pass


class BadReplyAddress(RuntimeError):
    """A response_url that is not the platform's: never posted to, never retried."""


WINDOW_CLOSED = {45015, 45047}  # 公众号: outside the 48-hour window / quota used up


# Built once: the delivery job runs after every commit that wrote a notice.
_DUE = (select(Notification.id, Notification.channel, Notification.recipient)
        .where(Notification.status == "pending",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= bindparam("now")))
        .order_by(Notification.id).limit(1000))
_LOCK = (select(Notification).where(Notification.id.in_(bindparam("ids", expanding=True)),
                                    Notification.status == "pending")
         .options(joinedload(Notification.ticket).load_only(Ticket.number, Ticket.category, Ticket.deadline))
         .order_by(Notification.id).with_for_update(skip_locked=True, of=Notification))
_RECENT_SENDS = (select(Notification.batch, func.min(Notification.sent_at))
                 .where(Notification.channel == bindparam("channel"), Notification.recipient == bindparam("recipient"),
                        Notification.sent_at > bindparam("since"))
                 .group_by(Notification.batch))
_DEFER = (update(Notification).where(Notification.id.in_(bindparam("ids", expanding=True)),
                                     Notification.status == "pending")
          .values(next_attempt_at=bindparam("until")).execution_options(synchronize_session=False))


def _limited_until(session: Session, channel: str, recipient: str, now: datetime) -> Optional[datetime]:
    """When the recipient's per-minute limit frees a place again; None while there is one now."""
    sends = session.execute(_RECENT_SENDS, {"channel": channel, "recipient": recipient,
                                            "since": now - timedelta(minutes=1)}).all()
    if len(sends) < PER_MINUTE[channel]:
        return None
    times = sorted(at for _, at in sends)
    return times[len(times) - PER_MINUTE[channel]] + timedelta(minutes=1)


def deliver_pending(Session, sender: Sender, now: datetime, public_url: str = "") -> dict[str, int]:
    """Sends what is due, one digest per recipient; returns counts by outcome, and in `next_in` the
    seconds until the earliest notice put off now (a recipient's limit, a failed send) is due."""
    from handlers.models import InboundMessage

    outcome: dict[str, int] = defaultdict(int)
    later: list[datetime] = []
    # Only the keys, on a connection without a transaction (one round trip): this scan runs for
    # every wake-up, and whole rows are loaded below, locked.
    with autocommit(Session.kw["bind"]) as conn:
        due = conn.execute(_DUE, {"now": now}).all()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for notice_id, channel, recipient in due:
        groups[(channel, recipient)].append(notice_id)
    for (channel, recipient), ids in groups.items():
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
                from tickets import groups  # cards, group posts and later answers; the rest goes on below

                items = groups.deliver(s, sender, channel, recipient, items, now, public_url, outcome, later)
                if not items:
                    continue
            if channel == "wechat":
                last_in = s.scalar(select(func.max(InboundMessage.received_at)).where(
                    InboundMessage.channel == "wechat", InboundMessage.user_id == recipient))
                used = 0 if last_in is None else s.scalar(select(func.count(func.distinct(Notification.batch))).where(
                    Notification.channel == "wechat", Notification.recipient == recipient,
                    Notification.sent_at > last_in))
                if last_in is None or now - last_in > WECHAT_WINDOW or used >= WECHAT_QUOTA or sender.wechat is None:
                    # A template message where one is configured, else held for the next reply.
                    outreach.outside_window(sender, items, now, outcome, later)
                    continue
            if channel == "sms":
                outreach.deliver_sms(s, sender, recipient, items, now, outcome, later)
                continue
            title, body = robot_digest(items, public_url) if channel == "wecom_robot" else digest(items)
            url = link(items, public_url)
            batch = uuid.uuid4().hex
            try:
                sender.send(channel, recipient, title, body, url)
            except Exception as exc:  # kept and retried with backoff; visible when it finally fails
                code = getattr(exc, "errcode", None)
                if channel == "wechat" and code in WINDOW_CLOSED:  # the window closed meanwhile
                    outreach.outside_window(sender, items, now, outcome, later)
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


def record_failure(channel: str, recipient: str, items: list[Notification], exc: Exception, now: datetime,
                   later: list[datetime]) -> None:
    """A send that failed: retried with backoff, then `failed` (at once when it cannot succeed)."""
    code = getattr(exc, "errcode", None)
    for n in items:
        n.attempts += 1
        n.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if channel == "wechat" and code in WINDOW_CLOSED:
            n.status = "held"
        elif n.attempts >= MAX_ATTEMPTS or isinstance(exc, (Unconfigured, BadReplyAddress)):
            n.status = "failed"
        else:
            n.next_attempt_at = now + timedelta(seconds=30 * 2 ** (n.attempts - 1))
            later.append(n.next_attempt_at)
    log.warning("notification to %s via %s failed: %s", recipient[:12], channel, exc)


# Channels whose notices are composed by tickets/groups.py: cards posted into a group through the
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
    from nlp.categories import label as category_label

    def block(n: Notification, heading: Optional[str] = None) -> str:
        lines = ([f"**{heading}**"] if heading else []) + [n.body]
        t = n.ticket
        if t is not None:
            deadline = _local_day(t.deadline) if t.deadline is not None else "未定"
            lines.append(f"> 类别：<font color=\"info\">{category_label(t.category)}</font>")
            lines.append(f"> 办结期限：<font color=\"warning\">{deadline}</font>")
            if public_url:
                lines.append(f"> [查看工单 {t.number}]({public_url.rstrip('/')}/console/tickets/{t.number})")
        return "\n".join(lines)

    if len(items) == 1:
        return items[0].title, block(items[0])
    return f"您有 {len(items)} 条诉求通知", "\n\n".join(block(n, f"{i}. {n.title}") for i, n in enumerate(items, 1))


def _local_day(moment: datetime) -> str:
    return timefmt.local(moment)


def digest(items: list[Notification]) -> tuple[str, str]:
    if len(items) == 1:
        return items[0].title, items[0].body
    lines = [f"{i}. {n.title}\n{n.body}" for i, n in enumerate(items, 1)]
    return f"您有 {len(items)} 条诉求通知", "\n\n".join(lines)


def take_held(session: Session, channel: str, user_id: str, now: datetime) -> list[Notification]:
    """Held notices for a user who just wrote, to go with the reply (marked sent)."""
    channel = held_channel(channel)
    held = session.scalars(_HELD, {"channel": channel, "recipient": user_id}).all()
    batch = uuid.uuid4().hex
    for n in held:
        n.status, n.sent_at, n.batch = "sent", now, f"reply:{batch}"
    return list(held)
