"""一叫就到 call-outs: an enterprise asks its service officer to get in touch; the officer is told in
企业微信, answers "已联系", and is reminded once when the promised time (in the card's service hours)
has passed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import CallOut
from core import timefmt
from tickets import outbox
from tickets.models import Enterprise, Official
from tickets.workdays import add_service_minutes


def call_out(
    session: Session,
    enterprise: Enterprise,
    official: Official,
    text: str,
    now: datetime,
    promise_minutes: int = 120,
    hours: str = "",
) -> CallOut:
    """Ask an officer to get in touch, promised within `promise_minutes` of the card's service hours."""
    recent = session.scalars(
        select(CallOut).where(
            CallOut.enterprise_id == enterprise.id, CallOut.official_id == official.id, CallOut.status == "requested"
        )
    ).first()
    if recent is not None:
        return recent  # asked twice: one call-out, not two
    item = CallOut(
        enterprise=enterprise,
        official=official,
        text=text[:2000],
        created_at=now,
        due_at=add_service_minutes(now, promise_minutes, hours),
    )
    session.add(item)
    if official.wecom_user_id:
        outbox.add(
            session,
            "wecom_app",
            official.wecom_user_id,
            None,
            "一叫就到：企业请您联系",
            f"{enterprise.name or '企业'}（电话 {enterprise.phone or '未留'}）请您联系：{text[:200]}\n"
            f"请于{due_local(item)}前回应，回复“已联系”确认。",
        )
    return item


def due_local(item: CallOut) -> str:
    return timefmt.local(item.due_at, timefmt.MONTH_DAY_TIME)


def respond(session: Session, official: Official, now: datetime) -> CallOut | None:
    item = session.scalars(
        select(CallOut).where(CallOut.official_id == official.id, CallOut.status == "requested").order_by(CallOut.id)
    ).first()
    if item is None:
        return None
    item.status, item.responded_at = "responded", now
    outbox.add(
        session,
        outbox.held_channel(item.enterprise.channel),
        item.enterprise.user_id,
        None,
        "一叫就到",
        f"{official.name}已回应您的联系请求。联系或上门后，请回复“已联系上”确认。",
    )
    return item


def overdue_call_outs(session: Session, now: datetime) -> int:
    """Reminds officers past their promise time, once (run by the periodic sweep)."""
    n = 0
    for item in session.scalars(
        select(CallOut).where(CallOut.status == "requested", CallOut.due_at < now, CallOut.reminded_at.is_(None))
    ):
        item.reminded_at = now
        if item.official.wecom_user_id:
            outbox.add(
                session,
                "wecom_app",
                item.official.wecom_user_id,
                None,
                "一叫就到已超时",
                f"{item.enterprise.name or '企业'}的联系请求已超过承诺时间，请尽快回应。",
            )
        n += 1
    return n
