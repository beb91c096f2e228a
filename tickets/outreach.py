"""Notices that reach the enterprise when no chat window is open: 公众号 template messages (the
服务号 way governments notify) and, as the last resort, one SMS.

The outbox (tickets/notify.py) stays the one way out, with its retries, limits and row locks; this
module is what its delivery calls for two cases:

- `outside_window`: a 公众号 notice while the 48-hour customer-service window is closed (or its 5
  messages are used up). A kind with a template configured (WECHAT_TEMPLATES) goes as a template
  message; without one, or when the platform will not take it (the user unfollowed), it is held for
  the enterprise's next message — never silently failed.
- `deliver_sms`: SMS notices written by `schedule_sms` (the sweep) for answers still waiting for
  the enterprise's rating after SMS_AFTER_HOURS: one per answer (a unique key), at most
  SMS_DAILY_CAP a day per number, not at night, never to an enterprise that opted out.
"""
from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any, Optional

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from core import settings
from core import timefmt
from core.db import DIALECT_INSERTS
from tickets.models import Enterprise, Notification, Ticket
from tickets.workdays import CHINA

log = logging.getLogger(__name__)

FIELD_LIMIT = 20  # a template message shows at most 20 characters of one field, on one line
GONE = {43004, 43101}  # 公众号: the user does not follow the account / refused the message
QUIET = (time(8, 0), time(21, 0))  # SMS only between these local hours
_VARIABLE = re.compile(r"\{(\w+)\}")


def _short(text: Optional[str], n: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _local(moment: Optional[datetime], fmt: str = timefmt.DAY) -> str:
    return timefmt.local(moment, fmt)


def ticket_fields(ticket: Ticket, **extra: Any) -> dict[str, str]:
    """What a template message or an SMS about this ticket may show, as it is when the notice is
    written (a later change does not rewrite what was reported)."""
    from nlp.categories import label
    from tickets.transitions import STATUS

    fields = {"number": ticket.number, "category": label(ticket.category),
              "department": ticket.department.name if ticket.department else "营商办",
              "deadline": _local(ticket.deadline), "status": STATUS.get(ticket.status, ticket.status),
              "result": _short(ticket.result), "date": _local(ticket.updated_at or ticket.created_at, "%Y-%m-%d %H:%M")}
    fields.update({k: str(v) for k, v in extra.items() if v is not None})
    return fields


def fill(pattern: Any, data: dict[str, Any], limit: Optional[int] = None) -> str:
    """A configured value with `{name}` replaced from the notice's fields (nothing else is
    interpreted), on one line, cut to `limit` characters."""
    value = _VARIABLE.sub(lambda m: str(data.get(m.group(1), "")), str(pattern))
    value = " ".join(value.split())
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def template_payload(entry: dict, data: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {field: {"value": fill(pattern, data, FIELD_LIMIT)} for field, pattern in entry["data"].items()}


def _backoff(n: Notification, now: datetime, later: list) -> None:
    n.next_attempt_at = now + timedelta(seconds=30 * 2 ** (n.attempts - 1))
    later.append(n.next_attempt_at)


def outside_window(sender, items: list[Notification], now: datetime, outcome: dict, later: list) -> None:
    """公众号 notices while no customer-service message can reach the user: templates or held."""
    from tickets.notify import MAX_ATTEMPTS

    templates = sender.config.get("WECHAT_TEMPLATES") or {}
    for n in items:
        entry = templates.get(n.kind) if n.kind else None
        if sender.wechat is None or entry is None:
            n.status = "held"  # goes with the reply to the user's next message
            outcome["held"] += 1
            continue
        data = n.data or {}
        try:
            sender.wechat.message.send_template(n.recipient, str(entry["template_id"]), template_payload(entry, data),
                                                url=data.get("link") or None)
        except Exception as exc:  # kept: retried with backoff, or held; never lost
            code = getattr(exc, "errcode", None)
            n.attempts += 1
            n.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if code in GONE or n.attempts >= MAX_ATTEMPTS:
                n.status = "held"  # shown with the reply to the enterprise's next message
            else:
                _backoff(n, now, later)
            outcome["error"] += 1
            log.warning("template message to %s failed: %s", n.recipient[:12], exc)
            continue
        n.status, n.sent_at, n.batch = "sent", now, f"template:{uuid.uuid4().hex[:30]}"
        outcome["template"] += 1


# -- SMS ---------------------------------------------------------------------------------------

def _next_morning(now: datetime) -> datetime:
    local = now.astimezone(CHINA)
    day = local.date() + (timedelta(days=1) if local.time() >= QUIET[0] else timedelta(0))
    return datetime.combine(day, QUIET[0], CHINA)


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(CHINA).date(), time(0), CHINA)


def deliver_sms(session: Session, sender, phone: str, items: list[Notification], now: datetime, outcome: dict,
                later: list) -> None:
    """One number's SMS notices: each on its own (an SMS template carries one notice)."""
    from tickets.notify import MAX_ATTEMPTS

    templates = sender.config.get("SMS_TEMPLATES") or {}
    local = now.astimezone(CHINA).time()
    if not QUIET[0] <= local < QUIET[1]:
        until = _next_morning(now)
        for n in items:
            n.next_attempt_at = until
        later.append(until)
        outcome["deferred"] += len(items)
        return
    cap = int(sender.config.get("SMS_DAILY_CAP") or 0)
    today = session.scalar(select(func.count(Notification.id)).where(
        Notification.channel == "sms", Notification.recipient == phone, Notification.status == "sent",
        Notification.sent_at >= _day_start(now)))
    for n in items:
        why = _cancelled(session, n)
        if why:
            n.status, n.last_error = "cancelled", why
            outcome["cancelled"] += 1
            continue
        entry = templates.get(n.kind or "")
        if sender.sms is None or entry is None:
            n.status, n.last_error = "cancelled", "SMS 未配置（SMS_PROVIDER / SMS_TEMPLATES）"
            outcome["cancelled"] += 1
            continue
        if cap and today >= cap:
            n.next_attempt_at = _next_morning(now)  # the number's share for today is used up
            later.append(n.next_attempt_at)
            outcome["deferred"] += 1
            continue
        try:
            serial = sender.sms.send(phone, str(entry["template_id"]),
                                     [fill(p, n.data or {}) for p in entry["params"]])
        except Exception as exc:  # kept and retried; a permanent refusal ends as failed, listed
            n.attempts += 1
            n.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if getattr(exc, "permanent", False) or n.attempts >= MAX_ATTEMPTS:
                n.status = "failed"
            else:
                _backoff(n, now, later)
            outcome["error"] += 1
            log.warning("SMS notice %s failed: %s", n.id, exc)
            continue
        n.status, n.sent_at, n.batch = "sent", now, f"sms:{serial or uuid.uuid4().hex}"[:40]
        today += 1
        outcome["sms"] += 1


def _cancelled(session: Session, n: Notification) -> Optional[str]:
    """Why an SMS written earlier must not go now: rated meanwhile, or the enterprise opted out."""
    ticket = n.ticket
    if ticket is not None:
        if ticket.enterprise.sms_opt_out:
            return "企业已退订短信"
        if n.kind == "resolve" and (ticket.status != "resolved" or (n.data or {}).get("resolved_at") != _stamp(ticket.resolved_at)):
            return "企业已评价，或诉求已重新办理"
    return None


def _stamp(moment: Optional[datetime]) -> str:
    return str(int(moment.timestamp())) if moment else ""


def schedule_sms(session: Session, config, now: datetime) -> int:
    """Writes one SMS notice for each answer that has waited SMS_AFTER_HOURS for the enterprise's
    rating (回访) — whether or not it saw the answer — to the mobile number it gave. The notice's
    unique key (ticket, answer) makes it once, even with two sweeps at the same moment."""
    if not config.get("SMS_PROVIDER") or "resolve" not in (config.get("SMS_TEMPLATES") or {}):
        return 0
    from tickets import rating_links
    from tickets.sms import mobile_number

    hours = int(config.get("SMS_AFTER_HOURS") or 0)
    days = int(settings.value(config, "RATING_LINK_DAYS"))
    due = session.scalars(select(Ticket).join(Enterprise, Ticket.enterprise_id == Enterprise.id).where(
        Ticket.status == "resolved", Ticket.resolved_at <= now - timedelta(hours=hours),
        Ticket.resolved_at > now - timedelta(days=days),  # an answer older than its link's life is not chased
        Enterprise.phone.is_not(None), Enterprise.sms_opt_out.is_(False),
        # already chased for this answer: skipped here; the unique key is what guarantees it
        ~exists().where(Notification.ticket_id == Ticket.id, Notification.channel == "sms",
                        Notification.created_at >= Ticket.resolved_at))).all()
    written = 0
    insert = DIALECT_INSERTS[session.bind.dialect.name]
    for ticket in due:
        phone = mobile_number(ticket.enterprise.phone)
        if phone is None:
            continue
        key = f"sms:resolve:{ticket.id}:{_stamp(ticket.resolved_at)}"
        if session.scalar(select(Notification.id).where(Notification.once_key == key)) is not None:
            continue
        link = rating_links.current(session, ticket, now, config)
        data = ticket_fields(ticket, link=link, resolved_at=_stamp(ticket.resolved_at))
        done = session.execute(insert(Notification).values(
            channel="sms", recipient=phone, ticket_id=ticket.id, title=f"回访短信 {ticket.number}",
            body=f"诉求 {ticket.number} 已答复，请评价：{link or ''}", status="pending", kind="resolve", data=data,
            once_key=key, created_at=now, attempts=0).on_conflict_do_nothing(index_elements=["once_key"]))
        if done.rowcount:
            written += 1
    if written:
        session.info["notified"] = True  # wakes delivery after the commit, as every outbox write does
    return written
