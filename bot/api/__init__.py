"""The REST API under /api/v1 (tickets, actions, statistics), token-authenticated, described by OpenAPI.

Permissions are the chat's: an official sees and acts on their department's tickets only (another
department's ticket is a 404, not a 403, so numbers cannot be probed); 营商办 supervisors see all.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Optional

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from bot import inputs
from bot.errors import RequestRejected, UserError
from bot.state import appstate
from nlp.categories import label
from tickets import access, stats
from tickets.lifecycle import STATUS, Actor, Forbidden, Lifecycle, NeedsConfirmation, TransitionError
from tickets.models import Department, Official, Ticket

bp = Blueprint("api", __name__, url_prefix="/api/v1")
def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestRejected(400, f"{name} 应为 true 或 false")
    return value


def _text(body: dict, name: str) -> str:
    """A string field of the body ("" when absent); another type is a 400, never str(None)."""
    return inputs.text_field(body, name) or ""


ACTIONS = {
    "accept": lambda life, t, a, body: life.accept(t, a),
    "resolve": lambda life, t, a, body: life.resolve(t, a, _text(body, "result")),
    "return": lambda life, t, a, body: life.return_(t, a, _text(body, "reason")),
    "escalate": lambda life, t, a, body: life.escalate(t, a, _text(body, "reason")),
    "request_info": lambda life, t, a, body: life.request_info(t, a, _text(body, "text")),
    "request_extension": lambda life, t, a, body: life.request_extension(
        t, a, inputs.integer(body.get("days"), "days", low=1, high=30), _text(body, "reason")),
    "approve_extension": lambda life, t, a, body: life.decide_extension(t, a, True, _text(body, "note") or None),
    "reject_extension": lambda life, t, a, body: life.decide_extension(t, a, False, _text(body, "note") or None),
    "note": lambda life, t, a, body: life.note(t, a, _text(body, "text")),
    "assign": lambda life, t, a, body: life.assign(t, a, _department(_text(body, "department")),
                                                   confirm_named=_flag(body, "confirm_named")),
    "correct_category": lambda life, t, a, body: life.correct_category(t, a, _text(body, "category")),
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return jsonify(error=exc.message), exc.status


@bp.errorhandler(RequestRejected)
def _rejected(exc: RequestRejected):
    return jsonify(error=exc.reason), exc.status


@bp.before_request
def _authenticate():
    if request.endpoint in ("api.openapi",):
        return None
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or len(header) > 300:
        raise ApiError(401, "需要 API 令牌：Authorization: Bearer <token>")
    session = appstate().Session()
    official = session.scalars(select(Official).where(Official.api_token_hash == token_hash(header[7:].strip()),
                                                      Official.active)).first()
    if official is None:
        session.close()
        raise ApiError(401, "API 令牌无效或已停用")
    g.api_session, g.official = session, official


@bp.teardown_request
def _close(exc):
    session = g.pop("api_session", None)
    if session is not None:
        session.close()


def _visible_query():
    return access.visible_tickets(g.official)


def _now() -> datetime:
    return appstate().services.clock()


def _date(name: str) -> Optional[datetime]:
    value = request.args.get(name)
    if not value:
        return None
    moment = inputs.moment(value, name)  # bounded years: 0001-01-01 and 9999-12-31 overflowed
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _department(value: Any) -> Department:
    dept = g.api_session.scalars(select(Department).where(or_(Department.code == str(value),
                                                              Department.name == str(value)))).first()
    if dept is None:
        raise ApiError(400, f"没有这个部门：{value}")
    return dept


def ticket_json(t: Ticket, events: bool = False) -> dict[str, Any]:
    data = {
        "number": t.number, "kind": t.kind, "category": t.category, "category_name": label(t.category),
        "confidence": t.confidence, "text": t.text, "status": t.status, "status_name": STATUS[t.status],
        "department": t.department.name if t.department else None, "region": t.region,
        "enterprise": access.reporter(t, g.official),
        "anonymous": t.anonymous,
        "created_at": t.created_at.isoformat(), "deadline": t.deadline.isoformat() if t.deadline else None,
        "accept_due": t.accept_due.isoformat() if t.accept_due else None, "result": t.result, "rating": t.rating,
        "supervised": t.supervised, "extension": t.extension,
    }
    if events:
        data["events"] = [{"at": e.at.isoformat(), "actor": access.actor_label(e.actor, t, g.official),
                           "action": e.action, "from": e.from_status, "to": e.to_status, "note": e.note}
                          for e in t.events]
    return data


@bp.get("/tickets")
def list_tickets():
    q = _visible_query()
    args = request.args
    for name, column in (("status", Ticket.status), ("category", Ticket.category), ("kind", Ticket.kind),
                         ("region", Ticket.region)):
        if args.get(name):
            q = q.where(column.in_(args.get(name).split(",")))
    if args.get("department"):
        q = q.where(Ticket.department_id == _department(args["department"]).id)
    if args.get("overdue") in ("1", "true"):
        q = q.where(Ticket.deadline < _now(), Ticket.status.in_(("assigned", "accepted")))
    if args.get("q"):
        q = q.where(access.search(args["q"], g.official))
    if _date("since"):
        q = q.where(Ticket.created_at >= _date("since"))
    if _date("until"):
        q = q.where(Ticket.created_at < _date("until"))
    page = inputs.integer(args.get("page"), "page", default=1, low=1, high=inputs.MAX_PAGE)
    per_page = inputs.integer(args.get("per_page"), "per_page", default=20, low=1, high=100)
    total = g.api_session.scalar(select(func.count()).select_from(q.subquery()))
    rows = g.api_session.scalars(q.order_by(Ticket.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return jsonify(items=[ticket_json(t) for t in rows], total=total, page=page, per_page=per_page)


def _ticket(number: str) -> Ticket:
    ticket = g.api_session.scalars(_visible_query().where(Ticket.number == number.upper())).first()
    if ticket is None:
        raise ApiError(404, f"没有找到工单 {number}")
    return ticket


@bp.get("/tickets/<number>")
def get_ticket(number: str):
    return jsonify(ticket_json(_ticket(number), events=True))


@bp.post("/tickets/<number>/actions")
def act(number: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("action"), str) or body["action"] not in ACTIONS:
        raise ApiError(400, "请求体应为 JSON，action 取值：" + "、".join(ACTIONS))
    session = g.api_session
    ticket = _ticket(number)
    life = Lifecycle(session, _now(), appstate().services.config)
    try:
        ACTIONS[body["action"]](life, ticket, Actor.of(g.official), body)
        session.commit()
    except Forbidden as exc:
        session.rollback()
        raise ApiError(403, str(exc)) from None
    except NeedsConfirmation as exc:
        session.rollback()
        raise ApiError(409, str(exc) + "（API：请求体加上 \"confirm_named\": true）") from None
    except TransitionError as exc:
        session.rollback()
        raise ApiError(409, str(exc)) from None
    except UserError as exc:
        session.rollback()
        raise ApiError(400, str(exc)) from None
    except StaleDataError:
        session.rollback()
        raise ApiError(409, "工单刚被其他人更新，请刷新后重试") from None
    return jsonify(ticket_json(ticket, events=True))


@bp.get("/stats")
def statistics():
    department_id = None if g.official.supervises else g.official.department_id
    return jsonify(stats.figures(g.api_session, _now(), _date("since"), _date("until"), department_id,
                                 request.args.get("region")))


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


def _op(summary: str, params: list[str] = (), body: Optional[dict] = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}],
                          "parameters": [{"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
                                         for p in params],
                          "responses": {"200": {"description": "OK"}, "401": {"description": "无效令牌"},
                                        "404": {"description": "不存在或无权查看"}}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"].update({"400": {"description": "参数错误"}, "403": {"description": "无权操作"},
                                "409": {"description": "当前状态不允许，或已被他人更新"}})
    return op


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "appealbot 诉求工单 API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/tickets": {"get": _op("工单列表（按权限过滤）",
                                       ["status", "category", "kind", "region", "department", "overdue", "q", "since",
                                        "until", "page", "per_page"])},
        "/api/v1/tickets/{number}": {"get": _op("工单详情与全部流转记录")},
        "/api/v1/tickets/{number}/actions": {"post": _op("办理工单", body={
            "type": "object", "required": ["action"],
            "properties": {"action": {"type": "string", "enum": list(ACTIONS)}, "result": {"type": "string"},
                           "reason": {"type": "string"}, "text": {"type": "string"}, "days": {"type": "integer"},
                           "department": {"type": "string"}, "category": {"type": "string"},
                           "note": {"type": "string"}, "confirm_named": {"type": "boolean"}}})},
        "/api/v1/stats": {"get": _op("统计：按时办结率、解决率、满意率等", ["since", "until", "region"])},
    },
}


# -- inspection filings (凡检必报) ----------------------------------------------------------------

def filing_json(f) -> dict[str, Any]:
    return {"code": f.code, "department": f.department.name, "kind": f.kind, "matters": f.matters,
            "legal_basis": f.legal_basis, "inspectors": f.inspectors, "start": f.start_date.isoformat(),
            "end": f.end_date.isoformat(), "status": f.status, "warnings": f.warnings,
            "enterprises": [t.enterprise.name for t in f.targets],
            "verify_url": f"{appstate().services.config['PUBLIC_URL'].rstrip('/')}/verify/{f.code}"}


def _iso_date(body: dict, name: str):
    return inputs.day(inputs.text_field(body, name, required=True), name)


@bp.post("/inspections")
def file_inspection():
    from tickets import inspections
    from tickets.workdays import local_date

    body = request.get_json(silent=True)
    if (not isinstance(body, dict) or not isinstance(body.get("enterprises"), list)
            or not all(isinstance(e, str) for e in body["enterprises"]) or len(body["enterprises"]) > 200):
        raise ApiError(400, "请求体应为 JSON，enterprises 为企业名称或统一社会信用代码（字符串）的列表")
    # Each field a string or absent: a null used to be stored as the text "None".
    fields = {name: inputs.text_field(body, name, limit=2000) or "" for name in
              ("kind", "matters", "legal_basis", "inspectors")}
    try:
        filing = inspections.file_inspection(
            g.api_session, g.official, enterprises=[inputs.clean_text(e)[:200] for e in body["enterprises"]],
            start=_iso_date(body, "start"), end=_iso_date(body, "end"), today=local_date(_now()),
            reason=inputs.text_field(body, "reason", limit=2000) or None, config=appstate().services.config,
            **fields)
        g.api_session.commit()
    except UserError as exc:
        g.api_session.rollback()
        raise ApiError(400, str(exc)) from None
    return jsonify(filing_json(filing)), 201


def _filing(code: str):
    from tickets import inspections

    filing = inspections.find_by_code(g.api_session, code)
    if filing is None or not (g.official.supervises or filing.department_id == g.official.department_id):
        raise ApiError(404, f"没有找到备案 {code}")
    return filing


@bp.get("/inspections/<code>")
def get_inspection(code: str):
    return jsonify(filing_json(_filing(code)))


@bp.post("/inspections/<code>/decision")
def decide_inspection(code: str):
    from tickets import inspections

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("approve") not in (True, False):
        raise ApiError(400, "approve 应为 true 或 false")
    filing = _filing(code)
    try:
        inspections.decide(g.api_session, filing, g.official, body["approve"], _now(),
                           inputs.text_field(body, "note", limit=2000) or None)
        g.api_session.commit()
    except UserError as exc:
        g.api_session.rollback()
        raise ApiError(400, str(exc)) from None
    return jsonify(filing_json(filing))


OPENAPI["paths"].update({
    "/api/v1/inspections": {"post": _op("提交涉企检查备案（凡检必报）", body={
        "type": "object", "required": ["enterprises", "kind", "matters", "legal_basis", "inspectors", "start", "end"],
        "properties": {"enterprises": {"type": "array", "items": {"type": "string"}},
                       "kind": {"type": "string", "enum": ["random", "special", "complaint", "assigned"]},
                       "matters": {"type": "string"}, "legal_basis": {"type": "string"}, "inspectors": {"type": "string"},
                       "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
                       "reason": {"type": "string"}}})},
    "/api/v1/inspections/{code}": {"get": _op("查看检查备案")},
    "/api/v1/inspections/{code}/decision": {"post": _op("审批检查备案", body={
        "type": "object", "required": ["approve"], "properties": {"approve": {"type": "boolean"}, "note": {"type": "string"}}})},
})
