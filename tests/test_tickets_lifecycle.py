"""The state machine, deadlines in working days, the clock's jobs, and routing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import UserError
from tickets import credit_code, jobs, service
from tickets.lifecycle import Actor, Forbidden, Lifecycle, TransitionError
from tickets.models import Department, Notification, Official, Ticket
from tickets.workdays import CalendarError, add_working_days, is_workday

MONDAY = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in China


@pytest.fixture
def s(demo):
    with demo.extensions["appealbot"].Session() as session:
        yield session


def official(s, user_id) -> Actor:
    return Actor.of(s.scalars(select(Official).where(Official.wecom_user_id == user_id)).one())


def new(s, text="申请增容用电", category="operations", kind="appeal", user="e1", now=MONDAY) -> Ticket:
    t = service.create_ticket(s, channel="web", user_id=user, text=text, kind=kind, category=category, now=now)
    s.commit()
    return t


def life(s, now=MONDAY) -> Lifecycle:
    return Lifecycle(s, now, {"ACCEPT_DAYS": 1, "ESCALATE_GRACE_DAYS": 2, "REMIND_AT": 0.75})


# -- working days --------------------------------------------------------------------------------


def test_working_days_skip_weekends_and_holidays_and_count_make_up_days():
    assert not is_workday(date(2026, 10, 1)) and is_workday(date(2026, 10, 10))  # 10 Oct 2026 is a make-up Saturday
    friday = datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert add_working_days(friday, 1).date() == date(2026, 11, 30)
    assert add_working_days(datetime(2026, 9, 30, 3, tzinfo=UTC), 5).astimezone(UTC) == datetime(
        2026, 10, 13, 15, 59, 59, tzinfo=UTC
    )  # 8, 9, 10 (Sat, make-up), 12, 13 October


def test_a_year_the_calendar_does_not_know_fails_clearly():
    with pytest.raises(CalendarError, match="2031"):
        add_working_days(datetime(2031, 3, 1, tzinfo=UTC), 3)


# -- credit codes, numbers, routing --------------------------------------------------------------


def test_credit_code_check_digit():
    assert credit_code.is_valid("91350100M000100Y43")
    assert not credit_code.is_valid("91350100M000100Y44")
    assert not credit_code.is_valid("91350100M000100Y4") and not credit_code.is_valid("9135010OM000100Y43")


def test_numbers_count_per_china_day(s):
    late = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # already 24 November in China
    assert [new(s).number, new(s).number, new(s, now=late).number] == [
        "YQ-20261123-0001",
        "YQ-20261123-0002",
        "YQ-20261124-0001",
    ]


@pytest.mark.parametrize(
    "text,category,department",
    [
        ("厂里停电三次了", "operations", "国网市供电公司"),
        ("危废处置找不到有资质的单位", "operations", "市生态环境局"),
        ("设备采购流程问题", "operations", "市工业和信息化局"),
        ("公积金降比例", "social_security", "市住房公积金中心"),
        ("员工工伤认定", "social_security", "市人力资源和社会保障局"),
        ("孩子入学", "livelihood", "市教育局"),
        ("被强行补税", "coercive_measures", "市纪委监委驻营商局纪检监察组"),
        ("执法队一个月来查了四次", "random_inspection", "市营商环境建设局"),
        ("隔壁厂子阻工", "coordination", "市营商环境建设局"),
    ],
)
def test_routing_rules_pick_the_most_specific_department(s, text, category, department):
    kind = "complaint" if category in ("coercive_measures", "random_inspection") else "appeal"
    assert new(s, text, category, kind).department.name == department


def test_region_rules_apply_to_enterprises_of_that_region(s):
    ent = service.enterprise_for(s, "web", "east")
    ent.region = "城东区"
    s.commit()
    assert new(s, "营业执照变更", "gov_service", user="east").department.name == "城东区行政审批局"
    assert new(s, "营业执照变更", "gov_service", user="west").department.name == "市行政审批服务局"


def test_unknown_category_is_refused(s):
    with pytest.raises(UserError):
        service.create_ticket(s, channel="web", user_id="e", text="x", kind="appeal", category="nope")


# -- transitions ---------------------------------------------------------------------------------


def test_illegal_transitions_are_refused_with_the_status(s):
    t = new(s)
    with pytest.raises(TransitionError, match="待签收"):
        life(s).resolve(t, official(s, "gdgs"), "已处理")
    life(s).accept(t, official(s, "gdgs"))
    with pytest.raises(TransitionError, match="办理中"):
        life(s).accept(t, official(s, "gdgs"))


def test_only_the_department_acts_and_only_the_enterprise_rates(s):
    t = new(s)
    with pytest.raises(Forbidden):
        life(s).accept(t, official(s, "scjg"))
    life(s).accept(t, official(s, "yingshang"))  # 营商办 supervisors may act anywhere
    life(s).resolve(t, official(s, "gdgs"), "已增容")
    with pytest.raises(Forbidden):
        life(s).rate(t, Actor("enterprise", "someone-else"), 5)


def test_return_needs_a_reason_and_goes_back_to_the_office_queue(s):
    t = new(s)
    with pytest.raises(UserError, match="原因"):
        life(s).return_(t, official(s, "gdgs"), "  ")
    life(s).return_(t, official(s, "gdgs"), "不属于供电公司，是园区内部线路")
    assert (t.status, t.department, t.returned_count) == ("submitted", None, 1)
    office = s.scalars(select(Department).where(Department.is_office)).one()
    assert s.scalars(select(Notification).where(Notification.recipient.in_(["admin", "yingshang"]))).all()
    life(s).assign(t, official(s, "yingshang"), s.scalars(select(Department).where(Department.code == "zjj")).one())
    assert t.status == "assigned" and t.department.code == "zjj" and office.is_office


def test_escalation_goes_to_the_parent_department_with_a_new_deadline(s):
    ent = service.enterprise_for(s, "web", "east")
    ent.region = "城东区"
    s.commit()
    t = new(s, "营业执照变更", "gov_service", user="east")
    life(s).accept(t, official(s, "cd_shenpi"))
    later = MONDAY + timedelta(days=2)
    life(s, later).escalate(t, official(s, "cd_shenpi"), "涉及市级事权")
    assert t.department.code == "shenpi" and t.status == "assigned"
    assert t.deadline == add_working_days(later, 5)
    life(s, later).escalate(t, official(s, "shenpi"), "需多部门会商")
    assert t.department.is_office  # a city department without a parent escalates to 营商办


def test_waiting_for_the_enterprise_pauses_the_clock(s):
    t = new(s)
    life(s).accept(t, official(s, "gdgs"))
    before = t.deadline
    life(s).request_info(t, official(s, "gdgs"), "请提供用电户号")
    life(s, MONDAY + timedelta(days=2)).supplement(t, Actor("enterprise", "e1"), "户号 3300123456")
    # two working days stood still: Thursday's deadline moves over the weekend to Monday
    assert t.status == "accepted" and t.deadline == add_working_days(before, 2)


def test_waiting_over_a_weekend_moves_a_friday_deadline_to_monday_not_saturday(s):
    from tickets.workdays import CHINA

    t = new(s, "营业执照变更", "gov_service")  # 5 working days: due Monday 30 November
    life(s).accept(t, official(s, "shenpi"))
    t.deadline = datetime(2026, 11, 27, 15, 59, 59, tzinfo=UTC)  # Friday 23:59:59 China time
    life(s, datetime(2026, 11, 27, 2, tzinfo=UTC)).request_info(t, official(s, "shenpi"), "请补充章程")
    life(s, datetime(2026, 11, 30, 2, tzinfo=UTC)).supplement(t, Actor("enterprise", "e1"), "已上传")  # Monday 10:00
    assert t.deadline.astimezone(CHINA).strftime("%a %H:%M") == "Mon 23:59"


def test_extension_is_requested_before_the_deadline_and_approved_by_the_office(s):
    t = new(s)
    life(s).accept(t, official(s, "gdgs"))
    life(s).request_extension(t, official(s, "gdgs"), 3, "需要采购变压器")
    with pytest.raises(Forbidden):
        life(s).decide_extension(t, official(s, "gdgs"), True)  # not the department's own call
    before = t.deadline
    life(s).decide_extension(t, official(s, "yingshang"), True)
    assert t.deadline == add_working_days(before, 3) and t.extension is None
    with pytest.raises(TransitionError, match="超期"):
        life(s, t.deadline + timedelta(hours=1)).request_extension(t, official(s, "gdgs"), 2, "再延")


def test_duplicates_linked_under_one_ticket_all_get_the_answer(s):
    main, dup = new(s, "园区停电", user="e1"), new(s, "园区又停电了", user="e2")
    life(s).link(dup, official(s, "yingshang"), main)
    life(s).accept(main, official(s, "gdgs"))
    life(s).resolve(main, official(s, "gdgs"), "线路已抢修")
    assert (dup.status, dup.result) == ("resolved", "线路已抢修")
    assert s.scalars(
        select(Notification).where(Notification.recipient == "e2", Notification.body.contains("线路已抢修"))
    ).all()


def test_every_change_is_on_the_history_with_its_actor(s):
    t = new(s)
    life(s).accept(t, official(s, "gdgs"))
    life(s).note(t, official(s, "gdgs"), "已联系企业")
    life(s).resolve(t, official(s, "gdgs"), "已增容")
    life(s).rate(t, Actor("enterprise", "e1"), 4)
    assert [(e.action, e.from_status, e.to_status) for e in t.events] == [
        ("submit", None, "submitted"),
        ("assign", "submitted", "assigned"),
        ("accept", "assigned", "accepted"),
        ("note", "accepted", "accepted"),
        ("resolve", "accepted", "resolved"),
        ("rate", "resolved", "closed"),
    ]
    assert t.events[3].actor.startswith("official:gdgs(") and t.events[5].actor == "enterprise:e1"


def test_a_category_correction_is_kept_for_training(s):
    from nlp.models import Correction

    t = new(s)
    life(s).correct_category(t, official(s, "gdgs"), "coordination")
    assert (t.category, t.kind) == ("coordination", "appeal")
    assert s.scalars(select(Correction)).one().category == "coordination"


# -- the clock -----------------------------------------------------------------------------------


def test_reminder_then_supervision_then_escalation(demo, s):
    Session = demo.extensions["appealbot"].Session
    config = {"ESCALATE_GRACE_DAYS": 2, "REMIND_AT": 0.75}
    t = new(s)  # 3 working days: due Thursday 26 November, 23:59 China time
    number = t.number
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=1)) == {"reminded": 0, "supervised": 0, "escalated": 0}
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=3))["reminded"] == 1
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=3, hours=1))["reminded"] == 0  # once
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=4))["supervised"] == 1  # Friday: overdue
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=7))["escalated"] == 0  # Monday: within grace
    assert jobs.sweep(Session, config, MONDAY + timedelta(days=9))["escalated"] == 1  # after 2 working days
    s.expire_all()
    t = service.find(s, number)
    assert t.department.is_office and t.supervised
    assert [e.action for e in t.events][-3:] == ["remind", "supervise", "escalate"]
    bodies = [n.title for n in s.scalars(select(Notification).where(Notification.ticket_id == t.id))]
    assert (
        any("即将到期" in b for b in bodies)
        and any("督办" in b for b in bodies)
        and any("自动提级" in b for b in bodies)
    )


def test_a_waiting_ticket_is_not_swept(demo, s):
    t = new(s)
    life(s).accept(t, official(s, "gdgs"))
    life(s).request_info(t, official(s, "gdgs"), "请提供户号")
    s.commit()
    assert jobs.sweep(demo.extensions["appealbot"].Session, {}, MONDAY + timedelta(days=30)) == {
        "reminded": 0,
        "supervised": 0,
        "escalated": 0,
    }


def test_the_history_cannot_be_edited_or_deleted(s):
    t = new(s)
    event = t.events[0]
    event.note = "rewritten"
    with pytest.raises(PermissionError):
        s.flush()
    s.rollback()
    with pytest.raises(PermissionError):
        s.delete(s.get(type(event), event.id))
        s.flush()
