"""The 企业微信 callback, checked against the sample published in WeCom's developer documentation."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from handlers.models import InboundMessage
from tests.platforms import message_xml

# WeCom's documentation: "回调配置" sample (token QDG6eK, corp id wx5823bf96d3bd56c7).
DOC_VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
DOC_MESSAGE_QUERY = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}
DOC_MESSAGE_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUk"
    "SUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekU"
    "NXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rU"
    "PA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+"
    "qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def stored(db) -> int:
    return db.scalar(select(func.count()).select_from(InboundMessage))


def test_url_verification_with_the_documentation_sample(client):
    response = client.get("/wecom?" + urlencode(DOC_VERIFY))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1616140317555161061"


def test_url_verification_with_a_wrong_signature_is_403(client):
    response = client.get("/wecom?" + urlencode({**DOC_VERIFY, "msg_signature": "0" * 40}))
    assert response.status_code == 403


@pytest.fixture
def no_skew(config):
    from bot.app import create_app

    app = create_app({**config, "MAX_CLOCK_SKEW": 0})  # the documentation sample is from 2014
    yield app
    app.extensions["appealbot"].engine.dispose()


def test_decrypts_the_documentation_sample_message(no_skew):
    client = no_skew.test_client()
    response = client.post("/wecom?" + urlencode(DOC_MESSAGE_QUERY), data=DOC_MESSAGE_BODY, content_type="text/xml")
    assert response.status_code == 200
    with no_skew.extensions["appealbot"].Session() as s:
        row = s.scalars(select(InboundMessage)).one()
    assert (row.channel, row.user_id, row.text, row.msg_type) == ("wecom", "mycreate", "hello", "text")
    assert row.dedupe_key == "wecom:id:4561255354251345929"


def test_the_sample_is_refused_as_a_replay_when_the_clock_check_is_on(client, db):
    response = client.post("/wecom?" + urlencode(DOC_MESSAGE_QUERY), data=DOC_MESSAGE_BODY, content_type="text/xml")
    assert response.status_code == 403
    assert stored(db) == 0


def test_official_message_gets_an_encrypted_passive_reply(wecom, db):
    reply = wecom.say("你好", user="zhangsan")
    assert "有求必应" in reply
    row = db.scalars(select(InboundMessage)).one()
    assert (row.channel, row.user_id) == ("wecom", "zhangsan")


def test_unknown_event_is_an_empty_200(wecom):
    response = wecom.post(message_xml("event", user="zhangsan", to=wecom.corp_id, Event="enter_agent", AgentID="1"))
    assert response.status_code == 200
    assert response.get_data() == b""


def test_wrong_signature_is_403_and_stores_nothing(wecom, db):
    response = wecom.client.post(
        "/wecom?" + urlencode({**DOC_MESSAGE_QUERY, "msg_signature": "1" * 40}),
        data=DOC_MESSAGE_BODY,
        content_type="text/xml",
    )
    assert response.status_code == 403
    assert stored(db) == 0


def test_message_for_another_corp_is_400(wecom, db):
    from wechatpy.enterprise.crypto import WeChatCrypto

    from tests.conftest import WECOM

    wecom.crypto = WeChatCrypto(WECOM["token"], WECOM["aes_key"], "wwOTHERCORP0000001")
    response = wecom.post(message_xml("text", content="hi", to="wwOTHERCORP0000001"))
    assert response.status_code == 400
    assert stored(db) == 0


def test_plaintext_post_without_encrypt_is_400(wecom, db):
    query = urlencode({"msg_signature": "a" * 40, "timestamp": DOC_MESSAGE_QUERY["timestamp"], "nonce": "1"})
    response = wecom.client.post("/wecom?" + query, data=message_xml(content="hi"), content_type="text/xml")
    assert response.status_code in (400, 403)
    assert stored(db) == 0
