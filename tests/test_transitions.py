"""One table of transitions and one ticket-number module, asked by every interface.

The console's ticket page, the REST API's actions and the WeCom verbs must allow and refuse
exactly what tickets/transitions.py says, for each status and each kind of official."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core import ticket_number
from core.errors import UserError
from nlp import rules
from tests.test_console import csrf, sign_in
from tickets import service, transitions
from tickets.accounts import token_hash
from tickets.lifecycle import Actor, Forbidden, Lifecycle, TransitionError
from tickets.models import Official, Ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROLES = ("scjg", "scjg_head", "yingshang", "gdgs")  # official, head, supervisor, another department


# -- ticket numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["YQ-20261122-0007", "yq20261122-0007", "查一下YQ-20261122-0007进度", "YQ 20261122 0007", "yq_20261122_0007。"],
)
def test_a_number_is_read_however_it_is_typed(typed):
    assert ticket_number.parse(typed) == "YQ-20261122-0007"


@pytest.mark.parametrize("text", ["AB-20261122-0007", "YQ-2026112-0007", "XYQ-20261122-0007", "YQ-20261122-007"])
def test_what_is_not_a_number_is_not_read_as_one(text):
    assert ticket_number.parse(text) is None


def test_numbers_are_written_one_way_and_five_digit_serials_are_read():
    assert ticket_number.format_number(date(2026, 11, 22), 7) == "YQ-20261122-0007"
    assert ticket_number.parse("YQ-20261122-10001") == "YQ-20261122-10001"
    assert ticket_number.canonical("  yq202611220007 ") == "YQ-20261122-0007"


def test_the_rule_layer_and_the_commands_read_numbers_the_same_way():
    # The rule layer used a different pattern (any two letters, no Chinese right before the number).
    assert rules.match("查一下YQ-20261122-0007") == "ticket_status"
    assert rules.match("AB-20261122-0007") is None
    from handlers.official import COMMAND

    m = COMMAND.match("办结 yq20261122 0007 已协调")
    assert m and ticket_number.canonical(m.group(2)) == "YQ-20261122-0007" and m.group(3) == "已协调"


# -- the table ---------------------------------------------------------------------------------


@pytest.fixture
def world(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        for login in ROLES:
            s.scalars(select(Official).where(Official.wecom_user_id == login)).one().api_token_hash = token_hash(
                f"tok-{login}"
            )
    return state


def ticket_in(state, status: str, user="e1") -> str:
    """A 市场监管局 ticket brought to `status` through the lifecycle."""
    with state.Session() as s, s.begin():
        t = service.create_ticket(
            s, channel="web", user_id=user, text="商标被仿冒", kind="appeal", category="gov_service", now=NOW
        )
        life = Lifecycle(s, NOW, {})
        head = Actor.of(s.scalars(select(Official).where(Official.login == "scjg_head")).one())
        if status in ("accepted", "waiting", "resolved"):
            life.accept(t, head)
        if status == "waiting":
            life.request_info(t, head, "请提供商标注册证")
        if status == "resolved":
            life.resolve(t, head, "已立案")
        if status == "submitted":
            life.return_(t, head, "不属于本局")
        return t.number


@pytest.mark.parametrize("status", ["submitted", "assigned", "accepted", "waiting", "resolved"])
def test_the_console_shows_exactly_what_the_table_allows(world, client, status):
    number = ticket_in(world, status)
    with world.Session() as s:
        t = service.find(s, number)
        people = {o.login: o for o in s.scalars(select(Official).where(Official.login.in_(ROLES[:3])))}
        expected = {login: {a.name for a in transitions.allowed_actions(t, o, NOW)} for login, o in people.items()}
    for login in ROLES[:3]:
        sign_in(client, login)
        page = client.get(f"/console/tickets/{number}")
        if t.department_id is None and login != "yingshang":
            assert page.status_code == 404  # a returned ticket is 营商办's to distribute
        else:
            shown = set(re.findall(r'id="form-([a-z_]+)"', page.get_data(as_text=True)))
            assert shown == expected[login] - ({"delegate"} if status == "submitted" else set()), login
        client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})


def test_who_may_do_what_in_each_status(world):
    """The table itself, written out: the lifecycle's own checks read it too."""
    with world.Session() as s:
        people = {o.wecom_user_id: o for o in s.scalars(select(Official).where(Official.wecom_user_id.in_(ROLES)))}

        def allowed(status):
            t = service.find(s, ticket_in(world, status))
            return {who: {a.name for a in transitions.allowed_actions(t, o, NOW)} for who, o in people.items()}

        assigned = allowed("assigned")
        assert assigned["scjg"] == {"accept", "return", "escalate", "correct_category", "note"}
        assert assigned["scjg_head"] == assigned["scjg"] | {"delegate"}
        assert assigned["yingshang"] == assigned["scjg_head"] | {"assign", "link"}
        assert assigned["gdgs"] == set()  # another department
        waiting = allowed("waiting")
        assert waiting["scjg"] == {"request_extension", "escalate", "correct_category", "note"}  # 提级 from waiting too
        assert allowed("resolved")["scjg"] == {"correct_category", "note"}


@pytest.mark.parametrize(
    "status,action,ok",
    [
        ("assigned", "accept", True),
        ("assigned", "resolve", False),
        ("accepted", "resolve", True),
        ("waiting", "escalate", True),
        ("waiting", "request_info", False),
        ("accepted", "return", True),
        ("resolved", "escalate", False),
    ],
)
def test_the_api_and_the_wecom_verbs_follow_the_same_table(world, client, wecom, status, action, ok):
    number = ticket_in(world, status)
    verb = {"accept": "签收", "resolve": "办结", "escalate": "提级", "request_info": "补充材料", "return": "退回"}[
        action
    ]
    body = {"action": action, "text": "原因或答复"}
    r = client.post(f"/api/v1/tickets/{number}/actions", json=body, headers={"Authorization": "Bearer tok-scjg"})
    assert (r.status_code == 200) is ok, r.get_json()
    if not ok:
        assert r.status_code == 409 and "不能" in r.get_json()["error"]
    # the same on a fresh ticket in the same status, through 企业微信
    number = ticket_in(world, status, user="e2")
    reply = wecom.say(f"{verb} {number} 原因或答复", user="scjg")
    assert (f"已{verb}" in reply) is ok, reply


def test_a_verb_without_a_number_finds_candidates_by_the_tables_statuses(world, wecom):
    number = ticket_in(world, "waiting")
    assert f"工单 {number} 已提级" in wecom.say("提级 需要市级协调", user="scjg")  # the old verb list had no waiting


def test_perform_names_a_missing_input_and_refuses_unknown_actions(world):
    number = ticket_in(world, "accepted")
    with world.Session() as s:
        t = service.find(s, number)
        head = Actor.of(s.scalars(select(Official).where(Official.login == "scjg_head")).one())
        life = Lifecycle(s, NOW, {})
        with pytest.raises(UserError, match="经办人"):
            life.perform(t, head, "delegate")
        with pytest.raises(UserError, match="未知的操作"):
            life.perform(t, head, "teleport")
        with pytest.raises(Forbidden):
            life.perform(
                t,
                Actor.of(s.scalars(select(Official).where(Official.wecom_user_id == "gdgs")).one()),
                "resolve",
                text="x",
            )
        with pytest.raises(TransitionError, match="办理中"):
            life.perform(t, head, "accept")
        colleague = s.scalars(select(Official).where(Official.login == "scjg")).one()
        life.perform(t, head, "delegate", official=colleague)
        assert t.assignee is colleague and t.events[-1].action == "delegate"


def test_a_second_extension_request_waits_for_the_first(world):
    number = ticket_in(world, "accepted")
    with world.Session() as s:
        t = service.find(s, number)
        head = Actor.of(s.scalars(select(Official).where(Official.login == "scjg_head")).one())
        Lifecycle(s, NOW, {}).request_extension(t, head, 3, "需现场勘查")
        with pytest.raises(TransitionError, match="待审批"):
            Lifecycle(s, NOW, {}).request_extension(t, head, 5, "再延")
        assert "request_extension" not in {a.name for a in transitions.allowed_actions(t, head.official, NOW)}
        supervisor = s.scalars(select(Official).where(Official.login == "yingshang")).one()
        names = [a.name for a in transitions.allowed_actions(t, supervisor, NOW)]
        assert names[:2] == ["approve_extension", "reject_extension"]  # what a supervisor does first


def test_every_action_is_labelled_and_every_official_action_reaches_the_api(world, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    enum = spec["paths"]["/api/v1/tickets/{number}/actions"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["properties"]["action"]["enum"]
    assert set(enum) == set(transitions.OFFICIAL_ACTIONS)
    assert all(t.label and t.sources and set(t.sources) <= set(transitions.STATUS) for t in transitions.TRANSITIONS)


def test_tickets_number_column_matches_the_format(world):
    number = ticket_in(world, "assigned")
    assert ticket_number.is_number(number) and ticket_number.parse(number) == number
    with world.Session() as s:
        assert s.scalars(select(Ticket).where(Ticket.number == number)).one()
