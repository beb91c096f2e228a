"""The web chat page `/`, its JSON API `POST /api/messages`, and `GET /healthz`."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import text

from bot.db import utcnow
from bot.errors import RequestRejected
from bot.state import appstate
from handlers.messages import IncomingMessage

bp = Blueprint("web", __name__)
MAX_USER_ID = 128
MAX_TEXT = 5000


@bp.get("/")
def chat_page():
    return render_template("chat.html")


def json_body() -> dict:
    if not request.is_json:
        raise RequestRejected(415, "请以 JSON 格式提交（Content-Type: application/json）")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestRejected(400, "请求体必须是 JSON 对象")
    return body


@bp.post("/api/messages")
def api_message():
    body = json_body()
    user, text_ = body.get("user"), body.get("text")
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID:
        raise RequestRejected(400, f"user 必须是 1 到 {MAX_USER_ID} 个字符的字符串")
    if not isinstance(text_, str):
        raise RequestRejected(400, "text 必须是字符串")
    if len(text_) > MAX_TEXT:
        raise RequestRejected(400, f"text 不能超过 {MAX_TEXT} 个字符")
    message_id = body.get("id")
    if message_id is not None and (not isinstance(message_id, (str, int)) or len(str(message_id)) > 64):
        raise RequestRejected(400, "id 必须是不超过 64 个字符的字符串")
    message = IncomingMessage(
        channel="web", user_id=user.strip(), type="text", created_at=utcnow(), text=text_,
        # A client may send its own id so that a retried POST is processed once.
        message_id=f"{user.strip()}:{message_id}" if message_id is not None else uuid.uuid4().hex,
        raw=request.get_data(as_text=True),
    )
    allowed, seen = appstate().limiter.admit(f"web:{message.user_id}", current_app.config["RATE_LIMIT_USER"],
                                             message.dedupe_key)
    if not allowed:
        raise RequestRejected(429, "发送过于频繁，请一分钟后再试")
    reply = appstate().inbox.receive(message, seen=seen)
    return jsonify(reply=reply.text, choices=reply.choices, data=reply.data)


@bp.post("/api/classify")
def api_classify():
    """The classification contract over HTTP: {"text": ...} or {"items": [{"id", "text"}, ...]}."""
    body = json_body()
    classifier = appstate().services.classifier
    if classifier is None:
        raise RequestRejected(503, "分类模型尚未训练，请先运行 appealbot train")
    if "items" in body:
        items = body["items"]
        if not isinstance(items, list) or len(items) > 1000 or not all(
                isinstance(i, dict) and isinstance(i.get("text"), str) for i in items):
            raise RequestRejected(400, "items 必须是不超过 1000 个 {id, text} 对象的列表")
        predictions = classifier.predict_many([i["text"][:MAX_TEXT] for i in items])
        return jsonify(items=[{"id": i.get("id"), "kind": p.kind, "category": p.category,
                               "confidence": round(p.confidence, 4)} for i, p in zip(items, predictions)])
    if not isinstance(body.get("text"), str):
        raise RequestRejected(400, "text 必须是字符串")
    return jsonify(classifier.predict(body["text"][:MAX_TEXT]).to_dict())


@bp.get("/healthz")
def healthz():
    try:
        with appstate().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # health probe: any database failure is "not ok", with no detail to the caller
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", classifier=appstate().services.classifier is not None)
