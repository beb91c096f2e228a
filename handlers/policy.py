"""Policy questions, answered from the library (knowledge.answer) with citations, and the offer that
fits what the question was about: hand it to a department (a policy question the clause did not
settle), submit it as an appeal, or report it as a disturbance (可匿名).

A question the library does not answer gets no unrelated clause: the bot says so and offers the
department instead.
"""

from __future__ import annotations

from typing import Any

from handlers import texts
from handlers.context import Context
from handlers.conversation import Conversation, pick
from handlers.details import NO, one_of
from handlers.form import draft_of, start
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp import rules


@intent("policy")
def policy(message, ctx: Context) -> Reply:
    u = ctx.understood
    if rules.COMMANDS.get(rules.normalise(u.text).strip(" 。.!！")) == "policy":  # the menu button
        Conversation(ctx.state, ctx.now).ask("policy_question")
        return Reply(texts.POLICY_PROMPT, data={"asking": "policy_question"})
    return answer_or_offer(ctx, u)


def answer_or_offer(ctx: Context, u: Understanding, asked: bool = False) -> Reply:
    """`asked`: the message answers "请输入您想了解的政策问题", so it is a question even without a "吗"."""
    # "出口退税申报了两个月还没退下来" states a problem: it goes to the department, not to a search.
    found = u.answer(ctx.session) if u.question or asked else None
    if found is not None:
        return show_answer(ctx, u, found, kind="appeal", category="policy")
    # Not in the library: a 政策咨询 appeal, answered by the department (cancel any time with "取消").
    Conversation(ctx.state, ctx.now).talked_about(kind="question", question=u.text)
    return start(
        ctx,
        draft_of(u, text=u.text, kind="appeal", category="policy", confidence=u.confidence, extra={"shown": []}),
        texts.NOT_IN_LIBRARY if u.question or asked else "",
    )


@answers("offer")
def offer_taken(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    draft: dict[str, Any] | None = conv.context.get("draft")
    if draft is None:
        return None
    choice = pick(u.text, conv.menu)
    if draft.get("kind") == "complaint" and (u.details.anonymous or u.details.named) and len(u.text) <= 20:
        # "匿名" after "如遇到这种情况，可以向我们反映": the report, with the choice already made
        choice = "submit"
        draft = {**draft, "anonymous": bool(u.details.anonymous)}
    if choice == "submit":
        conv.answered()
        return start(ctx, draft)
    if one_of(u.text, NO) or one_of(u.text, ("好的", "好", "知道了", "明白了", "谢谢", "收到", "懂了")):
        conv.answered()
        return Reply("好的。还有其他问题，随时留言。")
    new_matter = u.intent in ("appeal", "complaint") and u.category != draft.get("category") and len(u.text) > 15
    if (u.request or u.intent in ("appeal", "complaint")) and not (u.question and not u.request) and not new_matter:
        # "他们拖了半年了 帮我反映一下": the same matter, now as an appeal; both messages go to the department.
        # A problem of its own ("厂里变压器带不动了…") is not glued to the question before it.
        conv.answered()
        merged = {**draft, "text": f"{draft['text']}\n{u.text}"}
        if u.intent in ("appeal", "complaint"):
            merged.update(
                kind=u.kind,
                category=u.category,
                confidence=u.confidence,
                anonymous=None if u.kind == "complaint" else False,
            )
        return start(ctx, merged)
    return None


@answers("policy_question")
def policy_question(u: Understanding, ctx: Context) -> Reply | None:
    """After "政策查询": the next message is the question ("免检"), unless it is a command."""
    if u.source == "rule":
        return None
    Conversation(ctx.state, ctx.now).answered()
    return answer_or_offer(ctx, u, asked=True)
