"""Two processes at once: ticket numbers stay unique and a ticket takes exactly one transition."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from tickets import service
from tickets.lifecycle import Lifecycle
from tickets.models import Ticket, TicketEvent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _create_many(url: str, start, n: int, out) -> None:
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    Session = make_sessionmaker(engine)
    start.wait()
    numbers = []
    for i in range(n):
        with Session() as s, s.begin():
            numbers.append(
                service.create_ticket(
                    s,
                    channel="web",
                    user_id=f"p{i}",
                    text=f"第{i}件：申请增容用电",
                    kind="appeal",
                    category="operations",
                    now=NOW,
                ).number
            )
    out.put(numbers)
    engine.dispose()


def _accept(url: str, number: str, start, out) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm.exc import StaleDataError

    from core.db import make_engine, make_sessionmaker
    from core.errors import UserError
    from tickets.lifecycle import SYSTEM

    engine = make_engine(url)
    Session = make_sessionmaker(engine)
    try:
        with Session() as s, s.begin():
            ticket = service.find(s, number)
            start.wait()  # both have read the ticket as "assigned" before either writes
            Lifecycle(s, NOW, {}).accept(ticket, SYSTEM)
        out.put("accepted")
    except (StaleDataError, UserError, OperationalError) as exc:
        out.put(type(exc).__name__)
    finally:
        engine.dispose()


def _enterprise_for(url: str, start, out) -> None:
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    Session = make_sessionmaker(engine)
    with Session() as s, s.begin():
        start.wait()
        out.put(service.enterprise_for(s, "wechat", "oTwice", name="同时发来两条消息的公司").id)
    engine.dispose()


def test_one_user_writing_twice_at_once_gets_one_enterprise(app, database_url, db):
    from tickets.models import Enterprise

    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_enterprise_for, args=(database_url, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    ids = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    rows = db.scalars(select(Enterprise).where(Enterprise.user_id == "oTwice")).all()
    assert len(rows) == 1 and ids == [rows[0].id] * 2 and rows[0].name == "同时发来两条消息的公司"


def test_ticket_numbers_are_unique_across_processes(demo, database_url):
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_create_many, args=(database_url, start, 20, out)) for _ in range(2)]
    for p in procs:
        p.start()
    numbers = [n for _ in procs for n in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert sorted(numbers) == [f"YQ-20261123-{i:04d}" for i in range(1, 41)]


def test_two_processes_accepting_one_ticket_make_one_transition(demo, database_url, db):
    with demo.extensions["appealbot"].Session() as s, s.begin():
        number = service.create_ticket(
            s, channel="web", user_id="e", text="申请增容用电", kind="appeal", category="operations", now=NOW
        ).number
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_accept, args=(database_url, number, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results.count("accepted") == 1, results
    ticket = db.scalars(select(Ticket).where(Ticket.number == number)).one()
    accepts = db.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "accept")
    ).all()
    assert (
        ticket.status == "accepted" and len(accepts) == 1 and ticket.version == 2
    )  # inserted already assigned (1), accepted once (2)


def test_a_submission_in_flight_does_not_hold_up_the_next_number(demo, database_url):
    # On PostgreSQL the counter commits on its own: a slow submission must not queue the others.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    Session = demo.extensions["appealbot"].Session
    with Session() as slow, slow.begin():
        first = service.create_ticket(
            slow, channel="web", user_id="slow", text="申请增容用电", kind="appeal", category="operations", now=NOW
        ).number
        with Session() as quick, quick.begin():
            quick.execute(text("SET LOCAL lock_timeout = '2s'"))
            second = service.create_ticket(
                quick,
                channel="web",
                user_id="quick",
                text="天然气管道什么时候通",
                kind="appeal",
                category="operations",
                now=NOW,
            ).number
    assert {first, second} == {"YQ-20261123-0001", "YQ-20261123-0002"}
