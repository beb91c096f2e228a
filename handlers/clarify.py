"""Below the confidence threshold the bot asks instead of guessing: one tap picks the category.

The user's pick routes this one ticket; it is not written back as training data (an enterprise's
guess is no label), so the exchange teaches the model nothing wrong.
"""
from __future__ import annotations

from handlers.messages import Reply
from handlers.registry import flow, intent
from nlp import rules
from nlp.categories import HINTS, KIND_OF, TICKET_CATEGORIES, label

NONE_OF_THESE = "0"


@intent("clarify")
def clarify(message, ctx) -> Reply:
    u = ctx.understanding
    return ask(ctx, text=message.text, codes=[u.category] + [c for _, c, _ in u.alternatives], confidence=u.confidence)


def ask(ctx, *, text: str, codes: list[str], confidence, exclude: str | None = None) -> Reply:
    options = [c for c in dict.fromkeys(codes) if c in TICKET_CATEGORIES and c != exclude][:3] or ["coordination"]
    ctx.state.start("clarify", text=text, options=options, confidence=confidence, guessed=codes[0] if codes else None)
    lines = [f"{i}. {label(c)}（{HINTS[c]}）" for i, c in enumerate(options, 1)]
    lines.append(f"{NONE_OF_THESE}. 都不是，请工作人员分办")
    return Reply("为了转给对口的部门，请确认您的问题属于哪一类，回复序号即可：\n" + "\n".join(lines),
                 choices=[label(c) for c in options] + ["都不是"])


@flow("clarify")
def clarify_answer(message, ctx):
    answer = rules.normalise(message.text or "").strip(" .。")
    data = dict(ctx.state.data)
    options = data.get("options", [])
    if answer == NONE_OF_THESE:
        category = "coordination"  # a person at 营商办 sorts it out
    elif answer.isdigit() and 1 <= int(answer) <= len(options):
        category = options[int(answer) - 1]
    else:
        ctx.state.clear()
        return None  # something else entirely: understand it afresh
    ctx.state.clear()
    return open_appeal(ctx, text=data["text"], kind=KIND_OF[category], category=category,
                       confidence=data.get("confidence"))


def open_appeal(ctx, *, text: str, kind: str, category: str, confidence) -> Reply:
    from handlers.appeal import start_appeal

    return start_appeal(ctx, text=text, kind=kind, category=category, confidence=confidence)
