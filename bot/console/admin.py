"""Administration: departments, officials, routing rules (administrators only)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.console import ROLE_NAMES, bp, end_sessions, hash_password, login_required, now
from core import unit
from nlp.categories import LABELS, TICKET_CATEGORIES
from tickets.models import Department, Official, RoutingRule, WecomGroup

MIN_PASSWORD = 10


@bp.get("/admin")
@login_required("admin")
def admin():
    return render_template(
        "console/admin.html",
        departments=g.db.scalars(select(Department).order_by(Department.id)).all(),
        officials=g.db.scalars(select(Official).order_by(Official.department_id, Official.id)).all(),
        rules=g.db.scalars(select(RoutingRule).order_by(RoutingRule.category, RoutingRule.id)).all(),
        groups=g.db.scalars(
            select(WecomGroup).order_by(WecomGroup.department_id.is_(None).desc(), WecomGroup.id)
        ).all(),
        categories=TICKET_CATEGORIES,
        LABELS=LABELS,
    )


def _done(message: str):
    try:
        g.db.commit()
        flash(message, "info")
    except IntegrityError:
        g.db.rollback()
        flash("保存失败：编码、登录名或企业微信账号与已有记录重复。", "error")
    return redirect(url_for("console.admin"))


def _error(message: str, back: str | None = None):
    flash(message, "error")
    return redirect(back or url_for("console.admin"))


@bp.post("/admin/departments")
@login_required("admin")
def add_department():
    f = request.form
    code, name = f.get("code", "").strip()[:32], f.get("name", "").strip()[:64]
    if not code or not name:
        return _error("部门编码和名称都要填写。")
    parent = g.db.get(Department, f.get("parent", 0, type=int))
    g.db.add(
        Department(
            code=code,
            name=name,
            region=f.get("region", "").strip()[:32],
            parent=parent,
            level=2 if parent else 1,
            robot_url=f.get("robot_url", "").strip() or None,
        )
    )
    return _done(f"已添加部门：{name}")


@bp.post("/admin/officials")
@login_required("admin")
def add_official():
    f = request.form
    dept = g.db.get(Department, f.get("department", 0, type=int))
    role, password = f.get("role", "official"), f.get("password", "")
    if dept is None or role not in ROLE_NAMES or not f.get("name", "").strip():
        return _error("请填写姓名，并选择部门和角色。")
    if password and len(password) < MIN_PASSWORD:
        return _error(f"密码至少 {MIN_PASSWORD} 位。")
    g.db.add(
        Official(
            name=f["name"].strip()[:64],
            department=dept,
            role=role,
            login=f.get("login", "").strip()[:64] or None,
            wecom_user_id=f.get("wecom_user_id", "").strip()[:64] or None,
            password_hash=hash_password(password) if password else None,
        )
    )
    return _done(f"已添加人员：{f['name'].strip()}")


@bp.post("/admin/officials/<int:official_id>/toggle")
@login_required("admin")
def toggle_official(official_id: int):
    official = g.db.get(Official, official_id)
    if official is None or official.id == g.user.id:
        return _error("不能停用自己。")
    official.active = not official.active
    if not official.active:
        official.api_token_hash = None  # a disabled account's API token is revoked with it
        end_sessions(g.db, official.id)  # and its console sessions end
    return _done(f"{official.name}已{'启用' if official.active else '停用'}")


@bp.post("/admin/groups")
@login_required("admin")
def bind_group():
    """Binds a 企业微信 group (its chat id, which the 智能机器人 says in an unbound group) to the
    department whose work group it is; "不绑定" unbinds it. New tickets of that department are then
    posted there, and nothing of another department's is shown there."""
    from tickets import groups

    f = request.form
    chat_id = f.get("chat_id", "").strip()
    if not chat_id or len(chat_id) > 128 or not chat_id.isprintable() or " " in chat_id:
        return _error("请填写群ID（在未绑定的群里 @智能机器人 即可看到）。")
    department_id = f.get("department", 0, type=int)
    dept = g.db.get(Department, department_id) if department_id else None
    if department_id and dept is None:
        return _error("请选择部门。")
    group = groups.seen(g.db, chat_id, now())
    groups.bind(g.db, group, dept, f.get("name", "").strip(), g.user.login or g.user.name, now())
    return _done(f"已将群 {chat_id} 绑定到{dept.name}" if dept else f"已解除群 {chat_id} 的绑定")


@bp.post("/admin/rules")
@login_required("admin")
def add_rule():
    f = request.form
    dept = g.db.get(Department, f.get("department", 0, type=int))
    days = f.get("days", 0, type=int)
    if f.get("category") not in TICKET_CATEGORIES or dept is None or not 1 <= days <= 60:
        return _error("请选择类别和部门，办理时限为 1–60 个工作日。")
    g.db.add(
        RoutingRule(
            category=f["category"],
            department=dept,
            deadline_days=days,
            keywords=f.get("keywords", "").strip()[:500] or None,
            region=f.get("region", "").strip() or None,
        )
    )
    return _done("已添加分办规则")


@bp.route("/admin/rules/<int:rule_id>", methods=["GET", "POST"])
@login_required("admin")
def edit_rule(rule_id: int):
    rule = g.db.get(RoutingRule, rule_id) or abort(404)
    if request.method == "GET":
        return render_template(
            "console/edit.html",
            what="rule",
            item=rule,
            departments=_departments(),
            categories=TICKET_CATEGORIES,
            LABELS=LABELS,
            title="修改分办规则",
        )
    f = request.form
    dept = g.db.get(Department, f.get("department", 0, type=int))
    days = f.get("days", 0, type=int)
    if f.get("category") not in TICKET_CATEGORIES or dept is None or not 1 <= days <= 60:
        return _error("请选择类别和部门，办理时限为 1–60 个工作日。", url_for("console.edit_rule", rule_id=rule_id))
    rule.category, rule.department, rule.deadline_days = f["category"], dept, days
    rule.keywords = f.get("keywords", "").strip()[:500] or None
    rule.region = f.get("region", "").strip()[:32] or None
    rule.priority = max(-100, min(100, f.get("priority", 0, type=int)))
    return _done("已保存分办规则")


@bp.route("/admin/rules/<int:rule_id>/delete", methods=["GET", "POST"])
@login_required("admin")
def delete_rule(rule_id: int):
    rule = g.db.get(RoutingRule, rule_id) or abort(404)
    if request.method == "GET":  # ask first: a deleted rule silently sends appeals elsewhere
        return render_template(
            "console/confirm.html",
            title="删除分办规则",
            question=f"确定删除分办规则“{LABELS[rule.category]}"
            f"{'（' + rule.keywords + '）' if rule.keywords else ''} → {rule.department.name}”吗？"
            "删除后，这类诉求将按其他规则分办或交营商办分办。",
            action=url_for("console.delete_rule", rule_id=rule_id),
            back=url_for("console.admin"),
        )
    g.db.delete(rule)
    return _done("已删除分办规则")


@bp.route("/admin/officials/<int:official_id>", methods=["GET", "POST"])
@login_required("admin")
def edit_official(official_id: int):
    person = g.db.get(Official, official_id) or abort(404)
    if request.method == "GET":
        return render_template(
            "console/edit.html",
            what="official",
            item=person,
            departments=_departments(),
            title=f"修改人员：{person.name}",
        )
    f = request.form
    dept = g.db.get(Department, f.get("department", 0, type=int))
    role, password, name = f.get("role", ""), f.get("password", ""), f.get("name", "").strip()[:64]
    here = url_for("console.edit_official", official_id=official_id)
    if dept is None or role not in ROLE_NAMES or not name:
        return _error("请填写姓名，并选择部门和角色。", here)
    if person.id == g.user.id and role != "admin":
        return _error("不能取消自己的管理员角色。", here)
    if password and len(password) < MIN_PASSWORD:
        return _error(f"密码至少 {MIN_PASSWORD} 位。", here)
    person.name, person.department, person.role = name, dept, role
    person.login = f.get("login", "").strip()[:64] or None
    person.wecom_user_id = f.get("wecom_user_id", "").strip()[:64] or None
    if password:
        person.password_hash = hash_password(password)  # ends the person's other sessions
    return _done(f"已保存人员：{name}")


@bp.route("/admin/departments/<int:department_id>", methods=["GET", "POST"])
@login_required("admin")
def edit_department(department_id: int):
    dept = g.db.get(Department, department_id) or abort(404)
    if request.method == "GET":
        return render_template(
            "console/edit.html",
            what="department",
            item=dept,
            departments=_departments(),
            title=f"修改部门：{dept.name}",
        )
    f = request.form
    name = f.get("name", "").strip()[:64]
    parent = g.db.get(Department, f.get("parent", 0, type=int))
    if not name:
        return _error("部门名称不能为空。", url_for("console.edit_department", department_id=department_id))
    if parent is not None and (parent.id == dept.id or _ancestor(dept, parent)):
        return _error("上级部门不能是本部门或其下级。", url_for("console.edit_department", department_id=department_id))
    dept.name, dept.parent, dept.level = name, parent, 2 if parent else 1
    dept.region = f.get("region", "").strip()[:32]
    dept.robot_url = f.get("robot_url", "").strip()[:300] or None
    return _done(f"已保存部门：{name}")


def _ancestor(dept: Department, candidate: Department) -> bool:
    """Whether `dept` is above `candidate` (making it the parent would close a loop)."""
    node = candidate.parent
    while node is not None:
        if node.id == dept.id:
            return True
        node = node.parent
    return False


def _departments():
    return g.db.scalars(select(Department).order_by(Department.id)).all()


@bp.get("/notifications")
@login_required("admin", "supervisor")
def notifications():
    from tickets.models import Notification

    rows = g.db.scalars(
        select(Notification).where(Notification.status == "failed").order_by(Notification.id.desc()).limit(100)
    ).all()
    return render_template("console/notifications.html", rows=rows)


@bp.post("/notifications/<int:notification_id>/retry")
@login_required("admin", "supervisor")
def notification_retry(notification_id: int):
    from tickets.models import Notification

    n = g.db.get(Notification, notification_id)
    if n is not None and n.status == "failed":
        n.status, n.attempts, n.next_attempt_at = "pending", 0, None
        unit.notes(g.db).notified = True  # wakes the delivery job after the commit
        g.db.commit()
        flash("已重新加入发送队列。", "info")
    return redirect(url_for("console.notifications"))
