"""Below the confidence threshold the bot asks instead of guessing: one tap picks the category.

The user's pick routes this one ticket; it is not written back as training data (an enterprise's
guess is no label), so the exchange teaches the model nothing wrong.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.conversation import Conversation, numbered, pick
from handlers.form import ask_category, change_details, draft_of, fill, next_step
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp.categories import KIND_OF


@intent("clarify")
def clarify(message, ctx: Context) -> Reply:
    u = ctx.understood
    if u.question:
        found = u.answer(ctx.session)  # a question the classifier is unsure of: the library may know
        if found is not None:
            return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    guess = u.ticket_guess() or "coordination"
    draft = draft_of(
        u,
        text=u.text,
        kind=KIND_OF[guess],
        category=guess,
        confidence=u.confidence,
        alternatives=[c for _, c, _ in u.alternatives],
    )
    return ask_category(ctx, draft=draft, codes=[guess] + [c for _, c, _ in u.alternatives])


@answers("category")
def chosen(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is None:
        return None
    choice = pick(u.text, conv.menu)
    if choice is None:
        # A changed name or phone, or "匿名", while the category is asked: noted, the question stays.
        draft = dict(conv.draft)
        if u.details.anonymous or u.details.named:
            draft["anonymous"] = bool(u.details.anonymous)
        elif u.only_details:
            fill(draft, u)
        else:
            changed = change_details(u, ctx)
            if changed is None:
                return None
            draft = dict(Conversation(ctx.state, ctx.now).draft or draft)
        conv.keep(draft)
        return Reply(
            "好的，已记下。请再选一下问题的类别：\n" + numbered(conv.menu),
            choices=[o.label for o in conv.menu],
            data={"asking": "category"},
        )
    category = "coordination" if choice == "none" else choice  # a person at 营商办 sorts it out
    draft = {**conv.draft, "category": category, "kind": KIND_OF[category]}
    if draft["kind"] == "appeal":
        draft["anonymous"] = False
    elif draft.get("anonymous") is False and conv.draft["kind"] == "appeal":
        draft["anonymous"] = None  # now a disturbance: the choice is the enterprise's to make
    conv.keep(draft)
    conv.answered()
    return next_step(ctx)
