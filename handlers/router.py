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

from sqlalchemy.orm import Session

from handlers import form, media, texts
from handlers.context import Context, Services
from handlers.conversation import Conversation
from handlers.details import CANCEL, CONTINUE, YES, number, one_of
from handlers.messages import IncomingMessage, Reply
from handlers.registry import ANSWERS, INTENTS
from handlers.store import load_writer, save_state
from handlers.understanding import Understanding, understand
from tickets import outbox

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
        # One message never carries two numbered menus: held notices wait for a reply that asks nothing.
        if (
            chat
            and not reply.choices
            and not reply.data.get("asking")
            and (held or outbox.held_since_flush(session, message.channel, message.user_id))
        ):
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
        if conv.draft and Conversation(ctx.state, ctx.now).asking not in form.SLOTS + ("category",):
            reply = Reply(f"{reply.text}\n\n{texts.RESUME_HINT}", choices=reply.choices, data=reply.data)
        return reply

    def _event(self, message: IncomingMessage, ctx: Context) -> Reply:
        if message.event == "subscribe":
            return Reply(texts.WELCOME)
        if message.event == "click" and message.event_key in MENU_KEYS:
            as_text = IncomingMessage(
                channel=message.channel,
                user_id=message.user_id,
                type="text",
                created_at=message.created_at,
                text=MENU_KEYS[message.event_key],
            )
            return self.on_text(as_text, ctx)
        return Reply.empty()


def anytime(u: Understanding, ctx: Context, conv: Conversation):
    """What a message means whatever was asked before."""
    from handlers import contact, inspection, outreach, status

    if one_of(u.text, CONTINUE):
        return form.resume(ctx)
    if conv.draft and one_of(u.text, CANCEL):
        return form.cancel(ctx)
    if conv.draft and one_of(u.text, YES):  # "确认提交" before the form is complete: what is still missing
        return form.next_step(ctx, "还差一点信息才能提交：\n")
    if conv.draft and conv.draft["kind"] == "complaint" and u.details.anonymous and len(u.text) <= 20:
        draft = {**conv.draft, "anonymous": True}
        conv.keep(draft)
        return form.next_step(ctx, "好的，按匿名处理：被反映的部门看不到企业信息。\n")
    if u.only_details:
        return details_alone(u, ctx, conv)
    for check in (
        outreach.preferences,
        form.change_details,
        status.rating_anytime,
        status.supplement,
        contact.confirm_call_out,
        contact.follow_up,
        inspection.check,
    ):
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
    if conv.draft is not None:
        draft = dict(conv.draft)
        form.fill(draft, u)
        conv.keep(draft)
        return form.next_step(ctx, "收到。\n")
    kept: dict = {}
    form.fill(kept, u)
    conv.talked_about(details=kept)
    return Reply("收到。请问需要办理什么事？直接描述遇到的问题，提交诉求时会用这些信息。")


def with_held_notices(ctx: Context, reply: Reply, after_number: bool = False) -> Reply:
    """Notices that could not be pushed (web chat, closed 公众号 window) go with the next reply; a
    resolution's rating request among them becomes the question a bare digit answers. A rating
    request does not follow a bare number (a repeated tap would answer it): it waits once more."""
    held = outbox.take_held(ctx.session, ctx.channel, ctx.user_id, ctx.now)
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
