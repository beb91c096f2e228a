"""Test helpers that act as the WeChat and WeCom servers do: build, sign and encrypt real callbacks."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.channels.platform import sha1_signature

_ids = itertools.count(7_000_000_000_000_000_001)


def fresh_rate_window(needed: float = 15.0) -> None:
    """Wait, if need be, until the rate limiter's current window has `needed` seconds left.

    bot/ratelimit.py counts per clock minute (fixed windows, by design: one INCR per hit). A test that
    makes N hits and expects the next one refused must make them all in one window; started in a
    minute's last seconds, the hits straddle two windows and none is refused (a CI run failed so)."""
    from bot.ratelimit import WINDOW

    left = WINDOW - time.time() % WINDOW
    if left < needed:
        time.sleep(left + 0.05)


def cdata(value: Any) -> str:
    """A CDATA section as the platforms write one: an inner `]]>` is split across two sections."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(
    msg_type: str = "text",
    *,
    user: str = "oUser0001",
    to: str = "gh_test",
    content: str | None = None,
    msg_id: int | None = None,
    create_time: int | None = None,
    **fields: Any,
) -> str:
    """A callback message as the platform sends it (CDATA text, MsgId for messages, none for events)."""
    create_time = create_time or int(time.time())
    parts = [
        f"<ToUserName><![CDATA[{to}]]></ToUserName>",
        f"<FromUserName><![CDATA[{user}]]></FromUserName>",
        f"<CreateTime>{create_time}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
    ]
    if content is not None:
        parts.append(f"<Content>{cdata(content)}</Content>")
    for name, value in fields.items():
        parts.append(f"<{name}>{cdata(value)}</{name}>")
    if msg_type != "event":
        parts.append(f"<MsgId>{msg_id or next(_ids)}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


class WeChatServer:
    """Plays the 公众号 platform against `/wechat`."""

    def __init__(self, client, token: str, appid: str, aes_key: str):
        self.client, self.token, self.appid = client, token, appid
        self.crypto = WeChatCrypto(token, aes_key, appid)

    def params(self, timestamp: int | None = None, nonce: str = "1320562132") -> dict[str, str]:
        ts = str(timestamp or int(time.time()))
        return {"signature": sha1_signature(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    def post(self, xml: str, *, encrypted: bool = True, params: dict | None = None, content_type: str = "text/xml"):
        params = dict(params or self.params())
        body = xml
        if encrypted:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]
            params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
            body = f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        return self.client.post("/wechat?" + urlencode(params), data=body.encode("utf-8"), content_type=content_type)

    def reply_of(self, response, *, encrypted: bool = True) -> dict[str, Any]:
        """The reply XML as a dict (decrypted when the exchange was encrypted); {} for "success"."""
        body = response.get_data(as_text=True)
        if body in ("success", ""):
            return {}
        if encrypted:
            doc = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(body, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])
        return xmltodict.parse(body)["xml"]

    def say(self, text: str, *, user: str = "oUser0001", encrypted: bool = True) -> str:
        """Send a text message and return the bot's reply text ("" for none)."""
        response = self.post(message_xml("text", user=user, content=text), encrypted=encrypted)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.reply_of(response, encrypted=encrypted).get("Content", "")


class WeComServer:
    """Plays the 企业微信 platform against `/wecom` (always encrypted)."""

    def __init__(self, client, token: str, corp_id: str, aes_key: str):
        self.client, self.token, self.corp_id = client, token, corp_id
        self.crypto = WeComCrypto(token, aes_key, corp_id)

    def post(self, xml: str, *, timestamp: int | None = None, nonce: str = "1372623149"):
        ts = str(timestamp or int(time.time()))
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        )
        query = urlencode({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce})
        return self.client.post("/wecom?" + query, data=body.encode("utf-8"), content_type="text/xml")

    def reply_of(self, response) -> dict[str, Any]:
        body = response.get_data(as_text=True)
        if not body:
            return {}
        doc = xmltodict.parse(body)["xml"]
        return xmltodict.parse(self.crypto.decrypt_message(body, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"]))[
            "xml"
        ]

    def say(self, text: str, *, user: str = "official01") -> str:
        xml = message_xml("text", user=user, to=self.corp_id, content=text, AgentID="1000002")
        response = self.post(xml)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.reply_of(response).get("Content", "")

    def tap(
        self,
        key: str,
        *,
        user: str = "official01",
        task_id: str = "yq-n1",
        response_code: str = "RC1",
        create_time: int | None = None,
    ) -> str:
        """A tap on a button of a card the app sent (template_card_event); the reply text."""
        xml = message_xml(
            "event",
            user=user,
            to=self.corp_id,
            create_time=create_time,
            Event="template_card_event",
            EventKey=key,
            TaskId=task_id,
            CardType="button_interaction",
            ResponseCode=response_code,
            AgentID="1000002",
        )
        response = self.post(xml)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.reply_of(response).get("Content", "")


_bot_ids = itertools.count(1)


def wecom_signature(*parts: str) -> str:
    """msg_signature as WeCom computes it: SHA-1 of the sorted parts (token, timestamp, nonce, ciphertext)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


class WeComBotServer:
    """Plays the 企业微信 智能机器人 (API mode) against `/wecom/bot`: JSON callbacks encrypted with
    wechatpy's crypto and an empty receive id, signed with the bot's token; answers decrypted and
    their signature checked as WeCom would. `response_base` is where response_urls point (the fake
    platform)."""

    def __init__(self, client, token: str, aes_key: str, response_base: str = "https://qyapi.weixin.qq.com"):
        self.client, self.token, self.response_base = client, token, response_base
        self.key = base64.b64decode(aes_key + "=")

    def encrypt(self, payload: dict) -> str:
        return WeComPrpCrypto(self.key).encrypt(json.dumps(payload, ensure_ascii=False), "").decode("ascii")

    def post(
        self, payload: dict, *, timestamp: int | None = None, nonce: str = "1372623149", signature: str | None = None
    ):
        ts = str(timestamp or int(time.time()))
        encrypted = self.encrypt(payload)
        query = {
            "msg_signature": signature or wecom_signature(self.token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        return self.client.post(
            "/wecom/bot?" + urlencode(query), data=json.dumps({"encrypt": encrypted}), content_type="application/json"
        )

    def answer_of(self, response) -> dict[str, Any]:
        """The decrypted answer ({} for an empty one), after checking its signature."""
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data(as_text=True)
        if not body:
            return {}
        doc = json.loads(body)
        assert doc["msgsignature"] == wecom_signature(self.token, doc["timestamp"], doc["nonce"], doc["encrypt"])
        return json.loads(WeComPrpCrypto(self.key).decrypt(doc["encrypt"], ""))

    def response_url(self, code: str) -> str:
        return f"{self.response_base.rstrip('/')}/cgi-bin/aibot/response?response_code={code}"

    def message(
        self,
        text: str,
        *,
        user: str = "official01",
        chat: str | None = None,
        msgid: str | None = None,
        quote: str | None = None,
        msgtype: str = "text",
        code: str | None = None,
    ) -> dict[str, Any]:
        n = next(_bot_ids)
        payload: dict[str, Any] = {
            "msgid": msgid or f"BOTMSG{n:08d}",
            "aibotid": "AIBOTTEST",
            "chattype": "group" if chat else "single",
            "from": {"userid": user},
            "response_url": self.response_url(code or f"BOTRC{n}"),
            "msgtype": msgtype,
        }
        if chat:
            payload["chatid"] = chat
        if msgtype == "text":
            payload["text"] = {"content": (f"@办理助手 {text}" if chat else text)}
        elif msgtype == "mixed":
            payload["mixed"] = {
                "msg_item": [
                    {"msgtype": "text", "text": {"content": f"@办理助手 {text}"}},
                    {"msgtype": "image", "image": {"url": "https://example.invalid/1.png"}},
                ]
            }
        elif msgtype == "voice":
            payload["voice"] = {"content": text}
        elif msgtype == "image":
            payload["image"] = {"url": "https://example.invalid/1.png"}
        if quote is not None:
            payload["quote"] = {"msgtype": "text", "text": {"content": quote}}
        return payload

    def event(
        self,
        name: str,
        *,
        user: str = "official01",
        chat: str | None = None,
        msgid: str | None = None,
        code: str | None = None,
        **detail: Any,
    ) -> dict[str, Any]:
        n = next(_bot_ids)
        payload: dict[str, Any] = {
            "msgid": msgid or f"BOTEVT{n:08d}",
            "create_time": int(time.time()),
            "aibotid": "AIBOTTEST",
            "chattype": "group" if chat else "single",
            "from": {"userid": user},
            "response_url": self.response_url(code or f"BOTRC{n}"),
            "msgtype": "event",
            "event": {"eventtype": name, name: detail},
        }
        if chat:
            payload["chatid"] = chat
        return payload

    def say(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.answer_of(self.post(self.message(text, **kwargs)))

    def tap(self, key: str, task_id: str, **kwargs: Any) -> dict[str, Any]:
        return self.answer_of(
            self.post(
                self.event(
                    "template_card_event", card_type="button_interaction", event_key=key, task_id=task_id, **kwargs
                )
            )
        )


def web_identity(app, user_id: str) -> str:
    """The identity the server issues for `user_id` (signed with the app's key), as a browser that
    was given it earlier would send it back."""
    from bot.channels.web import sign_identity

    with app.app_context():
        return sign_identity(user_id)


def post_message(client, text: str, user: str | None = None, **fields: Any):
    """POST /api/messages as the web chat does; `user` names an identity the server issued."""
    body = {"text": text, **fields}
    if user is not None:
        body["user"] = web_identity(client.application, user)
    return client.post("/api/messages", json=body)


def web_say(client, text: str, user: str = "ent-1") -> dict[str, Any]:
    """The JSON reply to one web chat message from `user` (an identity the server issued)."""
    response = post_message(client, text, user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()
