"""Greetings, thanks and help; messages that are not an enterprise's matter (off_topic); and the ones
the bot is not sure about at all."""

from __future__ import annotations

from handlers import texts
from handlers.clarify import clarify
from handlers.context import Context
from handlers.conversation import Conversation
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import intent


@intent("chitchat")
def greet(message, ctx: Context) -> Reply:
    text = (message.text or "").strip()
    if any(w in text for w in ("谢", "thank", "辛苦")):
        return Reply("不客气！还有其他需要，随时留言。")
    if text in ("再见", "拜拜"):
        return Reply("再见！有需要随时找我们。")
    return Reply(texts.WELCOME)


@intent("off_topic")
def off_topic(message, ctx: Context) -> Reply:
    """A private person's own affair, advertising, another body's business: no ticket; say whom this
    account serves and where to go instead. A question the library answers gets the answer first
    ("欠税的老板会不会被限制出境" reads as personal to the classifier, but the law answers it)."""
    u = ctx.understood
    found = u.answer(ctx.session) if u.question else None
    if found is not None:
        return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    # "那找谁问" next asks whom to contact about this very question.
    Conversation(ctx.state, ctx.now).talked_about(kind="question", question=u.text)
    return Reply(texts.OFF_TOPIC, data={"off_topic": True})


@intent("unsure")
def unsure(message, ctx: Context) -> Reply:
    """The classifier's best guess is a non-ticket intent below its threshold."""
    u = ctx.understood
    if u.question:
        found = u.answer(ctx.session)
        if found is not None:
            return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    guess = u.ticket_guess()
    best_ticket_p = max((p for _, c, p in u.alternatives if c == guess), default=0.0)
    if guess and (len(u.text) >= 8 or best_ticket_p >= 0.2):
        return clarify(message, ctx)
    return Reply(texts.NOT_UNDERSTOOD)
