"""The chat page, its JSON API and the health check."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.models import InboundMessage


def count(db) -> int:
    return db.scalar(select(func.count()).select_from(InboundMessage))


def test_chat_page_is_served_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "有求必应" in page and "/api/messages" in page
    assert 'name="viewport"' in page


def test_api_answers_in_chinese(client, db):
    response = client.post("/api/messages", json={"user": "u1", "text": "你好"})
    assert response.status_code == 200
    body = response.get_json()
    assert "有求必应" in body["reply"]
    assert "\\u" not in response.get_data(as_text=True)  # not ASCII-escaped
    assert count(db) == 1


def test_api_retry_with_the_same_id_is_processed_once(client, db):
    first = client.post("/api/messages", json={"user": "u1", "text": "谢谢", "id": "m-1"}).get_json()
    second = client.post("/api/messages", json={"user": "u1", "text": "谢谢", "id": "m-1"}).get_json()
    assert first == second
    assert count(db) == 1


@pytest.mark.parametrize("payload,status", [
    ({"text": "你好"}, 400),
    ({"user": "", "text": "你好"}, 400),
    ({"user": "u1"}, 400),
    ({"user": "u1", "text": 5}, 400),
    ({"user": "x" * 200, "text": "你好"}, 400),
    ({"user": "u1", "text": "长" * 6000}, 400),
    (["not", "an", "object"], 400),
])
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
    body = client.post("/api/messages", json={"user": "u9", "text": text}).get_json()
    assert "有求必应" in body["reply"]
