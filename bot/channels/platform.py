"""What the 公众号 and 企业微信 callbacks share: signatures, replay window, safe XML, AES envelopes."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
import struct
import time
from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from flask import Request, current_app
from wechatpy.exceptions import WeChatException

from bot.ratelimit import seconds_to_next_window
from bot.state import appstate
from core.errors import RequestRejected
from handlers.messages import IncomingMessage, Reply

# Characters XML 1.0 forbids even inside CDATA; user text must not carry them into a reply.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
XML_CONTENT_TYPES = ("text/xml", "application/xml", "")
MAX_USER_ID = 128  # inbound_messages.user_id
# A message over the per-user limit is neither stored nor handled; the sender must send it again.
TOO_FAST = "您发送消息过于频繁，这条消息没有收到。请在 {seconds} 秒后重新发送。"


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def require_signature(given: str | None, *parts: str) -> None:
    """Constant-time comparison; a missing or wrong signature is a 403 and nothing is processed."""
    if not given or not all(isinstance(p, str) for p in parts):
        raise RequestRejected(403, "缺少签名")
    if not given.isascii() or not hmac.compare_digest(sha1_signature(*parts).encode(), given.strip().lower().encode()):
        raise RequestRejected(403, "签名不正确")


def require_params(request: Request, *names: str) -> list[str]:
    values = [request.args.get(n) for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise RequestRejected(403 if any("signature" in n for n in missing) else 400, "缺少参数：" + "、".join(missing))
    return values  # type: ignore[return-value]


def require_fresh(timestamp: str, max_skew: int) -> None:
    """Refuse a replayed callback: its timestamp must be within max_skew seconds of now. Called after
    the signature is verified (which covers the timestamp), so an unsigned request learns nothing.
    Seconds since 1970 in ASCII digits, at most 12 of them: "²" or "１" pass isdigit() but not int(),
    and forty nines do not fit a float."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise RequestRejected(400, "timestamp 应为秒数")
    if max_skew and abs(time.time() - int(timestamp)) > max_skew:
        raise RequestRejected(403, "timestamp 与当前时间相差过大（疑似重放）")


def require_xml_body(request: Request) -> str:
    mimetype = (request.mimetype or "").lower()
    if mimetype not in XML_CONTENT_TYPES:
        raise RequestRejected(415, "请以 text/xml 提交")
    body = request.get_data(cache=True)  # MAX_CONTENT_LENGTH has already refused oversize bodies
    if not body:
        raise RequestRejected(400, "请求体为空")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRejected(400, "请求体不是 UTF-8 编码") from None


def parse_xml(text: str, need: tuple[str, ...] = ("MsgType",)) -> dict[str, Any]:
    """Parse a callback body: `<xml>` root, no DTD entities (xmltodict refuses their declaration)."""
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError):
        raise RequestRejected(400, "XML 格式不正确") from None
    if not isinstance(doc, dict) or list(doc) != ["xml"] or not isinstance(doc["xml"], dict):
        raise RequestRejected(400, "XML 根元素应为 <xml>")
    fields = doc["xml"]
    for name in need:
        if not isinstance(fields.get(name), str) or not fields[name].strip():
            raise RequestRejected(400, f"XML 缺少 {name}")
    return fields


def decrypt(crypto_class, key: bytes, encrypted: str, expected_id: str) -> str:
    """AES-decrypt a callback payload; every failure (wrong key, wrong AppID/CorpID) is a 400."""
    try:
        return crypto_class(key).decrypt(encrypted, expected_id)
    except WeChatException:
        raise RequestRejected(400, "消息不属于本 AppID/CorpID") from None
    # A wrong key decrypts to garbage: padding, length or UTF-8 errors, whichever comes first.
    except (ValueError, UnicodeDecodeError, struct.error, binascii.Error, IndexError, TypeError):
        raise RequestRejected(400, "消息无法解密") from None


def xml_safe(text: str) -> str:
    """Text that can sit in a CDATA section: no XML-invalid characters, no early `]]>`."""
    return _XML_INVALID.sub("", text or "").replace("]]>", "]]]]><![CDATA[>")


# The fields of photo, voice, video, file and location messages the conversation uses (as evidence).
MEDIA_FIELDS = {
    "media_id": "MediaId",
    "format": "Format",
    "thumb_media_id": "ThumbMediaId",
    "file_name": "FileName",
    "lat": "Location_X",
    "lng": "Location_Y",
    "label": "Label",
    "pic_url": "PicUrl",
}


def to_incoming(channel: str, fields: dict[str, Any], raw: str) -> IncomingMessage:
    """A parsed callback (公众号 or 企业微信, from parse_xml) as the core's plain message."""

    def text_of(name: str) -> str | None:
        value = fields.get(name)
        return value if isinstance(value, str) else None  # an element with children is no text

    if len(fields["FromUserName"]) > MAX_USER_ID or len(fields["MsgType"]) > 32:
        # Longer than any platform id: refused here, before it reaches a column that would fail with
        # the whole message in the error.
        raise RequestRejected(400, "FromUserName 或 MsgType 过长")
    msg_type = fields["MsgType"].strip().lower()
    text = None
    if msg_type == "text":
        text = text_of("Content") or ""
    elif msg_type == "voice":
        text = text_of("Recognition") or None
    stamp = text_of("CreateTime") or ""
    # Seconds since 1970 in at most 10 ASCII digits; anything else (the platforms never send it) is now.
    created = int(stamp) if stamp.isascii() and stamp.isdigit() and len(stamp) <= 10 else int(time.time())
    event = text_of("Event")
    media = {key: value[:256] for key, name in MEDIA_FIELDS.items() if (value := text_of(name))} or None
    return IncomingMessage(
        channel=channel,
        user_id=fields["FromUserName"],
        type=msg_type,
        created_at=datetime.fromtimestamp(created, UTC),
        text=text,
        message_id=text_of("MsgId") or None,
        event=event.lower() if event else None,
        event_key=text_of("EventKey"),
        raw=raw,
        media=media,
    )


def receive(message: IncomingMessage, inbox=None) -> Reply:
    """Hand a message to the inbox (the dialogue's, or `inbox`: the officials' cards and groups),
    unless its sender is over the per-user rate limit (then nothing is stored or processed, and the
    sender is told to slow down)."""
    state = appstate()
    allowed, seen = state.limiter.admit(
        f"{message.channel}:{message.user_id}", current_app.config["RATE_LIMIT_USER"], message.dedupe_key
    )
    if not allowed:
        # Nothing was stored: say so, and when a resend will be accepted.
        return Reply(TOO_FAST.format(seconds=seconds_to_next_window()))
    return (inbox or state.inbox).receive(message, seen=seen)
