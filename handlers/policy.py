"""Policy questions, answered from the knowledge base with citations (knowledge/).

The reply holds the best one to three clauses, each with its source, trimmed to one WeChat
message, then offers a ticket ("没解决？回复 1 转人工") carrying the question and what was shown.
When nothing scores high enough the bot says so and offers the ticket: an unrelated clause is
never presented as an answer.
"""
from __future__ import annotations

from handlers import texts
from handlers.messages import Reply
from handlers.registry import flow, intent
from knowledge.search import answerable, query_terms, search
from nlp import rules

MAX_REPLY = 600  # characters: what one WeChat text message shows comfortably
HAND_OVER = "没解决？回复 1 转人工，我们会把问题转给负责的部门。"


QUESTION = ("吗", "?", "？", "有没有", "是否", "能否", "能不能", "可不可以", "怎么", "如何", "哪些", "多少", "什么")


def looks_like_a_question(text: str) -> bool:
    return any(w in text for w in QUESTION)


@intent("policy")
def policy(message, ctx) -> Reply:
    question = rules.normalise(message.text or "")
    if rules.COMMANDS.get(question) == "policy":  # the menu button: ask for the question
        return Reply(texts.POLICY_PROMPT)
    return answer(ctx, question) or Reply(
        "抱歉，政策库里没有找到能回答这个问题的条款。回复 1 转人工，我们会请负责的部门答复您。", choices=["转人工"],
        data={"hits": []})


def answer(ctx, question: str, kind: str = "appeal", category: str = "policy", strict: bool = False):
    """Clauses that answer the question, or None. `strict` (a question the classifier filed under
    another category, "小微企业贷款有风险补偿吗") asks for more of the question to be covered."""
    terms = query_terms(question)
    hits = [h for h in search(ctx.session, question, k=3) if answerable(h, len(terms))]
    if strict:
        hits = [h for h in hits if h.coverage >= 0.6]
    shown = [{"source": h.clause.document.source, "clause": h.clause.path, "title": h.clause.document.title}
             for h in hits]
    ctx.state.start("policy_followup", question=question, shown=shown, kind=kind, category=category)
    if not hits:
        if strict:
            ctx.state.clear()
        return None
    public = ctx.services.config.get("PUBLIC_URL", "").rstrip("/")
    budget = MAX_REPLY - len(HAND_OVER) - 20
    parts = []
    for i, h in enumerate(hits, 1):
        doc = h.clause.document
        cite = f"——{doc.cite} {h.clause.path}".rstrip()
        link = f"{public}/policies/{doc.id}#{h.clause.anchor}" if public else ""
        room = budget // len(hits) - len(cite) - len(link) - 8
        body = h.clause.text.replace("\n", "")
        body = body if len(body) <= room else body[: max(room, 40) - 1] + "…"
        parts.append(f"{i}. {body}\n{cite}" + (f"\n{link}" if link else ""))
    return Reply("为您找到以下政策条款：\n\n" + "\n\n".join(parts) + "\n\n" + HAND_OVER, choices=["转人工"],
                 data={"hits": shown})


@flow("policy_followup")
def follow_up(message, ctx):
    answer = rules.normalise(message.text or "").strip(" .。")
    data = dict(ctx.state.data)
    ctx.state.clear()
    if answer not in ("1", "转人工", "人工"):
        return None  # a new question: understood afresh
    from handlers.appeal import start_appeal

    return start_appeal(ctx, text=data["question"], kind=data.get("kind", "appeal"),
                        category=data.get("category", "policy"), confidence=None,
                        extra={"shown": data.get("shown", [])})
