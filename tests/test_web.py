"""The chat page, its JSON API and the health check."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.models import InboundMessage
from tests.platforms import post_message
from tickets.models import Ticket


def count(db) -> int:
    return db.scalar(select(func.count()).select_from(InboundMessage))


def test_chat_page_is_served_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "有求必应" in page and "/api/messages" in page
    assert 'name="viewport"' in page


def test_api_answers_in_chinese(client, db):
    response = client.post("/api/messages", json={"text": "你好"})
    assert response.status_code == 200
    body = response.get_json()
    assert "有求必应" in body["reply"]
    assert "\\u" not in response.get_data(as_text=True)  # not ASCII-escaped
    assert count(db) == 1


def test_api_retry_with_the_same_id_is_processed_once(client, db):
    first = post_message(client, "谢谢", "u1", id="m-1").get_json()
    second = post_message(client, "谢谢", "u1", id="m-1").get_json()
    assert first == second
    assert count(db) == 1


def identity_of(db) -> list[str]:
    return [m.user_id for m in db.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def test_the_server_issues_the_identity_and_a_conversation_continues_only_with_it(app, db):
    # The audit: the web chat trusted any `user` a client sent, so whoever learned an enterprise's id
    # could read its tickets and rate them.
    browser = app.test_client()
    first = browser.post("/api/messages", json={"text": "你好"})
    identity = first.get_json()["user"]
    cookie = first.headers["Set-Cookie"]
    assert identity in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert browser.post("/api/messages", json={"user": identity, "text": "谢谢"}).get_json()["user"] == identity
    assert browser.post("/api/messages", json={"text": "谢谢"}).get_json()["user"] == identity  # by the cookie
    (user_id,) = set(identity_of(db))
    assert user_id != identity and identity.startswith(user_id + ".")  # the signature is not stored

    stranger = app.test_client()
    for forged in (user_id, user_id + ".forged", identity[:-2] + "xx", "ent-1", ""):
        answer = stranger.post("/api/messages", json={"user": forged, "text": "我的诉求"}).get_json()
        assert answer["user"] != identity and not answer["user"].startswith(user_id)
    from bot.channels.web import COOKIE

    other = app.test_client()
    other.set_cookie(COOKIE, user_id)  # an unsigned cookie is no better
    assert not other.post("/api/messages", json={"text": "我的诉求"}).get_json()["user"].startswith(user_id)
    assert identity_of(db)[:3] == [user_id] * 3 and user_id not in identity_of(db)[3:]


def test_someone_who_knows_an_enterprises_id_cannot_read_or_rate_its_tickets(demo, db):
    from tickets import service
    from tickets.lifecycle import SYSTEM, Lifecycle

    state = demo.extensions["appealbot"]
    with state.Session() as s, s.begin():
        service.enterprise_for(s, "web", "wVictim", name="城东精工机械有限公司", phone="13899912345")
        ticket = service.create_ticket(
            s, channel="web", user_id="wVictim", text="变压器增容一个月没消息", kind="appeal", category="operations"
        )
        life = Lifecycle(s, ticket.created_at, state.services.config)
        life.accept(ticket, SYSTEM)
        life.resolve(ticket, SYSTEM, "已安排增容")
        number = ticket.number
    attacker = demo.test_client()
    mine = attacker.post("/api/messages", json={"user": "wVictim", "text": "我的诉求"}).get_json()
    assert number not in mine["reply"]
    attacker.post("/api/messages", json={"user": mine["user"], "text": "1"})
    with state.Session() as s:
        assert s.scalars(select(Ticket).where(Ticket.number == number)).one().rating is None
    owner = demo.test_client()
    assert number in post_message(owner, "我的诉求", "wVictim").get_json()["reply"]


def test_the_web_chat_can_be_turned_off(config):
    from bot.app import create_app

    app = create_app({**config, "WEB_CHAT": "0"})
    client = app.test_client()
    assert client.get("/").status_code == 404
    response = client.post("/api/messages", json={"text": "你好"})
    assert response.status_code == 404 and "公众号" in response.get_json()["error"]
    assert client.get("/healthz").status_code == 200
    app.extensions["appealbot"].engine.dispose()


@pytest.mark.parametrize(
    "payload,status",
    [
        ({"user": "u1"}, 400),
        ({"text": 5}, 400),
        ({"user": ["u1"], "text": "你好"}, 400),
        ({"text": "长" * 6000}, 400),
        (["not", "an", "object"], 400),
    ],
)
def test_api_rejects_bad_input_and_stores_nothing(client, db, payload, status):
    response = client.post("/api/messages", json=payload)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert count(db) == 0


def test_api_rejects_non_json(client, db):
    response = client.post("/api/messages", data="user=u1&text=hi", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert count(db) == 0


def test_api_rejects_broken_json(client, db):
    response = client.post("/api/messages", data="{broken", content_type="application/json")
    assert response.status_code == 400
    assert count(db) == 0


def test_healthz(client):
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_unknown_route_is_a_plain_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "1234", "\x00\x07"])
def test_empty_and_meaningless_text_gets_the_welcome(client, text):
    body = post_message(client, text, "u9").get_json()
    assert "有求必应" in body["reply"]
