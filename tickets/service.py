"""Creating tickets: enterprise, number, routing, deadline — the entry point the chat and the API use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from core import ticket_number, unit
from core.db import DIALECT_INSERTS, autocommit, per_dialect, utcnow
from core.errors import UserError
from nlp.categories import KIND_OF, TICKET_CATEGORIES
from tickets import access, directory
from tickets.lifecycle import Actor, Lifecycle
from tickets.models import Department, Enterprise, Ticket, TicketCounter
from tickets.workdays import CHINA

DEFAULT_DAYS = 5

_NEXT_NUMBER = per_dialect(
    lambda insert: (
        insert(TicketCounter)
        .values(day=bindparam("day"), last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": TicketCounter.last + 1})
        .returning(TicketCounter.last)
    )
)


def next_number(session: Session, now: datetime) -> str:
    """YQ-20261122-0007: one atomic upsert-and-increment, so concurrent writers never share a number.

    On PostgreSQL the increment commits on a connection of its own: the counter row's lock then lasts
    one statement instead of the whole submission, which would queue every new ticket of the day
    behind the slowest one in flight (on every machine of a scaled-out deployment). A submission
    that fails afterwards leaves a gap in the day's numbers. SQLite has one writer at a time anyway.
    """
    local = now.astimezone(CHINA).date()
    day = local.strftime("%Y%m%d")
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        with autocommit(bind.engine) as own:
            last = own.execute(_NEXT_NUMBER["postgresql"], {"day": day}).scalar_one()
    else:
        last = session.execute(_NEXT_NUMBER["sqlite"], {"day": day}).scalar_one()
    return ticket_number.format_number(local, last)


_ENTERPRISE = select(Enterprise).where(
    Enterprise.channel == bindparam("channel"), Enterprise.user_id == bindparam("user_id")
)  # built once: hot
_ABSENT = object()  # remembered: this user has no enterprise (yet)


def _known(session: Session) -> dict:
    return unit.notes(session).enterprises


def remember_enterprise(session: Session, channel: str, user_id: str, row: Enterprise | None) -> None:
    """Tell the session what a query that was made anyway found (handlers/router.py loads it
    with the dialogue state), so that find_enterprise asks nothing more this session."""
    _known(session)[(channel, user_id)] = _ABSENT if row is None else row


def find_enterprise(session: Session, channel: str, user_id: str) -> Enterprise | None:
    """The user's enterprise if there is one; remembered for the rest of the session's work,
    since one message asks for it several times (and each query would flush the session first)."""
    row = _known(session).get((channel, user_id))
    if row is _ABSENT:
        return None
    if row is not None and row in session and not inspect(row).deleted:
        return row
    row = session.scalars(_ENTERPRISE, {"channel": channel, "user_id": user_id}).first()
    remember_enterprise(session, channel, user_id, row)
    return row


def enterprise_for(session: Session, channel: str, user_id: str, **fields: Any) -> Enterprise:
    """The user's enterprise with `fields` set, created on first use (with them, in one INSERT)."""
    row = find_enterprise(session, channel, user_id)
    if row is None:
        insert = DIALECT_INSERTS[session.get_bind().dialect.name]
        # The same user writing twice at once creates one enterprise: the second insert does
        # nothing, and the row the first one committed is read instead.
        stmt = (
            insert(Enterprise)
            .values(channel=channel, user_id=user_id, **fields)
            .on_conflict_do_nothing(index_elements=["channel", "user_id"])
            .returning(Enterprise)
        )
        row = session.scalars(stmt).first()
        if row is None:
            row = session.scalars(_ENTERPRISE, {"channel": channel, "user_id": user_id}).one()
        else:
            fields = {}
        remember_enterprise(session, channel, user_id, row)
    for name, value in fields.items():
        setattr(row, name, value)
    return row


def route(session: Session, category: str, text: str, region: str = "") -> directory.Rule | None:
    """The most specific matching rule: keywords and region beat the category's default."""
    best, best_score = None, -1
    for rule in directory.current(session).rules.get(category, ()):
        score = rule.priority * 10
        if rule.region:
            if rule.region != region:
                continue
            score += 100
        if rule.keywords:
            if not any(w in text for w in rule.keywords):
                continue
            score += 200
        if score > best_score:
            best, best_score = rule, score
    return best


def categories_reaching_named(session: Session, text: str, categories: list[str], region: str = "") -> list[str]:
    """Those of `categories` whose ticket for this text would go to a department the text names
    ("想请市场监管局来指导…": the category routed there settles a close call)."""
    named = {d.id for d in access.departments_named(session, text)}
    if not named:
        return []
    return [c for c in categories if (rule := route(session, c, text, region)) and rule.department_id in named]


def create_ticket(
    session: Session,
    *,
    channel: str,
    user_id: str,
    text: str,
    kind: str,
    category: str,
    confidence: float | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
    config: dict | None = None,
    anonymous: bool = False,
) -> Ticket:
    if category not in TICKET_CATEGORIES or KIND_OF[category] != kind:
        raise UserError(f"未知的诉求类别：{kind}/{category}")
    text = (text or "").strip()
    if not text:
        raise UserError("诉求内容不能为空")
    now = now or utcnow()
    ent = enterprise_for(session, channel, user_id)
    # A location the enterprise sent with the appeal (handlers/media.py) names where it happens.
    region = ((extra or {}).get("location") or {}).get("region") or ent.region or ""
    rule = route(session, category, text, region)
    ticket = Ticket(
        number=next_number(session, now),
        kind=kind,
        category=category,
        confidence=confidence,
        text=text[:5000],
        channel=channel,
        region=region,
        enterprise=ent,
        created_at=now,
        extra=dict(extra or {}),
        anonymous=anonymous and kind == "complaint",
    )
    department = directory.department(session, rule.department_id) if rule else None
    note: str | None = "按分办规则自动转办"
    if department is not None and access.names_department(session, ticket, department):
        # A rule would send the complaint to the department it is about: 营商办 distributes it
        # instead, and only a supervisor's explicit confirmation can send it there (Lifecycle.assign).
        department, note = None, None
    ticket = Lifecycle(session, now, config or {}).submit(
        ticket,
        Actor("enterprise", user_id),
        department,
        days=rule.deadline_days if rule else None,
        note=note,
        category=category,
        confidence=confidence,
    )
    from tickets import attachments

    # Photos and files sent for this appeal (or just before it) become its evidence.
    attachments.adopt(session, ticket, int((config or {}).get("STATE_TTL") or 1800), now)
    return ticket


def find(session: Session, number: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.number == ticket_number.canonical(number))).first()


def tickets_of(session: Session, channel: str, user_id: str, limit: int = 10) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .join(Enterprise)
            .where(Enterprise.channel == channel, Enterprise.user_id == user_id)
            .order_by(Ticket.id.desc())
            .limit(limit)
        )
    )


def department_by_name(session: Session, name: str) -> Department | None:
    return session.scalars(select(Department).where((Department.name == name) | (Department.code == name))).first()


__all__ = ["create_ticket", "next_number", "route", "enterprise_for", "find_enterprise", "find", "tickets_of"]
