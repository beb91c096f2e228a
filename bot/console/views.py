"""Queue, ticket page and actions, extensions waiting, dashboard, exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from bot import inputs
from bot.console import bp, login_required, now
from core import ticket_number, timefmt
from core.errors import RequestRejected, UserError
from nlp.categories import APPEAL, LABELS, TICKET_CATEGORIES, label
from tickets import access, stats, timeline
from tickets.lifecycle import RATINGS, STATUS, Actor, Lifecycle
from tickets.models import Department, Official, Ticket
from tickets.transitions import Transition, allowed_actions
from tickets.workdays import CHINA, working_time_left

PER_PAGE = 25
PRIMARY_ACTIONS = 3  # buttons shown at once on the ticket page; the rest wait under 更多
SORTS = {"new": Ticket.id.desc(), "old": Ticket.id.asc(), "deadline": Ticket.deadline.asc()}
ACTIVE = ("assigned", "accepted")  # the clock runs (waiting: paused; submitted: no deadline yet)


def visible():
    return access.visible_tickets(g.user)


def _day(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = inputs.day(value, "日期")  # bounded: year 1 or 9999 overflow when shifted to UTC
    except RequestRejected as exc:
        flash(f"{exc.reason}：{value[:20]}", "error")
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return (start + timedelta(days=1) if end else start).astimezone(UTC)


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
        q = q.where(Ticket.deadline < moment, Ticket.status.in_(ACTIVE))
    if args.get("mark") == "redo":
        q = q.where(Ticket.redo_count > 0, Ticket.status.in_(("submitted", *ACTIVE, "waiting")))
    elif args.get("mark") == "supervised":
        q = q.where(Ticket.supervised.is_(True))
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
    return render_template(
        "console/queue.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        args=request.args,
        STATUS=STATUS,
        LABELS=LABELS,
        category_options=[(c, f"{'有求必应' if c in APPEAL else '无事不扰'} · {label(c)}") for c in TICKET_CATEGORIES],
        page_args={k: v for k, v in request.args.items() if k != "page"},
        who=lambda t: access.reporter_name(t, g.user),
        urgency=lambda t: _urgency(t, moment),
        clock=lambda t: sla(t, moment),
        more_filters=any(
            request.args.get(k) for k in ("status", "kind", "category", "mark", "since", "until", "overdue")
        ),
    )


def _urgency(t: Ticket, moment: datetime) -> str:
    if t.status not in ACTIVE or t.deadline is None:
        return ""
    if t.deadline < moment:
        return "overdue"
    if working_time_left(moment, t.deadline) < timedelta(days=1):
        return "soon"
    return ""


def sla(t: Ticket, moment: datetime) -> dict[str, str]:
    """The countdown an official reads: which deadline is next, and the working time left (or how late)."""
    if t.status == "waiting":
        return {"state": "paused", "text": "计时暂停：等待企业补充材料"}
    if t.status == "submitted":
        return {"state": "", "text": "待营商办分办"}
    if t.status not in ACTIVE or t.deadline is None:
        return {"state": "", "text": ""}
    due, what = (
        (t.accept_due, "签收")
        if t.status == "assigned" and t.accept_due and t.accept_due > moment
        else (t.deadline, "办结")
    )
    left = working_time_left(moment, due)
    if left < timedelta(0):
        return {"state": "overdue", "text": f"{what}已超期 {_span(-left)}（期限 {_local(due)}）"}
    state = "soon" if left < timedelta(days=1) else ""
    return {"state": state, "text": f"距{what}期限还有 {_span(left)}（工作时间，截至 {_local(due)}）"}


def _span(delta: timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    if days:
        return f"{days} 天 {hours} 小时"
    return f"{hours} 小时 {delta.seconds % 3600 // 60} 分" if hours else f"{max(1, delta.seconds // 60)} 分钟"


def _local(moment: datetime | None) -> str:
    return timefmt.local(moment, timefmt.SHORT, missing="—")


def _ticket(number: str) -> Ticket:
    ticket = g.db.scalars(visible().where(Ticket.number == ticket_number.canonical(number))).first()
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/tickets/<number>")
@login_required()
def ticket(number: str):
    t = _ticket(number)
    departments = g.db.scalars(select(Department).order_by(Department.id)).all()
    colleagues = (
        g.db.scalars(select(Official).where(Official.department_id == t.department_id, Official.active)).all()
        if t.department_id
        else []
    )
    actions = [a for a in _allowed(t).values() if a.name != "delegate" or colleagues]
    primary = [a for a in actions if a.primary][:PRIMARY_ACTIONS]
    return render_template(
        "console/ticket.html",
        t=t,
        STATUS=STATUS,
        RATINGS=RATINGS,
        label=label,
        departments=departments,
        colleagues=colleagues,
        categories=TICKET_CATEGORIES,
        primary=primary,
        more=[a for a in actions if a not in primary],
        show_reporter=access.reporter_visible(t, g.user),
        ANONYMOUS=access.ANONYMOUS,
        clock=sla(t, now()),
        describe=timeline.describe,
        actor=lambda e: timeline.actor_name(e, t, g.user),
        named=access.departments_named(g.db, t.text) if t.kind == "complaint" else [],
    )


def _allowed(t: Ticket) -> dict[str, Transition]:
    """The actions the table of transitions allows this user on this ticket now (buttons shown)."""
    return {a.name: a for a in allowed_actions(t, g.user, now())}


@bp.post("/tickets/<number>/<action>")
@login_required()
def act(number: str, action: str):
    t = _ticket(number)
    back = request.form.get("back") == "extensions" and url_for("console.extensions")
    if action not in _allowed(t):
        flash("当前状态或您的角色不允许此操作。", "error")
        return redirect(back or url_for("console.ticket", number=t.number))
    form = request.form
    life = Lifecycle(g.db, now(), _config())
    try:
        life.perform(
            t,
            Actor.of(g.user),
            action,
            text=form.get("text", ""),
            days=form.get("days", type=int),
            department=g.db.get(Department, form.get("department", 0, type=int)),
            official=g.db.get(Official, form.get("official", 0, type=int)),
            category=form.get("category", ""),
            parent=_parent(form.get("parent", "")),
            confirm_named=form.get("confirm_named") == "1",
        )
        g.db.commit()
        flash("操作成功。", "info")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    except StaleDataError:
        g.db.rollback()
        flash("工单刚被其他人更新，请刷新后重试。", "error")
    return redirect(back or url_for("console.ticket", number=t.number))


def _parent(text: str) -> Ticket | None:
    number = ticket_number.parse(text)
    return g.db.scalars(visible().where(Ticket.number == number)).first() if number else None


def _config() -> dict:
    from bot.state import appstate

    return appstate().services.config


@bp.get("/extensions")
@login_required("supervisor", "admin")
def extensions():
    """延期申请待审批: what 营商办 has to decide, oldest deadline first."""
    rows = g.db.scalars(
        select(Ticket)
        .where(Ticket.extension.is_not(None), Ticket.status.in_(("assigned", "accepted", "waiting")))
        .order_by(Ticket.deadline)
    ).all()
    rows = [t for t in rows if t.extension]  # a decided request is stored as JSON null, not SQL NULL
    return render_template(
        "console/extensions.html",
        rows=rows,
        moment=now(),
        label=label,
        STATUS=STATUS,
        who=lambda t: access.reporter_name(t, g.user),
        clock=lambda t: sla(t, now()),
    )


# -- dashboard ---------------------------------------------------------------------------------


def _report_args() -> dict[str, Any]:
    """The dashboard's filters, applied to every figure, the 红黑榜 and the charts alike."""
    moment = now()
    since = _day(request.args.get("since")) or moment - timedelta(days=90)
    until = _day(request.args.get("until"), end=True)
    region = request.args.get("region") or None
    department_id = request.args.get("department", type=int) if g.user.supervises else g.user.department_id
    return {"since": since, "until": until, "region": region, "department_id": department_id or None}


@bp.get("/dashboard")
@login_required()
def dashboard():
    moment = now()
    chosen = _report_args()
    report = stats.report(g.db, moment, **chosen)
    figures = report["figures"]
    regions = sorted(
        {r for r in g.db.scalars(select(Department.region)) if r}
        | {r for r in g.db.scalars(select(Ticket.region).distinct()) if r}
    )
    departments = g.db.scalars(select(Department).order_by(Department.id)).all() if g.user.supervises else []
    return render_template(
        "console/dashboard.html",
        f=figures,
        weeks=report["weeks"],
        ranking=report["ranking"],
        label=label,
        since=chosen["since"].astimezone(CHINA).date(),
        args=request.args,
        regions=regions,
        departments=departments,
        this_month=moment.astimezone(CHINA).strftime("%Y-%m"),
        category_labels={c: label(c) for c in figures["by_category"]},
    )


# -- exports -----------------------------------------------------------------------------------
# Columns are (header, kind, width): kinds give the XLSX cell its type (a date is a date, a rate a
# number shown as a percentage), and CSV its text.

EXPORT_COLUMNS = [
    ("编号", "text", 18),
    ("类型", "text", 9),
    ("类别", "text", 12),
    ("状态", "text", 12),
    ("企业", "text", 24),
    ("联系电话", "text", 14),
    ("承办部门", "text", 20),
    ("提交时间", "datetime", 17),
    ("办理期限", "datetime", 17),
    ("办结时间", "datetime", 17),
    ("答复", "text", 40),
    ("评价", "text", 10),
    ("评分", "int", 6),
    ("重办次数", "int", 8),
    ("督办", "text", 6),
    ("内容", "text", 60),
]
SUMMARY_COLUMNS = [
    ("月份", "text", 9),
    ("承办部门", "text", 24),
    ("受理", "int", 7),
    ("办结", "int", 7),
    ("超期", "int", 7),
    ("回退", "int", 7),
    ("重办", "int", 7),
    ("按时办结率", "percent", 11),
    ("及时签收率", "percent", 11),
    ("满意率", "percent", 9),
    ("回退率", "percent", 9),
    ("重办率", "percent", 9),
]


def _export_rows() -> list[list[Any]]:
    rows = g.db.scalars(filtered(request.args).order_by(Ticket.id)).all()
    out = []
    for t in rows:
        answered = t.status in ("resolved", "closed")  # a ticket reopened for 重办 has no result yet
        out.append(
            [
                t.number,
                "有求必应" if t.kind == "appeal" else "无事不扰",
                label(t.category),
                STATUS[t.status],
                *(lambda who: (who["name"] or "", who["phone"] or ""))(access.reporter(t, g.user)),
                t.department.name if t.department else "",
                t.created_at,
                t.deadline,
                t.resolved_at if answered else None,
                (t.result or "") if answered else "",
                RATINGS.get(t.rating, "") if t.rating and answered else "",
                t.rating if answered else None,
                t.redo_count,
                "是" if t.supervised else "",
                t.text,
            ]
        )
    return out


def _period_name() -> str:
    since, until = request.args.get("since"), request.args.get("until")
    if since or until:
        return f"{since or '最早'}至{until or '今'}"
    return now().astimezone(CHINA).strftime("截至%Y-%m-%d")


def _month() -> tuple[str, datetime, datetime]:
    month = request.args.get("month") or now().astimezone(CHINA).strftime("%Y-%m")
    first = inputs.month(month)  # a 400 in Chinese for 2026-13 or 0001-01
    start = datetime(first.year, first.month, 1, tzinfo=CHINA)
    end = (start + timedelta(days=32)).replace(day=1)
    return month, start.astimezone(UTC), end.astimezone(UTC)


def _summary_rows(month: str, start: datetime, end: datetime) -> list[list[Any]]:
    """月汇总: per department for one month, charged from the history as the dashboard is."""
    report = stats.report(g.db, now(), start, end, None if g.user.supervises else g.user.department_id)
    return [
        [
            month,
            r["department"],
            r["total"],
            r["resolved"],
            r["overdue"],
            r["returns"],
            r["redos"],
            r["on_time_rate"],
            r["on_time_acceptance_rate"],
            r["satisfaction"],
            r["return_rate"],
            r["redo_rate"],
        ]
        for r in report["ranking"]
    ]


def _csv_cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "datetime":
        return timefmt.local(value, timefmt.STAMP)
    if kind == "percent":
        return f"{value:.1%}"
    return _safe_cell(value)


def _respond(
    name: str, sheet_name: str, columns: list[tuple[str, str, int]], rows: list[list[Any]], fmt: str
) -> Response:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c[0] for c in columns])
        writer.writerows([[_csv_cell(v, c[1]) for v, c in zip(row, columns, strict=True)] for row in rows])
        # BOM: Excel opens UTF-8 CSV correctly only with it
        body, mimetype = ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, mimetype = (
            _xlsx(sheet_name, columns, rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    filename = f"{name}.{fmt}"
    ascii_name = "appealbot-export." + fmt  # for clients that cannot read the UTF-8 name
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(filename)}"},
    )


def _xlsx(sheet_name: str, columns: list[tuple[str, str, int]], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = sheet_name
    sheet.append([c[0] for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(rows, 2):
        for col, (value, (_, kind, _w)) in enumerate(zip(row, columns, strict=True), 1):
            if value is None or value == "":
                continue
            cell = sheet.cell(row=r, column=col)
            if kind == "datetime":
                # Excel has no time zones: the China wall-clock time, typed as a date
                cell.value = value.astimezone(CHINA).replace(tzinfo=None)
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif kind == "percent":
                cell.value = float(value)
                cell.number_format = "0.0%"
            elif kind == "int":
                cell.value = int(value)
            else:
                # Stored as text whatever it starts with: a "=…" from an enterprise is a string, never a
                # formula, so nothing needs the apostrophe that CSV has to carry.
                cell.value = _clean_text(str(value))
                cell.data_type = "s"
    for col, (_, _, width) in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _clean_text(value: str) -> str:
    """Characters XML 1.0 cannot hold (a stray control character from a chat) are dropped, not fatal."""
    return "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 0x20)[:32767]


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
    return _respond(f"问题清单_{_period_name()}", "问题清单", EXPORT_COLUMNS, _export_rows(), fmt)


@bp.get("/summary.<fmt>")
@login_required()
def summary(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    month, start, end = _month()
    return _respond(f"月度汇总_{month}", f"{month}月度汇总", SUMMARY_COLUMNS, _summary_rows(month, start, end), fmt)


__all__ = ["bp", "filtered", "sla"]
