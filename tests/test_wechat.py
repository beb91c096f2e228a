"""The 公众号 callback: verification, the three modes, message types and every bad input."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.channels.platform import sha1_signature
from handlers.models import InboundMessage
from tests.conftest import WECHAT
from tests.platforms import message_xml


def stored(db) -> int:
    return db.scalar(select(func.count()).select_from(InboundMessage))


def test_url_verification_echoes_echostr(client):
    ts, nonce = "1409659589", "263014780"
    query = {
        "signature": sha1_signature(WECHAT["token"], ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "5837397520288851234",
    }
    response = client.get("/wechat?" + urlencode(query))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "5837397520288851234"


def test_url_verification_with_wrong_signature_is_403(client):
    query = {"signature": "0" * 40, "timestamp": "1409659589", "nonce": "1", "echostr": "x"}
    assert client.get("/wechat?" + urlencode(query)).status_code == 403


def test_safe_mode_round_trip(wechat, db):
    response = wechat.post(message_xml("text", user="oSafe", content="你好"), encrypted=True)
    assert response.status_code == 200
    reply = wechat.reply_of(response, encrypted=True)
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == "oSafe"
    assert reply["FromUserName"] == "gh_test"
    assert "有求必应" in reply["Content"]
    assert stored(db) == 1


@pytest.fixture
def plain(config):
    """A 公众号 in plaintext mode: no EncodingAESKey configured."""
    from bot.app import create_app
    from tests.platforms import WeChatServer

    app = create_app({**config, "WECHAT_AES_KEY": None, "WECHAT_APPID": None})
    yield WeChatServer(app.test_client(), **WECHAT)
    app.extensions["appealbot"].engine.dispose()


def plain_stored(server) -> int:
    with server.client.application.extensions["appealbot"].Session() as s:
        return stored(s)


def test_plaintext_mode(plain):
    response = plain.post(message_xml("text", user="oPlain", content="谢谢"), encrypted=False)
    reply = plain.reply_of(response, encrypted=False)
    assert reply["ToUserName"] == "oPlain"
    assert reply["Content"].startswith("不客气")


def test_with_an_aes_key_a_plaintext_post_signed_with_the_token_alone_is_refused(wechat, db):
    # The audit: an observed URL's signature, timestamp and nonce (token only) let a plaintext body
    # pass as any user for 300 s. With a key configured only an encrypted, msg_signature-signed
    # message is read.
    response = wechat.post(message_xml("text", user="oSomeoneElse", content="我的诉求"), encrypted=False)
    assert response.status_code == 403 and "加密" in response.get_data(as_text=True)
    params = {**wechat.params(), "encrypt_type": "aes"}  # claims AES but carries no msg_signature
    response = post_raw(wechat.client, message_xml(content="你好").encode(), params)
    assert response.status_code == 403
    params = {**wechat.params(), "encrypt_type": "raw"}
    assert post_raw(wechat.client, message_xml(content="你好").encode(), params).status_code == 403
    assert stored(db) == 0


def test_compatible_mode_carries_both_forms(wechat):
    # Compatible mode sends the plaintext fields and Encrypt together; the encrypted copy is used.
    params = wechat.params()
    xml = message_xml("text", user="oCompat", content="你好")
    import xmltodict

    env = xmltodict.parse(wechat.crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]
    body = xml.replace("</xml>", f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>")
    params.update(encrypt_type="aes", msg_signature=env["MsgSignature"])
    response = wechat.client.post("/wechat?" + urlencode(params), data=body.encode(), content_type="text/xml")
    assert response.status_code == 200
    assert wechat.reply_of(response)["ToUserName"] == "oCompat"


def test_subscribe_event_gets_welcome(wechat):
    response = wechat.post(message_xml("event", user="oNew", Event="subscribe"))
    assert "政策查询" in wechat.reply_of(response)["Content"]


def test_menu_click_maps_to_the_same_intent_as_typed_words(wechat):
    clicked = wechat.reply_of(wechat.post(message_xml("event", user="oMenu", Event="CLICK", EventKey="APPEAL")))
    typed = wechat.say("我要反映问题", user="oMenu2")
    assert clicked["Content"] == typed


def test_voice_uses_recognition_text(wechat):
    response = wechat.post(message_xml("voice", user="oVoice", MediaId="m1", Format="amr", Recognition="谢谢"))
    assert wechat.reply_of(response)["Content"].startswith("不客气")


def test_voice_without_recognition_asks_for_text(wechat):
    response = wechat.post(message_xml("voice", user="oVoice", MediaId="m1", Format="amr"))
    assert "文字" in wechat.reply_of(response)["Content"]


@pytest.mark.parametrize(
    "msg_type,fields",
    [
        ("link", {"Title": "t", "Description": "d", "Url": "http://example.invalid"}),
        ("image", {"PicUrl": "http://example.invalid/a.jpg"}),  # no MediaId: nothing to keep
    ],
)
def test_unsupported_media_explains_what_is_supported(wechat, msg_type, fields):
    response = wechat.post(message_xml(msg_type, **fields))
    assert "文字和语音" in wechat.reply_of(response)["Content"]


@pytest.mark.parametrize(
    "msg_type,fields,said",
    [
        ("image", {"PicUrl": "http://example.invalid/a.jpg", "MediaId": "m"}, "已收到图片"),
        ("location", {"Location_X": "43.9", "Location_Y": "81.3", "Scale": "15", "Label": "伊宁市"}, "已记录位置"),
    ],
)
def test_photos_and_locations_are_kept_for_the_appeal(wechat, msg_type, fields, said):
    # handlers/media.py: evidence and where (tests/test_outreach.py follows them to the ticket)
    response = wechat.post(message_xml(msg_type, **fields))
    assert said in wechat.reply_of(response)["Content"]


def test_unknown_event_answers_success(wechat):
    response = wechat.post(message_xml("event", Event="VIEW", EventKey="https://example.invalid"))
    assert response.get_data(as_text=True) == "success"


def test_user_text_cannot_break_or_inject_into_the_reply_xml(wechat, monkeypatch):
    from handlers.messages import Reply
    from handlers.registry import INTENTS

    # A handler that quotes the user back, as ticket confirmations do.
    monkeypatch.setitem(INTENTS, "appeal", lambda message, ctx: Reply("您说：" + message.text + "\x01"))
    evil = "]]></Content><MsgType>news</MsgType><Content><![CDATA[x"
    response = wechat.post(message_xml("text", user="oEvil", content=evil))
    reply = wechat.reply_of(response)
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "您说：" + evil


# --- bad input: status code, and nothing stored or processed -------------------------------------


def post_raw(client, body, params, content_type="text/xml"):
    return client.post("/wechat?" + urlencode(params), data=body, content_type=content_type)


def test_wrong_signature_is_403_and_stores_nothing(wechat, db):
    params = wechat.params()
    params["signature"] = "f" * 40
    assert post_raw(wechat.client, message_xml(content="你好").encode(), params).status_code == 403
    assert stored(db) == 0


def test_missing_signature_is_403(wechat, db):
    params = wechat.params()
    del params["signature"]
    assert post_raw(wechat.client, message_xml(content="你好").encode(), params).status_code == 403
    assert stored(db) == 0


def test_wrong_msg_signature_is_403(wechat, db):
    params = wechat.params()
    import xmltodict

    env = xmltodict.parse(
        wechat.crypto.encrypt_message(message_xml(content="hi"), params["nonce"], params["timestamp"])
    )["xml"]
    params.update(encrypt_type="aes", msg_signature="0" * 40)
    body = f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>".encode()
    assert post_raw(wechat.client, body, params).status_code == 403
    assert stored(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>unclosed",
        b"not xml at all",
        b"<root><MsgType>text</MsgType></root>",
        b"<xml><ToUserName><![CDATA[a]]></ToUserName><FromUserName><![CDATA[b]]></FromUserName></xml>",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b"<xml><MsgType>text</MsgType><Content>&b;</Content><FromUserName>u</FromUserName><ToUserName>t</ToUserName></xml>",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><MsgType>text</MsgType><Content>&xxe;</Content><FromUserName>u</FromUserName><ToUserName>t</ToUserName></xml>",
        "<xml><MsgType>text</MsgType>\xff</xml>".encode("latin-1"),
    ],
)
def test_malformed_bodies_are_400_and_store_nothing(plain, body):
    response = post_raw(plain.client, body, plain.params())
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert plain_stored(plain) == 0


def test_wrong_content_type_is_415(plain):
    response = post_raw(
        plain.client, message_xml(content="你好").encode(), plain.params(), content_type="application/json"
    )
    assert response.status_code == 415
    assert plain_stored(plain) == 0


def test_body_over_64_kib_is_413(wechat, db):
    body = message_xml(content="长" * 30000).encode()
    assert len(body) > 64 * 1024
    assert wechat.post(message_xml(content="长" * 30000)).status_code == 413
    assert post_raw(wechat.client, body, wechat.params()).status_code == 413
    assert stored(db) == 0


def test_undecryptable_ciphertext_is_400(wechat, db):
    params = wechat.params()
    encrypt = "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0IGF0IGFsbCEhIQ=="
    params.update(
        encrypt_type="aes", msg_signature=sha1_signature(WECHAT["token"], params["timestamp"], params["nonce"], encrypt)
    )
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    assert post_raw(wechat.client, body, params).status_code == 400
    assert stored(db) == 0


def test_wrong_aes_key_is_400_not_500(wechat, db):
    from wechatpy.crypto import WeChatCrypto

    other = WeChatCrypto(WECHAT["token"], "Z" * 43, WECHAT["appid"])  # a different key, same token
    params = wechat.params()
    import xmltodict

    env = xmltodict.parse(other.encrypt_message(message_xml(content="你好"), params["nonce"], params["timestamp"]))[
        "xml"
    ]
    params.update(encrypt_type="aes", msg_signature=env["MsgSignature"])
    body = f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>".encode()
    assert post_raw(wechat.client, body, params).status_code == 400
    assert stored(db) == 0


def test_message_for_another_appid_is_400(wechat, db):
    from wechatpy.crypto import WeChatCrypto

    foreign = WeChatCrypto(WECHAT["token"], WECHAT["aes_key"], "wxFFFFFFFFFFFFFFFF")
    params = wechat.params()
    import xmltodict

    env = xmltodict.parse(foreign.encrypt_message(message_xml(content="你好"), params["nonce"], params["timestamp"]))[
        "xml"
    ]
    params.update(encrypt_type="aes", msg_signature=env["MsgSignature"])
    body = f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>".encode()
    assert post_raw(wechat.client, body, params).status_code == 400
    assert stored(db) == 0


def test_stale_timestamp_is_refused_as_replay(wechat, db):
    params = wechat.params(timestamp=int(time.time()) - 3600)
    response = wechat.post(message_xml(content="你好"), params=params)
    assert response.status_code == 403
    assert stored(db) == 0


def test_clock_skew_check_can_be_turned_off(config):
    from bot.app import create_app
    from tests.platforms import WeChatServer

    app = create_app({**config, "MAX_CLOCK_SKEW": 0})
    server = WeChatServer(app.test_client(), **WECHAT)
    response = server.post(
        message_xml(content="你好", create_time=1409659813), params=server.params(timestamp=1409659813)
    )
    assert response.status_code == 200
    app.extensions["appealbot"].engine.dispose()


def test_unconfigured_channel_is_404(config):
    from bot.app import create_app

    app = create_app({**config, "WECHAT_TOKEN": None, "WECHAT_AES_KEY": None})
    assert app.test_client().get("/wechat?signature=a&timestamp=1&nonce=1&echostr=1").status_code == 404
    app.extensions["appealbot"].engine.dispose()


@pytest.mark.parametrize("create_time", ["99999999999999999999", "１７６３８０００００", "²", "-5", ""])
def test_a_nonsense_create_time_is_taken_as_now(wechat, db, create_time):
    xml = message_xml("text", user="oTime", content="你好").replace(
        f"<CreateTime>{int(time.time())}</CreateTime>", f"<CreateTime>{create_time}</CreateTime>"
    )
    assert create_time in xml
    response = wechat.post(xml)
    assert response.status_code == 200 and "有求必应" in wechat.reply_of(response)["Content"]
    assert db.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.user_id == "oTime")) == 1


def test_a_qr_code_subscription_gets_the_welcome_too(wechat):
    response = wechat.post(message_xml("event", user="oScan", Event="subscribe", EventKey="qrscene_123"))
    assert "有求必应" in wechat.reply_of(response)["Content"]


def test_an_over_long_from_user_name_is_refused_at_the_door(wechat, db, caplog):
    # The audit: a FromUserName longer than the column failed in the database, and the error logged
    # the whole message with it.
    response = wechat.post(message_xml("text", user="o" * 200, content="我的电话 13899912345"))
    assert response.status_code == 400
    assert stored(db) == 0
    assert "13899912345" not in caplog.text
