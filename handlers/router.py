"""The dialogue router: every text message is understood first, then placed in its context.

    understand (details, question or request, intent, confidence; the library lazily)
    → 企业微信 officials: their commands, help and 待办 (an unbound 企业微信 user is told how to bind)
    → the open question, if the message answers it (handlers/registry.py: ANSWERS)
    → what holds at any time: 继续 / 取消 an appeal, a rating, a supplement, "已联系上", an inspection
      code or "有备案吗", a changed name or phone, a bare number nothing asked for
    → the intent's handler (answer first for questions, then the appeal form, contacts, status …)
A message that does not answer the open question closes it, and the appeal being put together
waits: the reply says how to go on ("回复“继续”…"). Nothing the enterprise wrote is dropped unsaid.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, bindparam, literal, select
from sqlalchemy.orm import Session

from core.db import per_dialect
from handlers import media, texts
from handlers.context import Context, ConversationState, Services
from handlers.conversation import Conversation
from handlers.details import CANCEL, CONTINUE, YES, number, one_of
from handlers.messages import IncomingMessage, Reply
from handlers.models import DialogueState
from handlers.registry import ANSWERS, INTENTS
from handlers.understanding import Understanding, understand
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
FORM = ("anonymity", "company_name", "phone", "confirm")


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
        # One message never carries two numbered menus: held notices wait for a reply that asks nothing.
        if chat and not reply.choices and not reply.data.get("asking") \
                and (held or notify.held_since_flush(session, message.channel, message.user_id)):
            reply = with_held_notices(ctx, reply, after_number=number(message.text or "") is not None)
        if state.changed:
            save_state(session, message, state, now, now + timedelta(seconds=self.services.config["STATE_TTL"]))
        reply.data.setdefault("citations", [])  # the clauses a reply shows; a contract of /api/messages
        return reply

    def _dispatch(self, message: IncomingMessage, ctx: Context) -> Reply:
        if message.type == "event":
            return self._event(message, ctx)
        if message.type != "text" and (reply := media.receive(message, ctx)) is not None:
            return reply  # photos, files, voice without text, locations (handlers/media.py)
        if message.type in UNSUPPORTED:
            return Reply(texts.UNSUPPORTED_MEDIA)
        if message.type == "voice" and not (message.text or "").strip():
            return Reply(texts.VOICE_NOT_RECOGNISED)
        if message.type not in ("text", "voice"):
            return Reply.empty()
        return self.on_text(message, ctx)

    def on_text(self, message: IncomingMessage, ctx: Context) -> Reply:
        u = ctx.understanding = understand(message.text or "", ctx.services.classifier)
        if message.channel == "wecom":
            from handlers import officials

            reply = officials.handle(message, ctx, u)
            if reply is not None:
                return reply
        conv = Conversation(ctx.state, ctx.now)
        if conv.asking:
            answer = ANSWERS.get(conv.asking)
            reply = answer(u, ctx) if answer else None
            if reply is not None:
                return reply
            conv.answered()  # the user turned to something else; an appeal being put together waits
        reply = anytime(u, ctx, conv)
        if reply is None:
            reply = INTENTS[u.intent](message, ctx)
        if conv.draft and Conversation(ctx.state, ctx.now).asking not in FORM + ("category",):
            reply = Reply(f"{reply.text}\n\n{texts.RESUME_HINT}", choices=reply.choices, data=reply.data)
        return reply

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


def anytime(u: Understanding, ctx: Context, conv: Conversation):
    """What a message means whatever was asked before."""
    from handlers import appeal, contact, inspection, outreach, status

    if one_of(u.text, CONTINUE):
        return appeal.resume(ctx)
    if conv.draft and one_of(u.text, CANCEL):
        return appeal.cancel(ctx)
    if conv.draft and one_of(u.text, YES):  # "确认提交" before the form is complete: what is still missing
        return appeal.next_step(ctx, "还差一点信息才能提交：\n")
    if conv.draft and conv.draft["kind"] == "complaint" and u.details.anonymous and len(u.text) <= 20:
        draft = {**conv.draft, "anonymous": True}
        conv.keep(draft)
        return appeal.next_step(ctx, "好的，按匿名处理：被反映的部门看不到企业信息。\n")
    if u.only_details:
        return details_alone(u, ctx, conv)
    for check in (outreach.preferences, appeal.change_details, status.rating_anytime, status.supplement,
                  contact.confirm_call_out, inspection.check):
        reply = check(u, ctx)
        if reply is not None:
            return reply
    n = number(u.text)
    if n is not None:  # a bare number, but nothing is asked: ask what it means rather than guess
        return Reply(texts.NUMBER_WITHOUT_MENU.format(n=n))
    return None


def details_alone(u: Understanding, ctx: Context, conv: Conversation) -> Reply:
    """A name or a phone with nothing asked for it: it goes into the appeal being put together, or is
    kept for the next one — never dropped, never read as a new subject."""
    from handlers import appeal

    if conv.draft is not None:
        draft = dict(conv.draft)
        appeal.fill(draft, u)
        conv.keep(draft)
        return appeal.next_step(ctx, "收到。\n")
    kept: dict = {}
    appeal.fill(kept, u)
    conv.talked_about(details=kept)
    return Reply("收到。请问需要办理什么事？直接描述遇到的问题，提交诉求时会用这些信息。")


def with_held_notices(ctx: Context, reply: Reply, after_number: bool = False) -> Reply:
    """Notices that could not be pushed (web chat, closed 公众号 window) go with the next reply; a
    resolution's rating request among them becomes the question a bare digit answers. A rating
    request does not follow a bare number (a repeated tap would answer it): it waits once more."""
    held = notify.take_held(ctx.session, ctx.channel, ctx.user_id, ctx.now)
    if not held:
        return reply
    from handlers.status import ask_rating

    shown = []
    for n in held:
        if n.ticket is not None and "请您评价" in n.body:
            if n.ticket.status != "resolved":
                continue  # rated meanwhile (in this very message, say): the request is stale
            if after_number:
                n.status, n.sent_at, n.batch = "held", None, None
                continue
            if not Conversation(ctx.state, ctx.now).asking:
                ask_rating(ctx, n.ticket)
        shown.append(n.body)
    if not shown:
        return reply
    body = "\n\n".join(shown)
    text = f"{reply.text}\n\n【诉求动态】\n{body}" if reply.text else f"【诉求动态】\n{body}"
    return Reply(text, choices=reply.choices, data=reply.data)


def _same_writer(columns):
    return and_(columns.channel == bindparam("channel"), columns.user_id == bindparam("user_id"))


_STATES = DialogueState.__table__
# What nearly every message needs, in one round trip: the open flow, the enterprise (remembered for
# the handlers) and whether notices wait to go with the reply. The state is read and written as
# plain table rows, which cost half what ORM statements do on this path; the enterprise is an ORM
# object because handlers change it. Built once, like the statements below: they run for every message.
_WRITER = (select(_STATES.c.flow, _STATES.c.data, _STATES.c.expires_at, _STATES.c.updated_at, Enterprise,
                  notify.HELD_EXISTS)
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
    flow, data, expires_at, updated_at, enterprise, held = session.execute(_WRITER, {
        "channel": channel, "user_id": user_id, "held_channel": notify.held_channel(channel)}).one()
    service.remember_enterprise(session, channel, user_id, enterprise)
    if flow is None or expires_at <= now:
        return ConversationState(changed=flow is not None, stored=flow is not None, version=updated_at), bool(held)
    return ConversationState(flow=flow, data=dict(data or {}), stored=True, version=updated_at), bool(held)


_CONSUME = _STATES.delete().where(_same_writer(_STATES.c), _STATES.c.updated_at == bindparam("version"))


def consume_state(ctx: Context) -> bool:
    """Take the conversation for a ticket, once: a conditional delete of the row as it was read.
    Of two confirmations racing, the second finds the row changed or gone (PostgreSQL waits on the
    first one's row lock, then sees it deleted; SQLite has one writer at a time) and creates nothing."""
    state = ctx.state
    if not state.stored:
        return True
    taken = ctx.session.execute(_CONSUME, {"channel": ctx.channel, "user_id": ctx.user_id, "version": state.version})
    if taken.rowcount != 1:
        return False
    state.stored = False  # saved again (an upsert) at the end of the message, as a new row
    return True


def save_state(session: Session, message: IncomingMessage, state: ConversationState, now, expires_at) -> None:
    key = {"channel": message.channel, "user_id": message.user_id}
    if state.flow is not None:
        # now may equal the version read (a fast clock): a consumed row must never be taken twice
        if state.version is not None and now <= state.version:
            now = state.version + timedelta(microseconds=1)
        session.execute(_SAVE_STATE[session.bind.dialect.name], {
            **key, "flow": state.flow, "data": dict(state.data), "expires_at": expires_at, "now": now})
    elif state.stored:
        session.execute(_CLEAR_STATE, key)
