"""Queue, ticket page and actions, dashboard, exports."""
from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from bot.console import bp, login_required, now
from bot import inputs
from bot.errors import RequestRejected, UserError
from nlp.categories import APPEAL, COMPLAINT, LABELS, TICKET_CATEGORIES, label
from tickets import stats
from tickets import access
from tickets.lifecycle import RATINGS, STATUS, Actor, Lifecycle
from tickets.models import Department, Official, Ticket
from tickets.workdays import CHINA

PER_PAGE = 25
SORTS = {"new": Ticket.id.desc(), "old": Ticket.id.asc(), "deadline": Ticket.deadline.asc()}
EXPORT_COLUMNS = ["编号", "类型", "类别", "状态", "企业", "联系电话", "承办部门", "提交时间", "办理期限", "办结时间", "答复",
                  "评价", "内容"]


def visible():
    return access.visible_tickets(g.user)


def _day(value: Optional[str], end: bool = False) -> Optional[datetime]:
    if not value:
        return None
    try:
        day = inputs.day(value, "日期")  # bounded: year 1 or 9999 overflow when shifted to UTC
    except RequestRejected as exc:
        flash(f"{exc.reason}：{value[:20]}", "error")
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return (start + timedelta(days=1) if end else start).astimezone(timezone.utc)


def filtered(args) -> Any:
    q = visible()
    if args.get("status"):
        q = q.where(Ticket.status == args["status"])
    if args.get("category"):
        q = q.where(Ticket.category == args["category"])
    if args.get("kind"):
        q = q.where(Ticket.kind == args["kind"])
    moment = now()
    if args.get("overdue") == "1":
        q = q.where(Ticket.deadline < moment, Ticket.status.in_(("assigned", "accepted")))
    if args.get("since") and _day(args["since"]):
        q = q.where(Ticket.created_at >= _day(args["since"]))
    if args.get("until") and _day(args["until"], end=True):
        q = q.where(Ticket.created_at < _day(args["until"], end=True))
    if args.get("q"):
        q = q.where(access.search(args["q"], g.user))
    return q


@bp.get("/")
@login_required()
def queue():
    q = filtered(request.args)
    total = g.db.scalar(select(func.count()).select_from(q.subquery()))
    # Past the last page shows the last page: an offset beyond what a 64-bit integer holds was a 500.
    page = min(max(1, request.args.get("page", 1, type=int)), max(1, -(-total // PER_PAGE)))
    order = SORTS.get(request.args.get("sort", "new"), SORTS["new"])
    rows = g.db.scalars(q.order_by(order).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    moment = now()
    return render_template("console/queue.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                           args=request.args, STATUS=STATUS, LABELS=LABELS,
                           category_options=[(c, f"{'有求必应' if c in APPEAL else '无事不扰'} · {label(c)}") for c in TICKET_CATEGORIES],
                           page_args={k: v for k, v in request.args.items() if k != "page"},
                           who=lambda t: access.reporter_name(t, g.user),
                           urgency=lambda t: _urgency(t, moment))


def _urgency(t: Ticket, moment: datetime) -> str:
    if t.status not in ("assigned", "accepted") or t.deadline is None:
        return ""
    if t.deadline < moment:
        return "overdue"
    if t.deadline - moment < timedelta(days=1):
        return "soon"
    return ""


def _ticket(number: str) -> Ticket:
    ticket = g.db.scalars(visible().where(Ticket.number == number.upper())).first()
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/tickets/<number>")
@login_required()
def ticket(number: str):
    t = _ticket(number)
    departments = g.db.scalars(select(Department).order_by(Department.id)).all()
    colleagues = g.db.scalars(select(Official).where(Official.department_id == t.department_id, Official.active)).all() \
        if t.department_id else []
    named = access.departments_named(g.db, t.text) if t.kind == "complaint" else []
    return render_template("console/ticket.html", t=t, STATUS=STATUS, RATINGS=RATINGS, label=label,
                           departments=departments, colleagues=colleagues, categories=TICKET_CATEGORIES,
                           can=_allowed(t), show_reporter=access.reporter_visible(t, g.user),
                           ANONYMOUS=access.ANONYMOUS, actor=lambda e: access.actor_label(e.actor, t, g.user),
                           named=named)


def _allowed(t: Ticket) -> set[str]:
    """The actions this user's role allows on this ticket in its status (buttons shown)."""
    u = g.user
    supervises = u.role in ("supervisor", "admin")
    member = supervises or t.department_id == u.department_id
    allowed = {"note"} if member else set()
    if member:
        allowed |= {"assigned": {"accept", "return", "escalate"},
                    "accepted": {"resolve", "return", "escalate", "request_info", "request_extension"},
                    "waiting": {"escalate", "request_extension"}}.get(t.status, set())
        if t.status not in ("closed",):
            allowed.add("correct_category")
    if supervises and t.status in ("submitted", "assigned", "accepted"):
        allowed.add("assign")
    if supervises and t.extension:
        allowed |= {"approve_extension", "reject_extension"}
    if (u.role == "head" and t.department_id == u.department_id or supervises) and t.status in ("assigned", "accepted"):
        allowed.add("delegate")
    return allowed


@bp.post("/tickets/<number>/<action>")
@login_required()
def act(number: str, action: str):
    t = _ticket(number)
    if action not in _allowed(t):
        flash("当前状态或您的角色不允许此操作。", "error")
        return redirect(url_for("console.ticket", number=t.number))
    form = request.form
    life = Lifecycle(g.db, now(), g.get("config") or _config())
    actor = Actor.of(g.user)
    try:
        if action == "accept":
            life.accept(t, actor)
        elif action == "resolve":
            life.resolve(t, actor, form.get("text", ""))
        elif action == "return":
            life.return_(t, actor, form.get("text", ""))
        elif action == "escalate":
            life.escalate(t, actor, form.get("text", ""))
        elif action == "request_info":
            life.request_info(t, actor, form.get("text", ""))
        elif action == "request_extension":
            life.request_extension(t, actor, form.get("days", 0, type=int), form.get("text", ""))
        elif action in ("approve_extension", "reject_extension"):
            life.decide_extension(t, actor, action == "approve_extension", form.get("text") or None)
        elif action == "note":
            life.note(t, actor, form.get("text", ""))
        elif action == "correct_category":
            life.correct_category(t, actor, form.get("category", ""))
        elif action == "assign":
            dept = g.db.get(Department, form.get("department", 0, type=int))
            if dept is None:
                raise UserError("请选择部门")
            life.assign(t, actor, dept, note=form.get("text") or None, confirm_named=form.get("confirm_named") == "1")
        elif action == "delegate":
            person = g.db.get(Official, form.get("official", 0, type=int))
            if person is None or person.department_id != t.department_id:
                raise UserError("请选择本部门的经办人")
            t.assignee = person
            life.record(t, actor, "delegate", t.status, f"指派给{person.name}", official=person.name)
        g.db.commit()
        flash("操作成功。", "info")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    except StaleDataError:
        g.db.rollback()
        flash("工单刚被其他人更新，请刷新后重试。", "error")
    return redirect(url_for("console.ticket", number=t.number))


def _config() -> dict:
    from bot.state import appstate

    return appstate().services.config


# -- dashboard ---------------------------------------------------------------------------------

@bp.get("/dashboard")
@login_required()
def dashboard():
    moment = now()
    since = _day(request.args.get("since")) or moment - timedelta(days=90)
    until = _day(request.args.get("until"), end=True)
    region = request.args.get("region") or None
    department_id = None if g.user.role in ("supervisor", "admin") else g.user.department_id
    figures = stats.figures(g.db, moment, since, until, department_id, region)
    rows = g.db.scalars(filtered({}).where(Ticket.created_at >= since)).all()
    weeks: Counter = Counter()
    for t in rows:
        day = t.created_at.astimezone(CHINA).date()
        weeks[(day - timedelta(days=day.weekday())).isoformat()] += 1
    ranking = _ranking(rows, moment)
    regions = sorted({r for r in g.db.scalars(select(Department.region)) if r})
    return render_template("console/dashboard.html", f=figures, weeks=sorted(weeks.items()), ranking=ranking,
                           label=label, since=since.astimezone(CHINA).date(), args=request.args, regions=regions,
                           category_labels={c: label(c) for c in figures["by_category"]})


def _ranking(rows: list[Ticket], moment: datetime) -> list[dict]:
    """红黑榜: departments ordered by on-time rate, then satisfaction."""
    by_dept: dict[str, list[Ticket]] = defaultdict(list)
    for t in rows:
        if t.department is not None:
            by_dept[t.department.name].append(t)
    table = []
    for name, items in by_dept.items():
        done = [t for t in items if t.resolved_at]
        rated = [t for t in items if t.rating]
        on_time = sum(1 for t in done if t.deadline is None or t.resolved_at <= t.deadline)
        table.append({"department": name, "total": len(items), "resolved": len(done),
                      "overdue": sum(1 for t in items if t.status in ("assigned", "accepted") and t.deadline and t.deadline < moment),
                      "on_time_rate": on_time / len(done) if done else None,
                      "satisfaction": sum(1 for t in rated if t.rating >= 3) / len(rated) if rated else None})
    return sorted(table, key=lambda r: (-(r["on_time_rate"] or 0), -(r["satisfaction"] or 0), r["overdue"]))


# -- exports -----------------------------------------------------------------------------------

def _export_rows() -> list[list[Any]]:
    rows = g.db.scalars(filtered(request.args).order_by(Ticket.id)).all()
    return [[t.number, "有求必应" if t.kind == "appeal" else "无事不扰", label(t.category), STATUS[t.status],
             *(lambda who: (who["name"] or "", who["phone"] or ""))(access.reporter(t, g.user)),
             t.department.name if t.department else "",
             _fmt(t.created_at), _fmt(t.deadline), _fmt(t.resolved_at), t.result or "",
             RATINGS.get(t.rating, "") if t.rating else "", t.text] for t in rows]


def _fmt(moment):
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else ""


def _summary_rows() -> tuple[list[str], list[list[Any]]]:
    """月汇总: per department for one month (?month=2026-11; default this month)."""
    month = request.args.get("month") or now().astimezone(CHINA).strftime("%Y-%m")
    first = inputs.month(month)  # a 400 in Chinese for 2026-13 or 0001-01
    start = datetime(first.year, first.month, 1, tzinfo=CHINA)
    end = (start + timedelta(days=32)).replace(day=1)
    rows = g.db.scalars(visible().where(Ticket.created_at >= start.astimezone(timezone.utc),
                                        Ticket.created_at < end.astimezone(timezone.utc))).all()
    table = _ranking(rows, now())
    header = ["月份", "承办部门", "受理", "办结", "超期未办结", "按时办结率", "满意率"]
    return header, [[month, r["department"], r["total"], r["resolved"], r["overdue"], _pct(r["on_time_rate"]),
                     _pct(r["satisfaction"])] for r in table]


def _pct(value):
    return "" if value is None else f"{value:.1%}"


def _respond(name: str, header: list[str], rows: list[list[Any]], fmt: str) -> Response:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows([[_safe_cell(v) for v in row] for row in rows])
        # BOM: Excel opens UTF-8 CSV correctly only with it
        return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={name}.csv"})
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([_safe_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={name}.xlsx"})


def _safe_cell(value):
    """Formula injection: an enterprise's text starting with = + - @ must not run in Excel; control
    characters (stored before the door stripped them) cannot be written into a cell at all."""
    if isinstance(value, str):
        value = inputs.clean_text(value)
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


@bp.get("/export.<fmt>")
@login_required()
def export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return _respond("problem-list", EXPORT_COLUMNS, _export_rows(), fmt)


@bp.get("/summary.<fmt>")
@login_required()
def summary(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    header, rows = _summary_rows()
    return _respond("monthly-summary", header, rows, fmt)
