"""Below the confidence threshold the bot asks instead of guessing: one tap picks the category.

The user's pick routes this one ticket; it is not written back as training data (an enterprise's
guess is no label), so the exchange teaches the model nothing wrong.
"""
from __future__ import annotations

from typing import Any, Optional

from handlers.context import Context
from handlers.conversation import Conversation, Option, numbered, pick
from handlers.messages import Reply
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp.categories import HINTS, KIND_OF, TICKET_CATEGORIES, label

NONE_OF_THESE = Option("none", "都不是，请工作人员分办", ("都不是", "都不对", "不知道", "不清楚", "其他", "别的"))


@intent("clarify")
def clarify(message, ctx: Context) -> Reply:
    u: Understanding = ctx.understanding
    if u.question:
        found = u.answer(ctx.session)  # a question the classifier is unsure of: the library may know
        if found is not None:
            from handlers.policy import show_answer

            return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    from handlers.appeal import draft_of

    guess = u.ticket_guess() or "coordination"
    draft = draft_of(u, text=u.text, kind=KIND_OF[guess], category=guess, confidence=u.confidence,
                     alternatives=[c for _, c, _ in u.alternatives])
    return ask(ctx, draft=draft, codes=[guess] + [c for _, c, _ in u.alternatives])


def ask(ctx: Context, *, draft: dict[str, Any], codes: list[str], exclude: Optional[str] = None) -> Reply:
    options = [c for c in dict.fromkeys(codes) if c in TICKET_CATEGORIES and c != exclude][:3] or ["coordination"]
    menu = [Option(c, f"{label(c)}（{HINTS[c]}）", (label(c),)) for c in options] + [NONE_OF_THESE]
    conv = Conversation(ctx.state, ctx.now)
    conv.keep(draft)
    conv.ask("category", menu)
    return Reply("为了转给对口的部门，请确认您的问题属于哪一类，回复序号即可：\n" + numbered(menu),
                 choices=[label(c) for c in options] + ["都不是"], data={"asking": "category"})


@answers("category")
def chosen(u: Understanding, ctx: Context) -> Optional[Reply]:
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is None:
        return None
    choice = pick(u.text, conv.menu)
    if choice is None:
        # A changed name or phone, or "匿名", while the category is asked: noted, the question stays.
        from handlers.appeal import change_details, fill

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
        return Reply("好的，已记下。请再选一下问题的类别：\n" + numbered(conv.menu), choices=[o.label for o in conv.menu],
                     data={"asking": "category"})
    category = "coordination" if choice == "none" else choice  # a person at 营商办 sorts it out
    draft = {**conv.draft, "category": category, "kind": KIND_OF[category]}
    if draft["kind"] == "appeal":
        draft["anonymous"] = False
    elif draft.get("anonymous") is False and conv.draft["kind"] == "appeal":
        draft["anonymous"] = None  # now a disturbance: the choice is the enterprise's to make
    conv.keep(draft)
    conv.answered()
    from handlers.appeal import next_step

    return next_step(ctx)
