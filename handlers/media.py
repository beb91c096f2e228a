"""Photos, voice the platform did not recognise, videos and files as evidence; a location as where.

A media message is attached, in this order, to:
    the appeal being put together (its draft's extra["attachments"]; the form's question is asked again),
    a ticket waiting for 补充材料 (a supplement: the clock starts again),
    the enterprise's latest ticket created within the conversation's lifetime (STATE_TTL),
    or, with none of these, kept for the appeal the enterprise describes next (tickets/attachments.adopt).
The queue downloads it afterwards (tickets/attachments.py); the reply never waits for the platform.
A location fills the region of the appeal being put together (it routes by region), or of the
latest ticket, and the enterprise's profile when it has none.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from handlers import form
from handlers.context import Context
from handlers.conversation import Conversation
from handlers.messages import IncomingMessage, Reply
from tickets import attachments, outbox, service
from tickets.lifecycle import Actor, Lifecycle
from tickets.models import Department, RoutingRule, Ticket
from tickets.transitions import OPEN

MEDIA = ("image", "voice", "video", "shortvideo", "file")


def receive(message: IncomingMessage, ctx: Context) -> Reply | None:
    """The reply to a media or location message, or None when it is neither (or carries nothing
    to keep: the router answers as before)."""
    if message.type == "location":
        return location(message, ctx)
    if message.type not in MEDIA or (message.type == "voice" and (message.text or "").strip()):
        return None
    media_id = (message.media or {}).get("media_id")
    if not media_id or message.channel not in ("wechat", "wecom"):
        return None
    what = attachments.KIND_NAMES.get(message.type, "文件")
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is not None:
        return _to_draft(ctx, conv, message, media_id, what)
    mine = service.tickets_of(ctx.session, ctx.channel, ctx.user_id, limit=20)
    waiting = next((t for t in mine if t.status == "waiting"), None)
    if waiting is not None:
        attachments.record(ctx.session, ctx.channel, ctx.user_id, message.type, media_id, ctx.now, ticket=waiting)
        Lifecycle(ctx.session, ctx.now, ctx.services.config).supplement(
            waiting, Actor("enterprise", ctx.user_id), f"企业补充了{what}材料（见附件）"
        )
        return Reply(
            f"已收到{what}，作为诉求 {waiting.number} 的补充材料转给承办部门，办理期限恢复计算。",
            data={"ticket": waiting.number, "attachment": what},
        )
    recent = _recent(ctx, mine)
    if recent is not None:
        attachments.record(ctx.session, ctx.channel, ctx.user_id, message.type, media_id, ctx.now, ticket=recent)
        Lifecycle(ctx.session, ctx.now, ctx.services.config).note(
            recent, Actor("enterprise", ctx.user_id), f"企业补充了{what}（见附件）"
        )
        if recent.department is not None:
            outbox.department(
                ctx.session, recent, f"企业补充了材料：{recent.number}", f"企业发来{what}，请在工单页面查看。"
            )
        return Reply(
            f"已收到{what}，已附在诉求 {recent.number} 上，承办部门可以看到。",
            data={"ticket": recent.number, "attachment": what},
        )
    attachments.record(ctx.session, ctx.channel, ctx.user_id, message.type, media_id, ctx.now)
    return Reply(
        f"已收到{what}。请再用文字说明遇到了什么问题，提交诉求时会把这个{what}一并附上。", data={"attachment": what}
    )


def _to_draft(ctx: Context, conv: Conversation, message: IncomingMessage, media_id: str, what: str) -> Reply:
    att = attachments.record(ctx.session, ctx.channel, ctx.user_id, message.type, media_id, ctx.now)
    draft = dict(conv.draft or {})
    extra = dict(draft.get("extra") or {})
    extra["attachments"] = [*[i for i in extra.get("attachments") or [] if i != att.id], att.id]
    draft["extra"] = extra
    conv.keep(draft)
    note = f"已收到{what}（共 {len(extra['attachments'])} 个附件），提交时一并转给承办部门。\n"
    if conv.asking in form.SLOTS:
        return form.next_step(ctx, note)  # the form's question again, after the acknowledgement
    return Reply(
        note + "回复“继续”接着提交诉求。" if not conv.asking else note + "请先回答上面的问题。",
        data={"attachment": what},
    )


def _recent(ctx: Context, mine: list[Ticket]) -> Ticket | None:
    since = ctx.now - timedelta(seconds=int(ctx.services.config.get("STATE_TTL") or 1800))
    latest = mine[0] if mine else None
    if latest is not None and latest.created_at >= since and latest.status in (*OPEN, "resolved"):
        return latest
    return None


# -- location ------------------------------------------------------------------------------------


def known_regions(session) -> list[str]:
    """The regions departments and routing rules name (城东区 …), longest first."""
    names = set(session.scalars(select(Department.region))) | set(session.scalars(select(RoutingRule.region)))
    return sorted((n for n in names if n), key=len, reverse=True)


def region_of(session, label: str) -> str | None:
    return next((r for r in known_regions(session) if r in (label or "")), None)


def location(message: IncomingMessage, ctx: Context) -> Reply:
    media = message.media or {}
    label = (media.get("label") or "").strip()
    where = {"lat": media.get("lat"), "lng": media.get("lng"), "label": label[:200]}
    region = region_of(ctx.session, label)
    if region:
        where["region"] = region
    ent = service.find_enterprise(ctx.session, ctx.channel, ctx.user_id)
    if region and (ent is None or not ent.region):
        service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, region=region)
    shown = label or f"{where['lat']}, {where['lng']}"
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is not None:
        draft = dict(conv.draft)
        draft["extra"] = {**(draft.get("extra") or {}), "location": where}
        conv.keep(draft)
        note = f"已记录位置：{shown}" + (f"（{region}）" if region else "") + "，提交时一并转给承办部门。\n"
        if conv.asking in form.SLOTS:
            return form.next_step(ctx, note)
        return Reply(note + "回复“继续”接着提交诉求。", data={"location": where})
    recent = _recent(ctx, service.tickets_of(ctx.session, ctx.channel, ctx.user_id, limit=5))
    if recent is not None:
        if region and not recent.region:
            recent.region = region
        recent.extra = {**(recent.extra or {}), "location": where}
        Lifecycle(ctx.session, ctx.now, ctx.services.config).note(
            recent, Actor("enterprise", ctx.user_id), f"企业发送了位置：{shown}"
        )
        return Reply(
            f"已记录位置：{shown}，附在诉求 {recent.number} 上。", data={"ticket": recent.number, "location": where}
        )
    return Reply(
        f"已记录位置：{shown}。" + (f"以后的诉求按{region}办理。" if region else "") + "请用文字说明遇到了什么问题。",
        data={"location": where},
    )
