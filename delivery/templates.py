"""Notices that reach the enterprise when no chat window is open: 公众号 template messages (the
服务号 way governments notify) and, as the last resort, one SMS.

The outbox stays the one way out, with its retries, limits and row locks; delivery/deliver.py calls
this module for two cases:

- `outside_window`: a 公众号 notice while the 48-hour customer-service window is closed (or its 5
  messages are used up). A kind with a template configured (WECHAT_TEMPLATES) goes as a template
  message; without one, or when the platform will not take it (the user unfollowed), it is held for
  the enterprise's next message — never silently failed.
- `deliver_sms`: SMS notices written by tickets/outreach.schedule_sms (the sweep) for answers still
  waiting for the enterprise's rating after SMS_AFTER_HOURS: at most SMS_DAILY_CAP a day per number,
  not at night, never to an enterprise that opted out.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.timefmt import CHINA
from delivery.sender import MAX_ATTEMPTS
from tickets.models import Notification
from tickets.outreach import FIELD_LIMIT, stamp

log = logging.getLogger(__name__)


GONE = {43004, 43101}  # 公众号: the user does not follow the account / refused the message


QUIET = (time(8, 0), time(21, 0))  # SMS only between these local hours


_VARIABLE = re.compile(r"\{(\w+)\}")


def fill(pattern: Any, data: dict[str, Any], limit: int | None = None) -> str:
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
    templates = sender.config.get("WECHAT_TEMPLATES") or {}
    for n in items:
        entry = templates.get(n.kind) if n.kind else None
        if sender.wechat is None or entry is None:
            n.status = "held"  # goes with the reply to the user's next message
            outcome["held"] += 1
            continue
        data = n.data or {}
        try:
            sender.wechat.message.send_template(
                n.recipient, str(entry["template_id"]), template_payload(entry, data), url=data.get("link") or None
            )
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


def _next_morning(now: datetime) -> datetime:
    local = now.astimezone(CHINA)
    day = local.date() + (timedelta(days=1) if local.time() >= QUIET[0] else timedelta(0))
    return datetime.combine(day, QUIET[0], CHINA)


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(CHINA).date(), time(0), CHINA)


def deliver_sms(
    session: Session, sender, phone: str, items: list[Notification], now: datetime, outcome: dict, later: list
) -> None:
    """One number's SMS notices: each on its own (an SMS template carries one notice)."""
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
    today = session.execute(
        select(func.count(Notification.id)).where(
            Notification.channel == "sms",
            Notification.recipient == phone,
            Notification.status == "sent",
            Notification.sent_at >= _day_start(now),
        )
    ).scalar_one()
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
            serial = sender.sms.send(phone, str(entry["template_id"]), [fill(p, n.data or {}) for p in entry["params"]])
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


def _cancelled(session: Session, n: Notification) -> str | None:
    """Why an SMS written earlier must not go now: rated meanwhile, or the enterprise opted out."""
    ticket = n.ticket
    if ticket is not None:
        if ticket.enterprise.sms_opt_out:
            return "企业已退订短信"
        if n.kind == "resolve" and (
            ticket.status != "resolved" or (n.data or {}).get("resolved_at") != stamp(ticket.resolved_at)
        ):
            return "企业已评价，或诉求已重新办理"
    return None
