"""企业微信 self-built app callback `/wecom`: officials' messages, always encrypted."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace

from flask import Blueprint, Response, current_app, request
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.replies import TextReply

from bot.channels import platform
from bot.state import appstate
from core.errors import RequestRejected

log = logging.getLogger(__name__)
bp = Blueprint("wecom", __name__)


def _config():
    cfg = current_app.config
    if not cfg.get("WECOM_TOKEN"):
        raise RequestRejected(404, "未配置企业微信回调")
    return cfg


@bp.get("/wecom")
def verify():
    cfg = _config()
    msg_signature, timestamp, nonce, echostr = platform.require_params(
        request, "msg_signature", "timestamp", "nonce", "echostr"
    )
    platform.require_signature(msg_signature, cfg["WECOM_TOKEN"], timestamp, nonce, echostr)
    plain = platform.decrypt(PrpCrypto, appstate().wecom_key, echostr, cfg["WECOM_CORP_ID"])
    return Response(plain, mimetype="text/plain")


@bp.post("/wecom")
def receive():
    cfg = _config()
    msg_signature, timestamp, nonce = platform.require_params(request, "msg_signature", "timestamp", "nonce")
    envelope = platform.parse_xml(platform.require_xml_body(request), need=("Encrypt",))
    # The signature covers the timestamp: checked first, so an unsigned request learns nothing more.
    platform.require_signature(msg_signature, cfg["WECOM_TOKEN"], timestamp, nonce, envelope["Encrypt"])
    platform.require_fresh(timestamp, cfg["MAX_CLOCK_SKEW"])
    body = platform.decrypt(PrpCrypto, appstate().wecom_key, envelope["Encrypt"], cfg["WECOM_CORP_ID"])
    fields = platform.parse_xml(body, need=("MsgType", "FromUserName", "ToUserName"))
    message = platform.to_incoming("wecom", fields, body)
    if message.event == "template_card_event":
        reply = platform.receive(card_tap(message, fields), inbox=appstate().bot_inbox)
    else:
        reply = platform.receive(message)
    if reply.is_empty:
        return Response("", status=200)
    xml = TextReply(
        source=platform.xml_safe(fields["ToUserName"]),
        target=platform.xml_safe(fields["FromUserName"]),
        content=platform.xml_safe(reply.text),
        time=int(time.time()),
    ).render()
    return Response(appstate().wecom_crypto.encrypt_message(xml, nonce), mimetype="application/xml")


def card_tap(message, fields):
    """A tap on a button of a ticket card the app sent (handlers/groups.py handles it). Its identity
    is who tapped which button of which card when, so a retried callback is one tap and two are two;
    the ResponseCode updates the tapped card once."""

    def text_of(name: str) -> str:
        value = fields.get(name)
        return value[:200] if isinstance(value, str) else ""

    identity = f"card:{message.user_id}:{text_of('TaskId')}:{text_of('EventKey')}:{int(message.created_at.timestamp())}"
    if len(identity) > 180:
        identity = "card:" + hashlib.sha1(identity.encode()).hexdigest()
    return replace(
        message, message_id=identity, event_key=text_of("EventKey") or None, reply_token=text_of("ResponseCode") or None
    )
