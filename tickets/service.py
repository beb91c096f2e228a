"""Creating tickets: enterprise, number, routing, deadline — the entry point the chat and the API use."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from bot.db import utcnow
from bot.errors import UserError
from nlp.categories import KIND_OF, TICKET_CATEGORIES, label
from tickets import notify
from tickets.lifecycle import SYSTEM, Actor, Lifecycle
from tickets.models import Department, Enterprise, RoutingRule, Ticket, TicketCounter, TicketEvent
from tickets.workdays import CHINA

NUMBER = re.compile(r"YQ-\d{8}-\d{4,}", re.IGNORECASE)
DEFAULT_DAYS = 5


def next_number(session: Session, now: datetime) -> str:
    """YQ-20261122-0007: one atomic upsert-and-increment, so concurrent writers never share a number.

    On PostgreSQL the increment commits on a connection of its own: the counter row's lock then lasts
    one statement instead of the whole submission, which would queue every new ticket of the day
    behind the slowest one in flight (on every machine of a scaled-out deployment). A submission
    that fails afterwards leaves a gap in the day's numbers. SQLite has one writer at a time anyway.
    """
    day = now.astimezone(CHINA).strftime("%Y%m%d")
    postgres = session.bind.dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    stmt = (insert(TicketCounter).values(day=day, last=1)
            .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + 1})
            .returning(TicketCounter.last))
    if postgres:
        with session.bind.engine.begin() as own:
            last = own.execute(stmt).scalar_one()
    else:
        last = session.execute(stmt).scalar_one()
    return f"YQ-{day}-{last:04d}"


_ENTERPRISE = select(Enterprise).where(Enterprise.channel == bindparam("channel"),
                                      Enterprise.user_id == bindparam("user_id"))  # built once: hot


def find_enterprise(session: Session, channel: str, user_id: str) -> Optional[Enterprise]:
    """The user's enterprise if there is one; remembered for the rest of the session's work,
    since one message asks for it several times (and each query would flush the session first)."""
    known = session.info.setdefault("enterprises", {})
    row = known.get((channel, user_id))
    if row is not None and row in session and not inspect(row).deleted:
        return row
    row = session.scalars(_ENTERPRISE, {"channel": channel, "user_id": user_id}).first()
    if row is not None:
        known[(channel, user_id)] = row
    return row


def enterprise_for(session: Session, channel: str, user_id: str) -> Enterprise:
    """The user's enterprise, created on first use."""
    row = find_enterprise(session, channel, user_id)
    if row is None:
        try:
            with session.begin_nested():  # the same user writing twice at once creates one enterprise
                row = Enterprise(channel=channel, user_id=user_id)
                session.add(row)
        except IntegrityError:
            session.info["enterprises"].pop((channel, user_id), None)
            row = find_enterprise(session, channel, user_id)
            assert row is not None  # the concurrent insert that beat us
        session.info["enterprises"][(channel, user_id)] = row
    return row


def route(session: Session, category: str, text: str, region: str = "") -> Optional[RoutingRule]:
    """The most specific matching rule: keywords and region beat the category's default."""
    best, best_score = None, -1
    rules = select(RoutingRule).where(RoutingRule.category == category).options(joinedload(RoutingRule.department))
    for rule in session.scalars(rules):
        score = rule.priority * 10
        if rule.region:
            if rule.region != region:
                continue
            score += 100
        if rule.keywords:
            words = [w for w in re.split(r"[\s,，、]+", rule.keywords) if w]
            if not any(w in text for w in words):
                continue
            score += 200
        if score > best_score:
            best, best_score = rule, score
    return best


def create_ticket(session: Session, *, channel: str, user_id: str, text: str, kind: str, category: str,
                  confidence: Optional[float] = None, extra: Optional[dict[str, Any]] = None,
                  now: Optional[datetime] = None, config: Optional[dict] = None, anonymous: bool = False) -> Ticket:
    if category not in TICKET_CATEGORIES or KIND_OF[category] != kind:
        raise UserError(f"未知的诉求类别：{kind}/{category}")
    text = (text or "").strip()
    if not text:
        raise UserError("诉求内容不能为空")
    now = now or utcnow()
    ent = enterprise_for(session, channel, user_id)
    # Routed before the ticket is added, so that it is inserted once, already assigned (a query
    # after session.add would flush it half-made and update it straight after).
    rule = route(session, category, text, ent.region or "")
    ticket = Ticket(number=next_number(session, now), kind=kind, category=category, confidence=confidence,
                    text=text[:5000], channel=channel, region=ent.region or "", enterprise=ent,
                    status="submitted", created_at=now, updated_at=now, extra=dict(extra or {}),
                    anonymous=anonymous and kind == "complaint")
    session.add(ticket)
    session.add(TicketEvent(ticket=ticket, at=now, actor=Actor("enterprise", user_id).label, action="submit",
                            to_status="submitted", note=None,
                            data={"category": category, "confidence": confidence}))
    life = Lifecycle(session, now, config or {})
    if rule is None:
        notify.office(session, ticket, f"新诉求待分办：{ticket.number}", f"【{label(category)}】{text[:120]}")
    else:
        life.assign(ticket, SYSTEM, rule.department, days=rule.deadline_days, note="按分办规则自动转办")
    session.flush()
    return ticket


def find(session: Session, number: str) -> Optional[Ticket]:
    return session.scalars(select(Ticket).where(Ticket.number == number.upper())).first()


def tickets_of(session: Session, channel: str, user_id: str, limit: int = 10) -> list[Ticket]:
    return list(session.scalars(
        select(Ticket).join(Enterprise).where(Enterprise.channel == channel, Enterprise.user_id == user_id)
        .order_by(Ticket.id.desc()).limit(limit)))


def department_by_name(session: Session, name: str) -> Optional[Department]:
    return session.scalars(select(Department).where((Department.name == name) | (Department.code == name))).first()


__all__ = ["create_ticket", "next_number", "route", "enterprise_for", "find_enterprise", "find", "tickets_of", "NUMBER"]
