"""The app factory: defaults, then APPEALBOT_* environment variables, then the caller's mapping."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any, cast

from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from bot import config as settings
from bot.ratelimit import RateLimiter, seconds_to_next_window
from bot.state import AppState
from core.db import make_engine, make_sessionmaker
from core.errors import RequestRejected
from handlers.context import Services
from handlers.groups import GroupRouter
from handlers.inbox import Inbox
from handlers.router import DialogueRouter

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(settings.defaults())
    app.config.from_prefixed_env(settings.ENV_PREFIX)
    if config:
        app.config.update(config)
    cfg = dict(app.config)
    settings.finalize(cfg)
    app.config.update(cfg)
    app.config["MAX_CONTENT_LENGTH"] = cfg["MAX_BODY_BYTES"]
    cast(DefaultJSONProvider, app.json).ensure_ascii = False  # Chinese stays readable in every JSON answer
    app.secret_key = cfg["SECRET_KEY"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(cfg.get("PUBLIC_URL", "")).startswith("https://"),
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=None,
    )

    engine = make_engine(cfg["DATABASE_URL"])
    services = Services(config=cfg, classifier=_load_classifier(cfg))
    state = AppState(
        engine=engine,
        Session=make_sessionmaker(engine),
        services=services,
        inbox=None,  # type: ignore[arg-type]
    )
    state.inbox = Inbox(state.Session, DialogueRouter(services), retry_wait=cfg["RETRY_WAIT"])
    state.bot_inbox = Inbox(state.Session, GroupRouter(services), retry_wait=cfg["RETRY_WAIT"])
    state.redis = _redis(cfg)
    state.limiter = RateLimiter(state.redis)
    _init_crypto(state, cfg)
    app.extensions["appealbot"] = state
    if cfg["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to wrap the WSGI app; mypy takes the attribute for a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg["PROXY_COUNT"], x_proto=cfg["PROXY_COUNT"])  # type: ignore[method-assign]
    _register_rate_limit(app)
    from delivery import queue

    queue.install(app.config, state)

    from flask_wtf.csrf import CSRFProtect

    from bot import api, console
    from bot.channels import web, wechat, wecom, wecom_bot
    from bot.web import outreach, policies, verify

    csrf = CSRFProtect(app)
    for blueprint in (
        web.bp,
        wechat.bp,
        wecom.bp,
        wecom_bot.bp,
        policies.bp,
        api.bp,
        console.bp,
        verify.bp,
        outreach.bp,
    ):
        app.register_blueprint(blueprint)
    # outreach: the signed token in the address is the credential (bot/web/outreach.py)
    for blueprint in (web.bp, wechat.bp, wecom.bp, wecom_bot.bp, api.bp, verify.bp, outreach.bp):
        csrf.exempt(blueprint)  # signed by the platform or a bearer token; no browser session to forge
    _register_error_handlers(app)
    _register_security_headers(app)
    return app


def _register_security_headers(app: Flask) -> None:
    """Every answer: no framing (clickjacking), no MIME sniffing, scripts only from here or inline
    with this response's nonce (templates write `nonce="{{ csp_nonce }}"`), no referrer elsewhere."""

    @app.context_processor
    def nonce():
        if "csp_nonce" not in g:
            g.csp_nonce = secrets.token_urlsafe(16)
        return {"csp_nonce": g.csp_nonce}

    @app.after_request
    def headers(response):
        script = f"'self' 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            (
                f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            ),
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def _redis(cfg):
    if not cfg.get("REDIS_URL"):
        return None
    import redis

    # Short timeouts: a Redis outage must degrade to per-process behaviour, not stall the webhook.
    return redis.Redis.from_url(cfg["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5)


def _has_nul(values) -> bool:
    return any("\x00" in v for v in values)


# Console forms that carry files: they may be as large as ingest accepts; every other body keeps
# MAX_BODY_BYTES (the webhooks', the JSON API's).
UPLOAD_ENDPOINTS = (
    "console.documents_upload",
    "console.contacts_import",
    "console.push_publish",
    "console.enterprises_import",
)


def _register_rate_limit(app: Flask) -> None:
    @app.before_request
    def upload_limit():
        # Registered first: the checks below (and CSRF protection) read the form.
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = app.config["MAX_UPLOAD_BYTES"]

    @app.before_request
    def refuse_nul():
        # NUL means nothing in a form or a URL, and PostgreSQL refuses it in text: stop it at the door
        # rather than let each query discover it. The chat channels strip it from messages instead.
        if request.path in ("/wechat", "/wecom", "/wecom/bot", "/api/messages"):
            return None
        if (
            "\x00" in request.path
            or _has_nul(request.args.keys())
            or _has_nul(request.args.values())
            or (
                request.method in ("POST", "PUT", "PATCH")
                and request.mimetype != "application/json"
                and (_has_nul(request.form.keys()) or _has_nul(request.form.values()))
            )
            or (request.is_json and b"\\u0000" in request.get_data(cache=True))
        ):
            raise RequestRejected(400, "请求含有非法字符（NUL）")
        return None

    @app.before_request
    def limit_by_address():
        # The platforms call back from a handful of addresses on behalf of every user: their
        # signed callbacks are limited per user (bot/channels/platform.py), not per address.
        if request.path in ("/healthz", "/wechat", "/wecom", "/wecom/bot") or request.path.startswith("/static/"):
            return None
        state = app.extensions["appealbot"]
        if not state.limiter.allow("addr", request.remote_addr or "-", app.config["RATE_LIMIT_ADDR"]):
            wait = seconds_to_next_window()
            raise RequestRejected(429, f"请求过于频繁，请在 {wait} 秒后再试", retry_after=wait)
        return None


def _load_classifier(cfg):
    from nlp import classifier

    return classifier.load_if_present(cfg["MODEL_PATH"])


def _init_crypto(state: AppState, cfg) -> None:
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

    if cfg.get("WECHAT_AES_KEY"):
        state.wechat_key = settings.check_aes_key("WECHAT_AES_KEY", cfg["WECHAT_AES_KEY"])
        state.wechat_crypto = WeChatCrypto(cfg["WECHAT_TOKEN"], cfg["WECHAT_AES_KEY"], cfg["WECHAT_APPID"])
    if cfg.get("WECOM_AES_KEY"):
        state.wecom_key = settings.check_aes_key("WECOM_AES_KEY", cfg["WECOM_AES_KEY"])
        state.wecom_crypto = WeComCrypto(cfg["WECOM_TOKEN"], cfg["WECOM_AES_KEY"], cfg["WECOM_CORP_ID"])
    if cfg.get("WECOM_BOT_AES_KEY"):
        state.wecom_bot_key = settings.check_aes_key("WECOM_BOT_AES_KEY", cfg["WECOM_BOT_AES_KEY"])


# What a caller reads for each status werkzeug raises (its own descriptions are English paragraphs).
HTTP_MESSAGES = {
    400: "请求格式不正确",
    401: "需要登录",
    403: "没有权限",
    404: "页面或资源不存在",
    405: "不支持该请求方法",
    408: "请求超时，请重新提交",
    409: "与当前状态冲突，请刷新后重试",
    413: "提交的内容过大",
    414: "网址过长",
    415: "不支持的内容类型",
    429: "请求过于频繁，请稍后再试",
    431: "请求头过大",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


# What a person reads instead of Werkzeug's English pages (title, sentence).
ERROR_PAGES = {
    400: ("请求有误", "请求的内容或格式不正确，请检查后重试。"),
    401: ("需要登录", "请先登录后再访问。"),
    403: ("无权访问", "您的账号没有访问这个页面或执行这项操作的权限。"),
    404: ("页面不存在", "没有找到您要访问的页面或工单：可能编号有误，或不属于您所在的部门。"),
    405: ("不支持的操作", "这个页面不支持这种访问方式。"),
    413: ("内容过大", "上传或提交的内容超过了允许的大小。"),
    429: ("操作过于频繁", "请稍等一分钟后再试。"),
    500: ("系统出错了", "服务器处理时出现问题，已记录，请稍后再试。"),
    503: ("服务暂时不可用", "系统正在恢复，请稍后再试。"),
}


def error_page(code: int, detail: str | None = None):
    """A Chinese page for browsers; `detail` only when it is a sentence written for users (Chinese)."""
    from flask import render_template

    title, message = ERROR_PAGES.get(code, ("出错了", "请求未能完成，请稍后再试。"))
    if detail and any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        message = detail
    home = "/console/" if request.path.startswith("/console") else "/"
    return render_template("error.html", code=code, title=title, message=message, home=home), code


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestRejected)
    def rejected(exc: RequestRejected):
        log.warning("rejected %s %s from %s: %s", request.method, request.path, request.remote_addr, exc.reason)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        if _wants_json():
            return jsonify(error=exc.reason), exc.status, headers
        if request.path.startswith(("/console", "/policies", "/verify")):  # a person at a browser
            page, code = error_page(exc.status, exc.reason)
            return page, code, headers
        return exc.reason, exc.status, {"Content-Type": "text/plain; charset=utf-8", **headers}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            log.warning("rejected %s %s: body too large", request.method, request.path)
        if isinstance(exc, CSRFError):
            message = "表单已过期或缺少安全令牌，请刷新页面后重试"
        else:
            message = HTTP_MESSAGES.get(exc.code or 500, "请求无法处理")
        if _wants_json():
            return jsonify(error=message), exc.code
        return error_page(exc.code or 500, message)

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError):
        # The database is unreachable for a moment: WeChat retries a 5xx, so nothing is lost.
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        if _wants_json():
            return jsonify(error="服务暂时不可用，请稍后再试"), 503
        return error_page(503)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # The one broad edge: log the traceback, tell the caller nothing about the internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return jsonify(error="内部错误，请稍后再试"), 500
        return error_page(500)
