"""The routing directory each process keeps: changes made here count at once, elsewhere within TTL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from core.db import make_engine, make_sessionmaker
from tickets import directory, service
from tickets.models import Department, Notification, Official, RoutingRule, Ticket

MONDAY = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
def Session(demo):
    return demo.extensions["appealbot"].Session


def new_ticket(Session, text="申请增容用电", user="e1", category="operations") -> tuple[str, str, list[str]]:
    with Session() as s, s.begin():
        t = service.create_ticket(
            s, channel="web", user_id=user, text=text, kind="appeal", category=category, now=MONDAY
        )
        number = t.number
    with Session() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        recipients = s.scalars(select(Notification.recipient).where(Notification.ticket_id == t.id)).all()
        return t.status, t.department.code if t.department else None, sorted(recipients)


def test_a_rule_changed_in_this_process_routes_the_next_ticket(Session):
    assert new_ticket(Session)[1] == "gdgs"  # the keyword rule for 用电
    with Session() as s, s.begin():
        for rule in s.scalars(select(RoutingRule).where(RoutingRule.category == "operations")):
            rule.department = s.scalars(select(Department).where(Department.code == "fgw")).one()
    status, code, recipients = new_ticket(Session, user="e2")
    assert (status, code, recipients) == ("assigned", "fgw", ["fgw"])


def test_an_official_switched_off_here_gets_no_more_notices(Session):
    with Session() as s, s.begin():
        s.scalars(select(Official).where(Official.wecom_user_id == "gdgs")).one().active = False
    assert new_ticket(Session)[2] == []


def test_a_change_made_by_another_process_counts_within_the_ttl(Session, database_url, monkeypatch):
    assert new_ticket(Session)[1] == "gdgs"
    other = make_engine(database_url)  # another process: its commit does not reach this one's copy
    with make_sessionmaker(other)() as s, s.begin():
        fgw = s.scalars(select(Department.id).where(Department.code == "fgw")).one()
        s.execute(update(RoutingRule).where(RoutingRule.category == "operations").values(department_id=fgw))
    other.dispose()
    assert new_ticket(Session, user="e2")[1] == "gdgs"  # the copy is still fresh
    clock = directory.time.monotonic() + directory.TTL + 1
    monkeypatch.setattr(directory.time, "monotonic", lambda: clock)
    assert new_ticket(Session, user="e3")[1] == "fgw"


def test_without_a_rule_the_ticket_waits_for_the_office(Session):
    with Session() as s, s.begin():
        for rule in s.scalars(select(RoutingRule).where(RoutingRule.category == "legal")):
            s.delete(rule)
    status, code, recipients = new_ticket(Session, text="合同纠纷想咨询律师", category="legal")
    with Session() as s:
        office = s.scalars(select(Department).where(Department.is_office)).first()
        office_ids = sorted(
            s.scalars(
                select(Official.wecom_user_id).where(
                    Official.department_id == office.id, Official.active, Official.wecom_user_id.is_not(None)
                )
            )
        )
    assert (status, code) == ("submitted", None) and recipients == office_ids and office_ids
