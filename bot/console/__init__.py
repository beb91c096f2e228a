"""The officials' web console at /console: sign-in, queues, ticket pages, dashboard, exports, admin.

Same rules as the chat and the API: an official sees their department's tickets (another
department's ticket is a 404), 营商办 supervisors see everything, administrators also manage
departments, officials and routing rules. Every form carries a CSRF token (Flask-WTF).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps
from typing import Callable, Optional

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from bot import inputs
from bot.state import appstate
from tickets.models import Official

bp = Blueprint("console", __name__, url_prefix="/console")

ROLE_NAMES = {"official": "经办人", "head": "部门负责人", "supervisor": "营商办督办", "admin": "系统管理员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def now() -> datetime:
    return appstate().services.clock()


@bp.before_request
def _load_user():
    g.db = appstate().Session()
    g.user = None
    official_id = session.get("official_id")
    if official_id is not None:
        user = g.db.get(Official, official_id)
        if user is not None and user.active and session.get("pw") == (user.password_hash or "")[-16:]:
            g.user = user  # a changed password ends every other session


@bp.teardown_request
def _close(exc):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def login_required(*roles: str) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("console.login", next=request.full_path))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.app_template_filter("local")
def _local(moment: Optional[datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
    from tickets.workdays import CHINA

    return moment.astimezone(CHINA).strftime(fmt) if moment else "—"


@bp.app_context_processor
def _context():
    return {"ROLE_NAMES": ROLE_NAMES, "current_user": g.get("user")}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html")
    login_name = request.form.get("login", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    user = g.db.scalars(select(Official).where(Official.login == login_name)).first()
    moment = now()
    if user is not None and user.locked_until is not None and user.locked_until > moment:
        flash("连续登录失败次数过多，账号已暂时锁定，请 15 分钟后再试。", "error")
        return render_template("console/login.html"), 429
    if user is None or not user.active or not user.password_hash or not check_password_hash(user.password_hash, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = moment + LOCKOUT, 0
            g.db.commit()
        flash("用户名或密码错误。", "error")
        return render_template("console/login.html"), 401
    user.failed_logins, user.locked_until = 0, None
    g.db.commit()
    session.clear()  # no session fixation: a fresh session for the signed-in user
    session.permanent = True
    session["official_id"], session["pw"] = user.id, user.password_hash[-16:]
    return redirect(inputs.local_target(request.args.get("next"), "/console", url_for("console.queue")))


@bp.post("/logout")
def logout():
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("console.login"))


from bot.console import admin, field, views  # noqa: E402,F401  (routes register on bp)
