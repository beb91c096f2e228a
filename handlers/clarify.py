"""Below the confidence threshold the bot asks instead of guessing: one tap picks the category.

The user's pick routes this one ticket; it is not written back as training data (an enterprise's
guess is no label), so the exchange teaches the model nothing wrong.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.conversation import Conversation, numbered, pick
from handlers.form import ask_category, change_details, draft_of, fill, next_step, start
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import Understanding, understand
from nlp.categories import KIND_OF
from tickets import service


@intent("clarify")
def clarify(message, ctx: Context) -> Reply:
    u = ctx.understood
    if u.question:
        found = u.answer(ctx.session)  # a question the classifier is unsure of: the library may know
        if found is not None:
            return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    guess = u.ticket_guess() or "coordination"
    codes = [guess] + [c for _, c, _ in u.alternatives]
    # "想请人社局来厂里办个培训": the department the enterprise asks for settles a close call between
    # the likeliest categories when exactly one of them is routed to it. A disturbance names the
    # department complained about, which says nothing of the category.
    appeals = [c for c in dict.fromkeys(codes[:3]) if KIND_OF.get(c) == "appeal"]
    fits = service.categories_reaching_named(ctx.session, u.topic, appeals)
    settled = fits[0] if len(fits) == 1 and KIND_OF.get(guess) == "appeal" else None
    draft = draft_of(
        u,
        text=u.text,
        kind=KIND_OF[settled or guess],
        category=settled or guess,
        confidence=u.confidence,
        alternatives=[c for c in codes if c != (settled or guess)],
    )
    if settled:
        return start(ctx, draft)
    return ask_category(ctx, draft=draft, codes=codes)


@answers("category")
def chosen(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is None:
        return None
    choice = pick(u.text, conv.menu)
    if choice is None and u.request and not u.question and not u.only_details:
        return _more_of_the_matter(u, ctx, conv)
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
        if not (u.details.anonymous or u.details.named):
            # The enterprise moved on past the question (a name, a phone): the first guess stands for
            # now, and the confirmation shows it with "不是这一类，重新选择" rather than asking again.
            conv.keep(draft)
            conv.answered()
            return next_step(ctx, "收到。\n")
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


def _more_of_the_matter(u: Understanding, ctx: Context, conv: Conversation) -> Reply:
    """ "他们都拖了半年了 帮我反映一下" while the category is asked: the same matter, told further. It
    joins the draft's text, and the whole is classified again: sure now, the category is taken; still
    unsure, the question is asked again with the new guesses."""
    draft = {**(conv.draft or {}), "text": f"{(conv.draft or {}).get('text', '')}\n{u.text}".strip()}
    whole = understand(draft["text"], ctx.services.classifier)
    if whole.intent in ("appeal", "complaint", "policy"):
        draft.update(category=whole.category, kind=whole.kind, confidence=whole.confidence)
        draft["anonymous"] = False if whole.kind == "appeal" else draft.get("anonymous")
        conv.keep(draft)
        conv.answered()
        return next_step(ctx, "好的，已补充到诉求里。\n")
    guess = whole.ticket_guess() or draft.get("category") or "coordination"
    draft.update(category=guess, kind=KIND_OF[guess])
    return ask_category(ctx, draft=draft, codes=[guess] + [c for _, c, _ in whole.alternatives])
