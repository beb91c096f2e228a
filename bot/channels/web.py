"""The web chat page `/`, its JSON API `POST /api/messages`, and `GET /healthz`.

The web chat has no platform to vouch for who is writing, so the server issues the identities:
the first message gets a new one, signed with SECRET_KEY, returned as the reply's `"user"` and as
an HttpOnly cookie. A later message continues that conversation only with an identity this server
signed; anything else (someone else's id typed in, a forged one) starts a new identity, so
knowing an enterprise's id is worth nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from flask import Blueprint, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, Signer
from sqlalchemy import text

from bot import inputs
from bot.ratelimit import seconds_to_next_window
from bot.state import appstate
from core.db import utcnow
from core.errors import RequestRejected
from handlers.messages import IncomingMessage

bp = Blueprint("web", __name__)
MAX_USER_ID = 128
MAX_TEXT = 5000
COOKIE = "appealbot_user"
COOKIE_DAYS = 365
_SALT = "appealbot.web-user"


def _signer() -> Signer:
    key = current_app.secret_key
    assert key is not None  # create_app always sets one (a random one when unconfigured)
    return Signer(key, salt=_SALT, digest_method=hashlib.sha256)


def sign_identity(user_id: str) -> str:
    """The identity a client keeps and sends back: the user id and the server's signature of it."""
    return _signer().sign(user_id).decode("ascii")


def verified_identity(token: str | None) -> str | None:
    """The user id inside an identity this server signed; None for anything else."""
    if not token or len(token) > 2 * MAX_USER_ID or not token.isascii():
        return None
    try:
        user_id = _signer().unsign(token).decode("ascii")
    except BadSignature:
        return None
    return user_id if 0 < len(user_id) <= MAX_USER_ID else None


def _web_chat_enabled() -> None:
    if not current_app.config["WEB_CHAT"]:
        raise RequestRejected(404, "网页版聊天未开放，请通过公众号留言")


@bp.get("/")
def chat_page():
    _web_chat_enabled()
    return render_template("chat.html")


def json_body() -> dict:
    if not request.is_json:
        raise RequestRejected(415, "请以 JSON 格式提交（Content-Type: application/json）")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestRejected(400, "请求体必须是 JSON 对象")
    return body


def _identity(body: dict) -> tuple[str, bool]:
    """(user id, whether it is new): the body's `user` decides when present, else the cookie."""
    token = body["user"] if "user" in body else request.cookies.get(COOKIE)
    if token is not None and not isinstance(token, str):
        raise RequestRejected(400, "user 应为字符串（服务器返回的用户标识）")
    user_id = verified_identity(token)
    if user_id is None:
        return "w" + secrets.token_urlsafe(15), True
    return user_id, False


@bp.post("/api/messages")
def api_message():
    _web_chat_enabled()
    body = json_body()
    text_ = body.get("text")
    if not isinstance(text_, str):
        raise RequestRejected(400, "text 必须是字符串")
    if len(text_) > MAX_TEXT:
        raise RequestRejected(400, f"text 不能超过 {MAX_TEXT} 个字符")
    message_id = body.get("id")
    if message_id is not None and (
        isinstance(message_id, bool)
        or not isinstance(message_id, (str, int))
        or len(str(message_id)) > 64
        or inputs.has_illegal(str(message_id))
    ):
        raise RequestRejected(400, "id 必须是不超过 64 个字符的字符串")
    user_id, _ = _identity(body)
    message = IncomingMessage(
        # Lone surrogates and control characters are dropped here: nothing downstream (PostgreSQL,
        # the reply's XML on other channels, an Excel export) can carry them.
        channel="web",
        user_id=user_id,
        type="text",
        created_at=utcnow(),
        text=inputs.clean_text(text_),
        # A client may send its own id so that a retried POST is processed once.
        message_id=f"{user_id}:{message_id}" if message_id is not None else uuid.uuid4().hex,
        raw=inputs.clean_text(request.get_data(as_text=True)),
    )
    allowed, seen = appstate().limiter.admit(
        f"web:{message.user_id}", current_app.config["RATE_LIMIT_USER"], message.dedupe_key
    )
    if not allowed:
        wait = seconds_to_next_window()
        raise RequestRejected(429, f"发送过于频繁，这条消息没有收到，请在 {wait} 秒后重新发送", retry_after=wait)
    reply = appstate().inbox.receive(message, seen=seen)
    identity = sign_identity(user_id)
    response = jsonify(reply=reply.text, choices=reply.choices, data=reply.data, user=identity)
    response.set_cookie(
        COOKIE,
        identity,
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.post("/api/classify")
def api_classify():
    """The classification contract over HTTP: {"text": ...} or {"items": [{"id", "text"}, ...]}."""
    body = json_body()
    classifier = appstate().services.classifier
    if classifier is None:
        raise RequestRejected(503, "分类模型尚未训练，请先运行 appealbot train")
    if "items" in body:
        items = body["items"]
        if (
            not isinstance(items, list)
            or len(items) > 1000
            or not all(isinstance(i, dict) and isinstance(i.get("text"), str) and _plain_id(i.get("id")) for i in items)
        ):
            raise RequestRejected(400, "items 必须是不超过 1000 个 {id, text} 对象的列表（id 为字符串或整数）")
        predictions = classifier.predict_many([inputs.clean_text(i["text"][:MAX_TEXT]) for i in items])
        return jsonify(
            items=[
                {"id": i.get("id"), "kind": p.kind, "category": p.category, "confidence": round(p.confidence, 4)}
                for i, p in zip(items, predictions, strict=True)
            ]
        )
    if not isinstance(body.get("text"), str):
        raise RequestRejected(400, "text 必须是字符串")
    return jsonify(classifier.predict(inputs.clean_text(body["text"][:MAX_TEXT])).to_dict())


def _plain_id(value) -> bool:
    """An item's id goes back as it came: a short string that can be encoded, a number, or none."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return True
    return isinstance(value, str) and len(value) <= 200 and not inputs.has_illegal(value)


@bp.get("/healthz")
def healthz():
    try:
        with appstate().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # health probe: any database failure is "not ok", with no detail to the caller
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", classifier=appstate().services.classifier is not None)
