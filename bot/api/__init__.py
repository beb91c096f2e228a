"""The REST API under /api/v1 (tickets, actions, statistics), token-authenticated, described by OpenAPI.

Permissions are the chat's: an official sees and acts on their department's tickets only (another
department's ticket is a 404, not a 403, so numbers cannot be probed); 营商办 supervisors see all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from bot import inputs
from bot.state import appstate
from core import ticket_number
from core.errors import RequestRejected, UserError
from nlp.categories import label
from tickets import access, stats, timeline
from tickets.accounts import token_hash
from tickets.lifecycle import STATUS, Actor, Forbidden, Lifecycle, NeedsConfirmation, TransitionError
from tickets.models import Department, Official, Ticket
from tickets.transitions import OFFICIAL_ACTIONS

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Body fields each action reads its text from: `text` everywhere, and the names earlier clients used.
TEXT_FIELDS = ("text", "result", "reason", "note", "question", "comment")
ACTIONS = OFFICIAL_ACTIONS


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestRejected(400, f"{name} 应为 true 或 false")
    return value


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
    official = session.scalars(
        select(Official).where(Official.api_token_hash == token_hash(header[7:].strip()), Official.active)
    ).first()
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


def _date(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    moment = inputs.moment(value, name)  # bounded years: 0001-01-01 and 9999-12-31 overflowed
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _department(value: Any) -> Department:
    dept = g.api_session.scalars(
        select(Department).where(or_(Department.code == str(value), Department.name == str(value)))
    ).first()
    if dept is None:
        raise ApiError(400, f"没有这个部门：{value}")
    return dept


def ticket_json(t: Ticket, events: bool = False) -> dict[str, Any]:
    answered = t.status in ("resolved", "closed")
    data: dict[str, Any] = {
        "number": t.number,
        "kind": t.kind,
        "category": t.category,
        "category_name": label(t.category),
        "confidence": t.confidence,
        "text": t.text,
        "status": t.status,
        "status_name": STATUS[t.status],
        "department": t.department.name if t.department else None,
        "region": t.region,
        "enterprise": access.reporter(t, g.official),
        "anonymous": t.anonymous,
        "created_at": t.created_at.isoformat(),
        "deadline": t.deadline.isoformat() if t.deadline else None,
        "accept_due": t.accept_due.isoformat() if t.accept_due else None,
        # a ticket reopened for 重办 has no result until it is answered again
        "result": t.result if answered else None,
        "rating": t.rating if answered else None,
        "redo_count": t.redo_count,
        "supervised": t.supervised,
        "extension": t.extension or None,
    }
    if events:
        data["events"] = [
            {
                "at": e.at.isoformat(),
                "actor": access.actor_label(e.actor, t, g.official),
                "actor_name": timeline.actor_name(e, t, g.official),
                "action": e.action,
                "action_name": timeline.describe(e),
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in t.events
        ]
    return data


@bp.get("/tickets")
def list_tickets():
    q = _visible_query()
    args = request.args
    for name, column in (
        ("status", Ticket.status),
        ("category", Ticket.category),
        ("kind", Ticket.kind),
        ("region", Ticket.region),
    ):
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
    ticket = g.api_session.scalars(_visible_query().where(Ticket.number == ticket_number.canonical(number))).first()
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
        life.perform(ticket, Actor.of(g.official), body["action"], **_action_params(body))
        session.commit()
    except Forbidden as exc:
        session.rollback()
        raise ApiError(403, str(exc)) from None
    except NeedsConfirmation as exc:
        session.rollback()
        raise ApiError(409, str(exc) + '（API：请求体加上 "confirm_named": true）') from None
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


def _action_params(body: dict) -> dict[str, Any]:
    for name in TEXT_FIELDS + ("category",):
        inputs.text_field(body, name)  # a field of another type is a 400, never str(["a"])
    text = next((body[k] for k in TEXT_FIELDS if isinstance(body.get(k), str) and body[k].strip()), "")
    params: dict[str, Any] = {
        "text": text,
        "category": body.get("category") or "",
        "confirm_named": _flag(body, "confirm_named"),
    }
    if body.get("days") is not None:
        params["days"] = inputs.integer(body.get("days"), "days", low=1, high=30)
    if body.get("department") is not None:
        params["department"] = _department(body["department"])
    if body.get("official") is not None:
        params["official"] = _official(body["official"])
    if body.get("parent") is not None:
        params["parent"] = _ticket(ticket_number.canonical(str(body["parent"])))
    return params


def _official(value: Any) -> Official:
    person = g.api_session.scalars(
        select(Official).where(or_(Official.login == str(value), Official.wecom_user_id == str(value)))
    ).first()
    if person is None:
        raise ApiError(400, f"没有这个人员：{value}")
    return person


@bp.get("/stats")
def statistics():
    """The dashboard's figures and 红黑榜 (charged from the history), for the same filters."""
    department_id = (
        (_department(request.args["department"]).id if request.args.get("department") else None)
        if g.official.supervises
        else g.official.department_id
    )
    report = stats.report(
        g.api_session, _now(), _date("since"), _date("until"), department_id, request.args.get("region") or None
    )
    return jsonify({**report["figures"], "ranking": report["ranking"]})


@bp.get("/openapi.json")
def openapi():
    from bot.api.openapi import document

    return jsonify(document(list(ACTIONS)))


# -- inspection filings (凡检必报) ----------------------------------------------------------------


def filing_json(f) -> dict[str, Any]:
    base = appstate().services.config["PUBLIC_URL"].rstrip("/")
    return {
        "code": f.code,
        "department": f.department.name,
        "kind": f.kind,
        "matters": f.matters,
        "legal_basis": f.legal_basis,
        "inspectors": f.inspectors,
        "start": f.start_date.isoformat(),
        "end": f.end_date.isoformat(),
        "status": f.status,
        "warnings": f.warnings or [],
        "reason": f.reason,
        "decision_note": f.decision_note,
        "enterprises": [t.enterprise.name or t.enterprise.credit_code or "" for t in f.targets],
        "verify_url": f"{base}/verify/{f.code}",
        "qr_url": f"{base}/verify/{f.code}/qr.svg",
    }


def _iso_date(body: dict, name: str):
    return inputs.day(inputs.text_field(body, name, required=True) or "", name)  # required: never None


@bp.post("/inspections")
def file_inspection():
    from inspections import filings
    from tickets.workdays import local_date

    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("enterprises"), list)
        or not all(isinstance(e, str) for e in body["enterprises"])
        or len(body["enterprises"]) > 200
    ):
        raise ApiError(400, "请求体应为 JSON，enterprises 为企业名称或统一社会信用代码（字符串）的列表")
    # Each field a string or absent: a null used to be stored as the text "None".
    fields = {
        name: inputs.text_field(body, name, limit=2000) or ""
        for name in ("kind", "matters", "legal_basis", "inspectors")
    }
    try:
        filing = filings.file_inspection(
            g.api_session,
            g.official,
            enterprises=[inputs.clean_text(e)[:200] for e in body["enterprises"]],
            start=_iso_date(body, "start"),
            end=_iso_date(body, "end"),
            today=local_date(_now()),
            reason=inputs.text_field(body, "reason", limit=2000) or None,
            config=appstate().services.config,
            **fields,
        )
        g.api_session.commit()
    except UserError as exc:
        g.api_session.rollback()
        raise ApiError(400, str(exc)) from None
    return jsonify(filing_json(filing)), 201


def _filing(code: str):
    from inspections import filings

    filing = filings.find_by_code(g.api_session, code)
    if filing is None or not (g.official.supervises or filing.department_id == g.official.department_id):
        raise ApiError(404, f"没有找到备案 {code}")
    return filing


@bp.get("/inspections")
def list_inspections():
    """Filings the official may see (their department's; 营商办 all), newest first."""
    from inspections.models import InspectionFiling

    q = select(InspectionFiling)
    if not g.official.supervises:
        q = q.where(InspectionFiling.department_id == g.official.department_id)
    if request.args.get("status"):
        q = q.where(InspectionFiling.status.in_(request.args["status"].split(",")))
    page = inputs.integer(request.args.get("page"), "page", default=1, low=1, high=100_000)
    per_page = inputs.integer(request.args.get("per_page"), "per_page", default=20, low=1, high=100)
    total = g.api_session.scalar(select(func.count()).select_from(q.subquery()))
    rows = g.api_session.scalars(q.order_by(InspectionFiling.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return jsonify(items=[filing_json(f) for f in rows], total=total, page=page, per_page=per_page)


@bp.get("/inspections/<code>")
def get_inspection(code: str):
    return jsonify(filing_json(_filing(code)))


@bp.post("/inspections/<code>/decision")
def decide_inspection(code: str):
    from inspections import filings

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("approve") not in (True, False):
        raise ApiError(400, "approve 应为 true 或 false")
    filing = _filing(code)
    try:
        filings.decide(
            g.api_session,
            filing,
            g.official,
            body["approve"],
            _now(),
            inputs.text_field(body, "note", limit=2000) or None,
        )
        g.api_session.commit()
    except UserError as exc:
        g.api_session.rollback()
        raise ApiError(400, str(exc)) from None
    return jsonify(filing_json(filing))
