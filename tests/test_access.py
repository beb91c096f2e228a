"""Every console page and API route, as each role and as a stranger: who gets what.

Routes are read from the app's URL map, so a new route is walked (and must be classified here)
without anyone remembering to add it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.test_console import sign_in
from tickets import service
from tickets.accounts import token_hash
from tickets.models import Official

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROLES = ("scjg", "scjg_head", "yingshang", "admin")  # official, head, supervisor, administrator
ADMIN_ONLY = ("/console/admin",)
SUPERVISION = (
    "/console/notifications",
    "/console/extensions",
    "/console/enterprises",
    "/console/pushes",
)  # 营商办 and administrators


@pytest.fixture
def world(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        for login in ROLES:
            s.scalars(select(Official).where(Official.login == login)).one().api_token_hash = token_hash(f"tok-{login}")
        mine = service.create_ticket(
            s, channel="web", user_id="e1", text="商标被仿冒", kind="appeal", category="gov_service", now=NOW
        ).number  # 市场监管局
        theirs = service.create_ticket(
            s, channel="web", user_id="e1", text="公积金降比例", kind="appeal", category="social_security", now=NOW
        ).number  # 公积金中心
        from knowledge.ingest import ingest_bytes

        ingest_bytes(
            s, "access.txt", "关于规范涉企检查的通知\n一、检查前应当报批。\n二、检查结果当场告知企业。".encode()
        )  # document 1
    from tickets.attachments import store
    from tickets.outreach_models import Attachment

    store(state.services.config).put("2026/11/photo.jpg", b"\xff\xd8\xff\xe0photo", "image/jpeg")
    with state.Session() as s, s.begin():  # evidence on "mine": its page and the file follow the ticket's rules
        s.add(
            Attachment(
                channel="web",
                user_id="e1",
                ticket_id=service.find(s, mine).id,
                kind="image",
                media_id="m1",
                status="stored",
                content_type="image/jpeg",
                size=10,
                store="local",
                key="2026/11/photo.jpg",
            )
        )
    return {"mine": mine, "theirs": theirs}


def get_routes(app, prefix):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and "GET" in rule.methods:
            yield rule


def fill(rule, number):
    samples = {"number": number, "fmt": "csv", "code": "ABC234"}
    # ids of administration records (rules, officials, cards, departments): the demo's first ones exist
    return re.sub(
        r"<(?:\w+:)?(\w+)>", lambda m: samples.get(m.group(1), "1" if m.group(1).endswith("_id") else None), rule.rule
    )


def expected_console(role, path, visible):
    if role is None:
        return 200 if path == "/console/login" else 302
    if path.startswith(ADMIN_ONLY):
        return 200 if role == "admin" else 403
    if path.startswith(SUPERVISION):
        return 200 if role in ("admin", "yingshang") else 403
    return 200 if visible else 404


def test_every_console_page_as_each_role_and_a_stranger(demo, client, world):
    rules = list(get_routes(demo, "/console"))
    assert len(rules) >= 7
    for role in (None, *ROLES):
        with demo.test_client() as c:
            if role:
                sign_in(c, role)
            for rule in rules:
                for which in ("mine", "theirs"):
                    path = fill(rule, world[which])
                    visible = "<number>" not in rule.rule or which == "mine" or role in ("yingshang", "admin")
                    got = c.get(path).status_code
                    assert got == expected_console(role, path, visible), (role, path, got)


def test_every_api_route_as_each_role_and_a_stranger(demo, client, world):
    for rule in get_routes(demo, "/api/v1"):
        for role in (None, "nobody", *ROLES):
            for which in ("mine", "theirs"):
                path = fill(rule, world[which])
                headers = {"Authorization": f"Bearer tok-{role}"} if role else {}
                got = client.get(path, headers=headers).status_code
                if rule.rule == "/api/v1/openapi.json":
                    want = 200
                elif role in (None, "nobody"):
                    want = 401
                elif "<code>" in rule.rule:
                    want = 404  # no such filing
                elif "<number>" in rule.rule and which == "theirs" and role not in ("yingshang", "admin"):
                    want = 404
                else:
                    want = 200
                assert got == want, (role, path, got)


def test_every_console_form_refuses_a_post_without_a_csrf_token(demo, client, world):
    sign_in(client, "admin")
    for rule in demo.url_map.iter_rules():
        if rule.rule.startswith("/console") and "POST" in rule.methods:
            samples = {"number": world["mine"], "action": "note", "decision": "approve", "code": "ABC234"}
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, values=samples: values.get(m.group(1), "1"), rule.rule)
            assert client.post(path, data={"text": "x"}).status_code == 400, path
