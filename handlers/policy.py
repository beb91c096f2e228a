"""Policy questions, answered from the library (knowledge.answer) with citations, and the offer that
fits what the question was about: hand it to a department (a policy question the clause did not
settle), submit it as an appeal, or report it as a disturbance (可匿名).

A question the library does not answer gets no unrelated clause: the bot says so and offers the
department instead.
"""
from __future__ import annotations

from typing import Any, Optional

from handlers import texts
from handlers.context import Context
from handlers.conversation import Conversation, Option, numbered, pick
from handlers.details import NO, one_of
from handlers.messages import Reply
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp import rules

MAX_REPLY = 600  # characters: what one WeChat text message shows comfortably
OFFERS = {
    "policy": Option("submit", "没解决，转给负责部门答复", ("转人工", "人工", "转部门", "没解决", "还是不清楚", "提交")),
    "appeal": Option("submit", "提交诉求，由部门办理", ("提交诉求", "提交", "反映", "要办理", "帮我办")),
    "complaint": Option("submit", "反映这个问题（可匿名）", ("反映", "举报", "投诉", "反映问题", "匿名反映", "要反映")),
}


@intent("policy")
def policy(message, ctx: Context) -> Reply:
    u: Understanding = ctx.understanding
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
    from handlers.appeal import draft_of, start

    Conversation(ctx.state, ctx.now).talked_about(kind="question", question=u.text)
    return start(ctx, draft_of(u, text=u.text, kind="appeal", category="policy", confidence=u.confidence,
                               extra={"shown": []}),
                 "政策库里没有找到能直接回答这个问题的条款，我们把问题转给负责部门，由他们答复您（不需要可回复“取消”）。\n"
                 if u.question or asked else "")


def show_answer(ctx: Context, u: Understanding, found, *, kind: str, category: str) -> Reply:
    """The clauses, each with its source, then one numbered next step."""
    from handlers.appeal import draft_of

    offer = OFFERS["complaint" if kind == "complaint" else "policy" if category == "policy" else "appeal"]
    citations = found.citations
    draft = draft_of(u, text=u.text, kind=kind, category=category, extra={"shown": citations})
    conv = Conversation(ctx.state, ctx.now)
    conv.ask("offer", [offer], draft=draft)
    conv.talked_about(kind="policy", question=u.text, citations=citations)
    public = ctx.services.config.get("PUBLIC_URL", "").rstrip("/")
    parts = []
    for i, shown in enumerate(found.shown, 1):
        doc = shown.clause.document
        link = f"\n{public}/policies/{doc.id}#{shown.clause.anchor}" if public else ""
        number = f"{i}) " if len(found.shown) > 1 else ""
        parts.append(f"{number}{shown.excerpt}\n——{doc.cite} {shown.clause.path}{link}")
    tail = {"complaint": "如遇到这种情况，可以向我们反映：", "policy": "还有疑问可以转给负责部门："}.get(
        "complaint" if kind == "complaint" else category, "需要部门帮您办理的话：")
    text = "根据政策库：\n\n" + "\n\n".join(parts) + f"\n\n{tail}\n1. {offer.label}"
    return Reply(_fit(text), choices=[offer.label],
                 data={"asking": "offer", "citations": citations, "confidence": round(found.confidence, 3)})


def _fit(text: str) -> str:
    """One WeChat message: an over-long reply loses the middle of the last excerpt, not the offer."""
    if len(text) <= MAX_REPLY:
        return text
    head, _, tail = text.rpartition("\n\n")
    return head[: MAX_REPLY - len(tail) - 4] + "…\n\n" + tail


@answers("offer")
def offer_taken(u: Understanding, ctx: Context) -> Optional[Reply]:
    conv = Conversation(ctx.state, ctx.now)
    draft: Optional[dict[str, Any]] = conv.context.get("draft")
    if draft is None:
        return None
    choice = pick(u.text, conv.menu)
    if draft.get("kind") == "complaint" and (u.details.anonymous or u.details.named) and len(u.text) <= 20:
        # "匿名" after "如遇到这种情况，可以向我们反映": the report, with the choice already made
        choice = "submit"
        draft = {**draft, "anonymous": bool(u.details.anonymous)}
    if choice == "submit":
        conv.answered()
        from handlers.appeal import start

        return start(ctx, draft)
    if one_of(u.text, NO) or one_of(u.text, ("好的", "好", "知道了", "明白了", "谢谢", "收到", "懂了")):
        conv.answered()
        return Reply("好的。还有其他问题，随时留言。")
    new_matter = u.intent in ("appeal", "complaint") and u.category != draft.get("category") and len(u.text) > 15
    if (u.request or u.intent in ("appeal", "complaint")) and not (u.question and not u.request) and not new_matter:
        # "他们拖了半年了 帮我反映一下": the same matter, now as an appeal; both messages go to the department.
        # A problem of its own ("厂里变压器带不动了…") is not glued to the question before it.
        conv.answered()
        from handlers.appeal import start

        merged = {**draft, "text": f"{draft['text']}\n{u.text}"}
        if u.intent in ("appeal", "complaint"):
            merged.update(kind=u.kind, category=u.category, confidence=u.confidence,
                          anonymous=None if u.kind == "complaint" else False)
        return start(ctx, merged)
    return None


@answers("policy_question")
def policy_question(u: Understanding, ctx: Context) -> Optional[Reply]:
    """After "政策查询": the next message is the question ("免检"), unless it is a command."""
    if u.source == "rule":
        return None
    Conversation(ctx.state, ctx.now).answered()
    return answer_or_offer(ctx, u, asked=True)
