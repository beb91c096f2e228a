"""A clause the library found, shown with its source, and the one next step that fits the matter:
hand it to a department, submit it as an appeal, or report it as a disturbance (可匿名).

Below the handlers that answer questions (policy, appeal, clarify, chitchat): each shows a found
clause the same way.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.conversation import Conversation, Option
from handlers.form import draft_of
from handlers.messages import Reply
from handlers.understanding import Understanding

MAX_REPLY = 600  # characters: what one WeChat text message shows comfortably
OFFERS = {
    "policy": Option(
        "submit", "没解决，转给负责部门答复", ("转人工", "人工", "转部门", "没解决", "还是不清楚", "提交")
    ),
    "appeal": Option("submit", "提交诉求，由部门办理", ("提交诉求", "提交", "反映", "要办理", "帮我办")),
    "complaint": Option("submit", "反映这个问题（可匿名）", ("反映", "举报", "投诉", "反映问题", "匿名反映", "要反映")),
}


def show_answer(ctx: Context, u: Understanding, found, *, kind: str, category: str) -> Reply:
    """The clauses, each with its source, then one numbered next step."""
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
        "complaint" if kind == "complaint" else category, "需要部门帮您办理的话："
    )
    text = "根据政策库：\n\n" + "\n\n".join(parts) + f"\n\n{tail}\n1. {offer.label}"
    return Reply(
        _fit(text),
        choices=[offer.label],
        data={"asking": "offer", "citations": citations, "confidence": round(found.confidence, 3)},
    )


def _fit(text: str) -> str:
    """One WeChat message: an over-long reply loses the middle of the last excerpt, not the offer."""
    if len(text) <= MAX_REPLY:
        return text
    head, _, tail = text.rpartition("\n\n")
    return head[: MAX_REPLY - len(tail) - 4] + "…\n\n" + tail
