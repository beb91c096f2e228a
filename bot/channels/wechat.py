"""公众号 callback `/wechat`: URL verification, plaintext, compatible and safe (AES) mode."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, request
from wechatpy.crypto import PrpCrypto
from wechatpy.replies import TextReply

from bot.channels import platform
from bot.state import appstate
from core.errors import RequestRejected

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)


def _config():
    cfg = current_app.config
    if not cfg.get("WECHAT_TOKEN"):
        raise RequestRejected(404, "未配置公众号回调")
    return cfg


@bp.get("/wechat")
def verify():
    cfg = _config()
    signature, timestamp, nonce, echostr = platform.require_params(
        request, "signature", "timestamp", "nonce", "echostr"
    )
    platform.require_signature(signature, cfg["WECHAT_TOKEN"], timestamp, nonce)
    return Response(echostr, mimetype="text/plain")


@bp.post("/wechat")
def receive():
    cfg = _config()
    signature, timestamp, nonce = platform.require_params(request, "signature", "timestamp", "nonce")
    platform.require_signature(signature, cfg["WECHAT_TOKEN"], timestamp, nonce)
    platform.require_fresh(timestamp, cfg["MAX_CLOCK_SKEW"])
    body = platform.require_xml_body(request)
    encrypted = request.args.get("encrypt_type", "raw").lower() == "aes"
    if cfg.get("WECHAT_AES_KEY") and not encrypted:
        # With a key configured the account runs in safe (or compatible) mode: a plaintext body is
        # signed with the token alone, which anyone who once saw a callback URL can reuse for the
        # whole replay window, so it is never read.
        raise RequestRejected(403, "已配置消息加密：只受理加密消息（encrypt_type=aes 与 msg_signature）")
    if encrypted:
        if not cfg.get("WECHAT_AES_KEY"):
            raise RequestRejected(400, "收到加密消息，但未配置 EncodingAESKey")
        (msg_signature,) = platform.require_params(request, "msg_signature")
        envelope = platform.parse_xml(body, need=("Encrypt",))
        platform.require_signature(msg_signature, cfg["WECHAT_TOKEN"], timestamp, nonce, envelope["Encrypt"])
        body = platform.decrypt(PrpCrypto, appstate().wechat_key, envelope["Encrypt"], cfg["WECHAT_APPID"])
    fields = platform.parse_xml(body, need=("MsgType", "FromUserName", "ToUserName"))
    reply = platform.receive(platform.to_incoming("wechat", fields, body))
    if reply.is_empty:
        return Response("success", mimetype="text/plain")
    xml = TextReply(
        source=platform.xml_safe(fields["ToUserName"]),
        target=platform.xml_safe(fields["FromUserName"]),
        content=platform.xml_safe(reply.text),
        time=int(time.time()),
    ).render()
    if encrypted:
        xml = appstate().wechat_crypto.encrypt_message(xml, nonce)
    return Response(xml, mimetype="application/xml")
