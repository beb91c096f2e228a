"""The dialogue router: message type, open flow, then understanding, then one handler per intent."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, bindparam, literal, select
from sqlalchemy.orm import Session

from bot.db import per_dialect
from handlers import texts
from handlers.context import Context, ConversationState, Services
from handlers.messages import IncomingMessage, Reply
from handlers.models import DialogueState
from handlers.registry import FLOWS, INTENTS
from handlers.understanding import understand
from tickets import notify, service
from tickets.models import Enterprise

log = logging.getLogger(__name__)

# Menu buttons send the same words a user could type, so both take one path.
MENU_KEYS = {
    "APPEAL": "我要反映问题",
    "POLICY": "政策查询",
    "CONTACT": "一叫就到",
    "MY_TICKETS": "我的诉求",
}
UNSUPPORTED = {"image", "location", "link", "file", "video", "shortvideo"}


class DialogueRouter:
    def __init__(self, services: Services):
        import handlers.builtin  # noqa: F401  (registers every handler)

        self.services = services

    def handle(self, session: Session, message: IncomingMessage) -> Reply:
        now = self.services.clock()
        state, held = load_writer(session, message.channel, message.user_id, now)
        ctx = Context(session, self.services, state, now, message.channel, message.user_id)
        reply = self._dispatch(message, ctx)
        chat = message.channel != "wecom" and message.type != "event" or message.event == "click"
        if chat and (held or notify.held_since_flush(session, message.channel, message.user_id)):
            reply = with_held_notices(session, message, reply, now)
        if state.changed:
            save_state(session, message, state, now, now + timedelta(seconds=self.services.config["STATE_TTL"]))
        return reply

    def _dispatch(self, message: IncomingMessage, ctx: Context) -> Reply:
        if message.type == "event":
            return self._event(message, ctx)
        if message.type in UNSUPPORTED:
            return Reply(texts.UNSUPPORTED_MEDIA)
        if message.type == "voice" and not (message.text or "").strip():
            return Reply(texts.VOICE_NOT_RECOGNISED)
        if message.type not in ("text", "voice"):
            return Reply.empty()
        return self.on_text(message, ctx)

    def on_text(self, message: IncomingMessage, ctx: Context) -> Reply:
        # Officials write from 企业微信; their commands (签收/办结/退回 …) come before anything else.
        if message.channel == "wecom" and "official" in INTENTS:
            reply = INTENTS["official"](message, ctx)
            if reply is not None:
                return reply
        if ctx.state.flow:
            handler = FLOWS.get(ctx.state.flow)
            if handler is None:
                ctx.state.clear()
            else:
                reply = handler(message, ctx)
                if reply is not None:
                    return reply
        # A rating or a supplement answers what the bot asked earlier, outside any flow.
        reply = INTENTS["enterprise_pending"](message, ctx)
        if reply is not None:
            return reply
        ctx.understanding = understand(message.text or "", ctx.services.classifier)
        return INTENTS[ctx.understanding.intent](message, ctx)

    def _event(self, message: IncomingMessage, ctx: Context) -> Reply:
        if message.event == "subscribe":
            return Reply(texts.WELCOME)
        if message.event == "click" and message.event_key in MENU_KEYS:
            as_text = IncomingMessage(
                channel=message.channel, user_id=message.user_id, type="text",
                created_at=message.created_at, text=MENU_KEYS[message.event_key],
            )
            return self.on_text(as_text, ctx)
        return Reply.empty()


def with_held_notices(session: Session, message: IncomingMessage, reply: Reply, now) -> Reply:
    """Notices that could not be pushed (web chat, closed 公众号 window) go with the next reply."""
    held = notify.take_held(session, message.channel, message.user_id, now)
    if not held:
        return reply
    text = f"{reply.text}\n\n【诉求动态】\n{held}" if reply.text else f"【诉求动态】\n{held}"
    return Reply(text, choices=reply.choices, data=reply.data)


def _same_writer(columns):
    return and_(columns.channel == bindparam("channel"), columns.user_id == bindparam("user_id"))


_STATES = DialogueState.__table__
# What nearly every message needs, in one round trip: the open flow, the enterprise (remembered for
# the handlers) and whether notices wait to go with the reply. The state is read and written as
# plain table rows, which cost half what ORM statements do on this path; the enterprise is an ORM
# object because handlers change it. Built once, like the statements below: they run for every message.
_WRITER = (select(_STATES.c.flow, _STATES.c.data, _STATES.c.expires_at, Enterprise, notify.HELD_EXISTS)
           .select_from(select(literal(1).label("one")).subquery("writer"))
           .outerjoin(_STATES, _same_writer(_STATES.c))
           .outerjoin(Enterprise, _same_writer(Enterprise)))


def _upsert_state(insert):
    stmt = insert(_STATES).values(channel=bindparam("channel"), user_id=bindparam("user_id"), flow=bindparam("flow"),
                                  data=bindparam("data"), expires_at=bindparam("expires_at"),
                                  updated_at=bindparam("now"))
    # An upsert: two first messages of one user at once leave one state, not a unique violation.
    return stmt.on_conflict_do_update(index_elements=["channel", "user_id"], set_={
        name: stmt.excluded[name] for name in ("flow", "data", "expires_at", "updated_at")})


_SAVE_STATE = per_dialect(_upsert_state)
_CLEAR_STATE = _STATES.delete().where(_same_writer(_STATES.c))


def load_writer(session: Session, channel: str, user_id: str, now) -> tuple[ConversationState, bool]:
    """The user's conversation state, and whether held notices wait for them."""
    flow, data, expires_at, enterprise, held = session.execute(_WRITER, {
        "channel": channel, "user_id": user_id, "held_channel": notify.held_channel(channel)}).one()
    service.remember_enterprise(session, channel, user_id, enterprise)
    if flow is None or expires_at <= now:
        return ConversationState(changed=flow is not None, stored=flow is not None), bool(held)
    return ConversationState(flow=flow, data=dict(data or {}), stored=True), bool(held)


def save_state(session: Session, message: IncomingMessage, state: ConversationState, now, expires_at) -> None:
    key = {"channel": message.channel, "user_id": message.user_id}
    if state.flow is not None:
        session.execute(_SAVE_STATE[session.bind.dialect.name], {
            **key, "flow": state.flow, "data": dict(state.data), "expires_at": expires_at, "now": now})
    elif state.stored:
        session.execute(_CLEAR_STATE, key)
