"""Appeals (有求必应) and disturbance reports (无事不扰): they become tickets (tickets/)."""
from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent
from nlp.categories import label


@intent("appeal_start")
def appeal_start(message, ctx) -> Reply:
    return Reply(texts.APPEAL_PROMPT)


@intent("appeal", "complaint")
def appeal(message, ctx) -> Reply:
    u = ctx.understanding
    return Reply(f"已收到您反映的“{label(u.category)}”类问题。{texts.NOT_READY}",
                 data={"kind": u.kind, "category": u.category, "confidence": u.confidence})
