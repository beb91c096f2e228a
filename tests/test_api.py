"""The REST API: token auth, the chat's permission rules, actions with clear errors, statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tickets import service
from tickets.accounts import token_hash
from tickets.models import Official

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def api(demo, client):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        for login in ("gdgs", "scjg", "yingshang"):
            s.scalars(select(Official).where(Official.wecom_user_id == login)).one().api_token_hash = token_hash(
                f"tok-{login}"
            )
        numbers = [
            service.create_ticket(
                s, channel="web", user_id="e1", text=text, kind="appeal", category=cat, now=NOW
            ).number
            for text, cat in (("申请增容用电", "operations"), ("商标被人仿冒", "gov_service"))
        ]

    def call(method, path, who="gdgs", **kw):
        headers = {"Authorization": f"Bearer tok-{who}"} if who else {}
        return getattr(client, method)(path, headers=headers, **kw)

    call.numbers = numbers
    return call


def test_a_token_is_required(api):
    assert api("get", "/api/v1/tickets", who=None).status_code == 401
    assert api("get", "/api/v1/tickets", who="nobody").status_code == 401


def test_officials_see_their_department_and_supervisors_everything(api):
    mine = api("get", "/api/v1/tickets").get_json()
    assert [t["number"] for t in mine["items"]] == [api.numbers[0]] and mine["total"] == 1
    assert api("get", f"/api/v1/tickets/{api.numbers[1]}").status_code == 404  # another department's
    assert api("get", "/api/v1/tickets", who="yingshang").get_json()["total"] == 2


def test_filters(api):
    assert api("get", "/api/v1/tickets?category=gov_service", who="yingshang").get_json()["total"] == 1
    assert api("get", "/api/v1/tickets?q=仿冒", who="yingshang").get_json()["items"][0]["number"] == api.numbers[1]
    assert api("get", "/api/v1/tickets?since=yesterday").status_code == 400


def test_actions_follow_the_state_machine(api):
    number = api.numbers[0]
    r = api("post", f"/api/v1/tickets/{number}/actions", json={"action": "resolve", "result": "好了"})
    assert r.status_code == 409 and "待签收" in r.get_json()["error"]
    assert (
        api("post", f"/api/v1/tickets/{number}/actions", json={"action": "accept"}).get_json()["status"] == "accepted"
    )
    r = api("post", f"/api/v1/tickets/{number}/actions", json={"action": "escalate"})
    assert r.status_code == 400 and "原因" in r.get_json()["error"]
    done = api("post", f"/api/v1/tickets/{number}/actions", json={"action": "resolve", "result": "已增容"}).get_json()
    assert done["status"] == "resolved" and [e["action"] for e in done["events"]] == [
        "submit",
        "assign",
        "accept",
        "resolve",
    ]
    assert api("post", f"/api/v1/tickets/{number}/actions", data="x").status_code == 400


def test_another_departments_ticket_cannot_be_acted_on(api):
    assert (
        api("post", f"/api/v1/tickets/{api.numbers[0]}/actions", who="scjg", json={"action": "accept"}).status_code
        == 404
    )


def test_statistics_and_openapi(api):
    api("post", f"/api/v1/tickets/{api.numbers[0]}/actions", json={"action": "accept"})
    figures = api("get", "/api/v1/stats", who="yingshang").get_json()
    assert (
        figures["total"] == 2 and figures["open"] == 2 and figures["by_category"] == {"operations": 1, "gov_service": 1}
    )
    spec = api("get", "/api/v1/openapi.json", who=None).get_json()
    assert "/api/v1/tickets/{number}/actions" in spec["paths"]
