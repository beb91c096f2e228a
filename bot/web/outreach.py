"""Pages an enterprise opens from a notice on its phone: the one-tap rating page (`/r/<token>`) and a
pushed policy document (`/p/<token>`, which records the opening and shows the document).

The signed token in the address is the credential (no session, no CSRF token: a forged form would
need the token itself). The rating goes through the lifecycle's table of actions, once.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from bot.state import appstate
from core import settings
from core.errors import UserError
from nlp.categories import label
from tickets import policy_push, rating_links
from tickets.lifecycle import RATINGS, Actor, Lifecycle

log = logging.getLogger(__name__)
bp = Blueprint("outreach", __name__)
CHOICES = sorted(RATINGS.items(), reverse=True)  # 5 非常满意 first, as the chat shows them


def _page(outcome: str, status: int = 200, **values):
    return render_template("rate.html", outcome=outcome, ratings=CHOICES, **values), status


@bp.get("/r/<token>")
def rating_page(token: str):
    state = appstate()
    with state.Session() as s, s.begin():
        now = state.services.clock()
        link = rating_links.find(s, token[:40], state.services.config["SECRET_KEY"])
        if link is None:
            return _page("missing", 404)
        where = rating_links.state(link, now)
        if where != "usable":
            return _page(where, 410 if where == "expired" else 200)
        rating_links.opened(s, link, now)  # seen: the answer reached the enterprise
        t = link.ticket
        return _page(
            "form", t=t, category=label(t.category), days=settings.value(state.services.config, "RATING_LINK_DAYS")
        )


@bp.post("/r/<token>")
def rating_submit(token: str):
    state = appstate()
    config = state.services.config
    rating = request.form.get("rating", type=int)
    comment = (request.form.get("comment") or "").strip()[:500] or None
    with state.Session() as s:
        now = state.services.clock()
        try:
            with s.begin():
                link = rating_links.find(s, token[:40], config["SECRET_KEY"])
                if link is None:
                    return _page("missing", 404)
                where = rating_links.state(link, now)
                if where != "usable":
                    return _page(where, 410 if where == "expired" else 409)
                ticket = link.ticket
                if rating not in RATINGS:
                    return _page(
                        "form",
                        400,
                        t=ticket,
                        category=label(ticket.category),
                        error="请选择一项评价。",
                        days=settings.value(config, "RATING_LINK_DAYS"),
                    )
                if not rating_links.claim(s, link, now):
                    return _page("used", 409)
                Lifecycle(s, now, config).perform(
                    ticket, Actor("enterprise", ticket.enterprise.user_id), "rate", rating=rating, text=comment
                )
                number, closed = ticket.number, ticket.status == "closed"
        except (UserError, StaleDataError) as exc:  # rated in chat at this very moment: nothing half-done
            log.info("rating link refused: %s", type(exc).__name__)
            return _page("used", 409)
    message = "已办结归档。" if closed else "我们很抱歉没能让您满意，已安排重新办理。"
    return _page("done", number=number, message=f"{RATINGS[rating]}，{message}")


@bp.get("/rate")
def rating_menu():
    """The menu's rating page: 公众号 web authorisation (snsapi_base, no prompt) names the user, who
    sees the answers waiting for a rating, each with its link. Without the AppSecret: how to rate."""
    state = appstate()
    config = state.services.config
    if not config.get("WECHAT_APPID") or not config.get("WECHAT_SECRET"):
        return _page("how")
    from wechatpy.exceptions import WeChatException
    from wechatpy.oauth import WeChatOAuth

    oauth = WeChatOAuth(
        config["WECHAT_APPID"],
        config["WECHAT_SECRET"],
        f"{str(config['PUBLIC_URL']).rstrip('/')}/rate",
        scope="snsapi_base",
        state="rate",
    )
    oauth.API_BASE_URL = str(config["WECHAT_API_BASE"]).rstrip("/") + "/"
    code = request.args.get("code", "")[:128]
    if not code:
        return redirect(oauth.authorize_url)
    try:
        openid = oauth.fetch_access_token(code)["openid"]
    except (WeChatException, KeyError, ValueError) as exc:
        log.info("rating page authorisation failed: %s", type(exc).__name__)
        return _page("how", 403, message="没能确认您的身份，请从公众号菜单重新进入。")
    from tickets import service

    with state.Session() as s, s.begin():
        now = state.services.clock()
        waiting = [
            (t, rating_links.current(s, t, now, config))
            for t in service.tickets_of(s, "wechat", openid, limit=20)
            if t.status == "resolved"
        ]
        return _page("list", waiting=[(t, link) for t, link in waiting if link])


@bp.get("/p/<token>")
def pushed_policy(token: str):
    """The link of a policy push: records that this enterprise opened it, then shows the document."""
    state = appstate()
    with state.Session() as s, s.begin():
        target = policy_push.find_target(s, token[:40], state.services.config["SECRET_KEY"])
        if target is None:
            abort(404)
        if target.opened_at is None:
            target.opened_at = state.services.clock()
        document_id = target.push.document_id
    return redirect(url_for("policies.document", document_id=document_id))
