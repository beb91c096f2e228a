"""The officials' web console at /console: sign-in, queues, ticket pages, dashboard, exports, admin.

Same rules as the chat and the API: an official sees their department's tickets (another
department's ticket is a 404), 营商办 supervisors see everything, administrators also manage
departments, officials and routing rules. Every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import delete, or_, select, update
from werkzeug.security import check_password_hash

from bot import inputs
from bot.state import appstate
from core import timefmt
from tickets.accounts import end_sessions, hash_password  # noqa: F401  (the console's own names)
from tickets.models import ConsoleSession, Official

bp = Blueprint("console", __name__, url_prefix="/console")

ROLE_NAMES = {"official": "经办人", "head": "部门负责人", "supervisor": "营商办督办", "admin": "系统管理员"}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_HOURS = 8
_dummy_hash: list[str] = []  # checked against when there is no real hash, so every attempt costs the same


def now() -> datetime:
    return appstate().services.clock()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@bp.before_request
def _load_user():
    g.db = appstate().Session()
    g.user = None
    token = session.get("sid")
    if isinstance(token, str):
        row = g.db.scalars(select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))).first()
        if row is not None and row.expires_at > now() and row.official.active:
            g.user, g.console_session = row.official, row


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
def _local(moment: datetime | None, fmt: str = timefmt.STAMP) -> str:
    return timefmt.local(moment, fmt, missing="—")


@bp.app_context_processor
def _context():
    return {"ROLE_NAMES": ROLE_NAMES, "current_user": g.get("user")}


def _password_matches(password_hash: str | None, password: str) -> bool:
    """One scrypt check on every attempt — an unknown, disabled or locked account is checked against
    a hash nobody knows — so the answer's timing does not tell which accounts exist."""
    if password_hash is None:
        if not _dummy_hash:
            _dummy_hash.append(hash_password(secrets.token_hex(16)))
        check_password_hash(_dummy_hash[0], password)
        return False
    return check_password_hash(password_hash, password)


def _refused(message: str, status: int):
    flash(message, "error")
    return render_template("console/login.html"), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method != "POST":
        # GET and HEAD show the form. HEAD is a "safe" method CSRF protection lets through, so it
        # must never reach the sign-in below.
        return render_template("console/login.html")
    if not appstate().limiter.allow("login", request.remote_addr or "-", current_app.config["RATE_LIMIT_LOGIN"]):
        return _refused("登录尝试过于频繁，请一分钟后再试。", 429)
    login_name = request.form.get("login", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    user = g.db.scalars(select(Official).where(Official.login == login_name)).first()
    moment = now()
    if user is None or not user.active or not user.password_hash:
        _password_matches(None, password)
        return _refused("用户名或密码错误。", 401)
    # Each attempt is counted before its password is checked, in one statement, and only while the
    # account is not locked: attempts sent in parallel cannot all pass the check before any counts.
    attempt = g.db.execute(
        update(Official)
        .where(
            Official.id == user.id,
            Official.failed_logins < MAX_FAILURES,
            or_(Official.locked_until.is_(None), Official.locked_until <= moment),
        )
        .values(failed_logins=Official.failed_logins + 1)
        .returning(Official.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar()
    g.db.commit()
    if attempt is None:
        _password_matches(None, password)
        return _refused("连续登录失败次数过多，账号已暂时锁定，请 15 分钟后再试。", 429)
    if not _password_matches(user.password_hash, password):
        if attempt >= MAX_FAILURES:
            g.db.execute(
                update(Official)
                .where(Official.id == user.id)
                .values(locked_until=moment + LOCKOUT, failed_logins=0)
                .execution_options(synchronize_session=False)
            )
            g.db.commit()
        return _refused("用户名或密码错误。", 401)
    g.db.execute(
        update(Official)
        .where(Official.id == user.id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    # The session lives on the server; the cookie holds a random token naming it (and no part of
    # the password hash, which it used to carry).
    token = secrets.token_urlsafe(32)
    g.db.execute(
        delete(ConsoleSession).where(ConsoleSession.official_id == user.id, ConsoleSession.expires_at <= moment)
    )
    g.db.add(
        ConsoleSession(
            token_hash=_digest(token),
            official_id=user.id,
            created_at=moment,
            expires_at=moment + timedelta(hours=SESSION_HOURS),
        )
    )
    g.db.commit()
    session.clear()  # no session fixation: a fresh session for the signed-in user
    session.permanent = True
    session["sid"] = token
    return redirect(inputs.local_target(request.args.get("next"), "/console", url_for("console.queue")))


@bp.post("/logout")
def logout():
    row = g.get("console_session")
    if row is not None:
        g.db.delete(row)  # ended on the server: the old cookie, replayed, no longer signs anyone in
        g.db.commit()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("console.login"))


from bot.console import admin, field, library, outreach, views  # noqa: E402,F401  (routes register on bp)
