"""企业微信 智能机器人 (API mode) callback `/wecom/bot`: officials @ the bot in their groups, or chat with it.

WeCom posts JSON `{"encrypt": …}`, AES-encrypted as its other callbacks are but with an empty
receive id (an enterprise's own bot names no corp), signed with the bot's Token in
`msg_signature` over token, timestamp, nonce and the ciphertext. The door is the other channels':
the signature first (nothing is decrypted before it holds), then the timestamp, then the message is
stored before it is handled and handled once per `msgid` (a retry is answered from the stored
reply), under the per-user rate limit.

Answers are passive and encrypted the same way, within WeCom's few seconds: a finished `stream`
for text, a `template_card` for a card, `update_template_card` for a tapped card (same task_id),
`text` for the welcome on entering a 1:1 chat. Work that takes longer goes to the job queue and is
posted through the message's `response_url` (tickets/groups.py). A card is sent on its own rather
than as `stream_with_template_card`, which clients have been reported to show without its buttons.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from wechatpy.enterprise.crypto import PrpCrypto

from bot.channels import platform
from bot.state import appstate
from core.errors import RequestRejected
from handlers.messages import IncomingMessage, Reply

bp = Blueprint("wecom_bot", __name__)
RECEIVE_ID = ""  # 企业内部智能机器人: the receive id is empty
JSON_CONTENT_TYPES = ("application/json", "text/json", "text/plain", "")
MAX_ID = 128  # msgid, chatid, userid: longer than any the platform issues
MAX_STREAM_BYTES = 20000  # a stream's content is at most 20480 bytes
# "@智能助手 签收 …": the bot's own name (and anyone else's) mentioned before the words.
_MENTIONS = re.compile(r"^(?:\s*@[^\s\u2005\u00a0]+[\s\u2005\u00a0]*)+")


def _config():
    cfg = current_app.config
    if not cfg.get("WECOM_BOT_TOKEN"):
        raise RequestRejected(404, "未配置企业微信智能机器人")
    return cfg


@bp.get("/wecom/bot")
def verify():
    cfg = _config()
    msg_signature, timestamp, nonce, echostr = platform.require_params(
        request, "msg_signature", "timestamp", "nonce", "echostr"
    )
    platform.require_signature(msg_signature, cfg["WECOM_BOT_TOKEN"], timestamp, nonce, echostr)
    plain = platform.decrypt(PrpCrypto, appstate().wecom_bot_key, echostr, RECEIVE_ID)
    return Response(plain, mimetype="text/plain")


@bp.post("/wecom/bot")
def receive():
    cfg = _config()
    msg_signature, timestamp, nonce = platform.require_params(request, "msg_signature", "timestamp", "nonce")
    encrypted = _envelope()
    # The signature covers the timestamp and the ciphertext: checked before anything else is believed.
    platform.require_signature(msg_signature, cfg["WECOM_BOT_TOKEN"], timestamp, nonce, encrypted)
    platform.require_fresh(timestamp, cfg["MAX_CLOCK_SKEW"])
    body = platform.decrypt(PrpCrypto, appstate().wecom_bot_key, encrypted, RECEIVE_ID)
    payload = _parse(body)
    if payload["msgtype"] == "stream":
        # A refresh of a stream: every stream this bot starts is finished in its first answer, so
        # there is nothing more to add; say it is finished (nothing stored, nothing handled).
        stream = payload.get("stream") if isinstance(payload.get("stream"), dict) else {}
        return _answer(
            {
                "msgtype": "stream",
                "stream": {"id": str(stream.get("id") or "")[:MAX_ID], "finish": True, "content": ""},
            },
            nonce,
        )
    message = to_incoming(payload, body)
    reply = platform.receive(message, inbox=appstate().bot_inbox)
    return _answer(render(payload, message, reply), nonce)


def _envelope() -> str:
    if (request.mimetype or "").lower() not in JSON_CONTENT_TYPES:
        raise RequestRejected(415, "请以 application/json 提交")
    try:
        doc = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, UnicodeDecodeError):
        raise RequestRejected(400, "请求体不是 JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("encrypt"), str) or not doc["encrypt"].strip():
        raise RequestRejected(400, "请求体缺少 encrypt")
    return doc["encrypt"]


def _object(value: Any) -> dict:
    """A JSON object field, or an empty one: whatever the sender put there, nothing else is read."""
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int | None = None) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:limit] if limit else value


def _parse(body: str) -> dict:
    """The decrypted callback: a JSON object with the fields every message and event carries."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise RequestRejected(400, "消息不是 JSON") from None
    if not isinstance(payload, dict):
        raise RequestRejected(400, "消息不是 JSON 对象")
    sender = _object(payload.get("from"))
    msgtype, msgid, user = payload.get("msgtype"), payload.get("msgid"), sender.get("userid")
    if not isinstance(msgtype, str) or not msgtype or len(msgtype) > 32:
        raise RequestRejected(400, "消息缺少 msgtype")
    if msgtype == "stream":
        return payload
    for name, value in (("msgid", msgid), ("from.userid", user)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
            raise RequestRejected(400, f"消息缺少 {name} 或过长")
    chat = payload.get("chatid")
    if payload.get("chattype") == "group" and (not isinstance(chat, str) or not chat or len(chat) > MAX_ID):
        raise RequestRejected(400, "群消息缺少 chatid")
    return payload


def _items_text(items: Any) -> str:
    """The words of a mixed message (text and pictures): its text items, in order."""
    if not isinstance(items, list):
        return ""
    parts = []
    for item in items:
        if isinstance(item, dict) and item.get("msgtype") == "text" and isinstance(item.get("text"), dict):
            parts.append(_text(item["text"].get("content")) or "")
    return " ".join(p for p in parts if p)


def _content(payload: dict, kind: str) -> str | None:
    """The text of a message part (the message itself, or what it quotes)."""
    if kind == "text" and isinstance(payload.get("text"), dict):
        return _text(payload["text"].get("content"))
    if kind == "mixed" and isinstance(payload.get("mixed"), dict):
        return _items_text(payload["mixed"].get("msg_item"))
    if kind == "voice" and isinstance(payload.get("voice"), dict):
        return _text(payload["voice"].get("content"))  # what WeCom recognised
    return None


def strip_mentions(text: str) -> str:
    return _MENTIONS.sub("", text or "").strip()


def to_incoming(payload: dict, raw: str) -> IncomingMessage:
    msgtype = payload["msgtype"]
    group = payload.get("chattype") == "group"
    chat = payload["chatid"] if group else None
    url = _text(payload.get("response_url"))
    url = url if url and len(url) <= 600 and url.startswith(("https://", "http://")) else None
    stamp = payload.get("create_time")
    created = stamp if isinstance(stamp, int) and 0 < stamp < 10**10 else int(time.time())
    fields: dict[str, Any] = {
        "channel": "wecom_bot",
        "user_id": payload["from"]["userid"],
        "created_at": datetime.fromtimestamp(created, UTC),
        "message_id": payload["msgid"],
        "raw": raw,
        "chat_id": chat,
        "reply_token": url,
    }
    if msgtype == "event":
        event = _object(payload.get("event"))
        name = _text(event.get("eventtype"), 64) or "unknown"
        detail = _object(event.get(name)) or event  # some senders flatten it
        return IncomingMessage(
            type="event", event=name.lower(), event_key=_text(detail.get("event_key"), 1024), **fields
        )
    if msgtype in ("text", "mixed", "voice"):
        quote = payload.get("quote") if isinstance(payload.get("quote"), dict) else None
        quoted = _content(quote, str(quote.get("msgtype"))) if quote else None
        text = strip_mentions(_content(payload, msgtype) or "")
        return IncomingMessage(type="text", text=text, quoted=quoted, **fields)
    return IncomingMessage(type=msgtype.lower(), **fields)  # image, file, video …: answered with a note


def render(payload: dict, message: IncomingMessage, reply: Reply) -> dict | None:
    """The passive answer for WeCom (before encryption); None for an empty one."""
    card = reply.data.get("card")
    if message.type == "event":
        if message.event == "template_card_event":
            event = _object(payload.get("event"))
            detail = _object(event.get("template_card_event")) or event
            task = _text(detail.get("task_id"), MAX_ID)
            if not card or not task:
                return None
            answer: dict = {"response_type": "update_template_card", "template_card": {**card, "task_id": task}}
            if reply.data.get("card_for") == "tapper":
                answer["userids"] = [message.user_id]
            return answer
        if message.event == "enter_chat" and reply.text:
            return {"msgtype": "text", "text": {"content": reply.text}}
        return None
    if card:
        return {"msgtype": "template_card", "template_card": card}
    if reply.is_empty:
        return None
    content = reply.text.encode("utf-8")[:MAX_STREAM_BYTES].decode("utf-8", "ignore")
    # The stream's id is the message's own: a retried callback gets the same answer.
    stream_id = hashlib.sha1(message.dedupe_key.encode()).hexdigest()[:32]
    return {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": content}}


def _answer(plain: dict | None, nonce: str) -> Response:
    if plain is None:
        return Response("", status=200)  # an empty answer: nothing is shown, and WeCom does not retry
    cfg, state = current_app.config, appstate()
    text = json.dumps(plain, ensure_ascii=False)
    encrypt = PrpCrypto(state.wecom_bot_key).encrypt(text, RECEIVE_ID).decode("ascii")
    timestamp = str(int(time.time()))
    signature = platform.sha1_signature(cfg["WECOM_BOT_TOKEN"], timestamp, nonce, encrypt)
    return Response(
        json.dumps({"encrypt": encrypt, "msgsignature": signature, "timestamp": timestamp, "nonce": nonce}),
        mimetype="application/json",
    )
