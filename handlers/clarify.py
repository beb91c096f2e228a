"""Below the confidence threshold the bot asks instead of guessing."""
from handlers.messages import Reply
from handlers.registry import intent
from nlp.categories import label


@intent("clarify")
def clarify(message, ctx) -> Reply:
    u = ctx.understanding
    options = [(u.kind, u.category)] + [(k, c) for k, c, _ in u.alternatives][:2]
    lines = [f"{i}. {label(c)}" for i, (_, c) in enumerate(options, 1)]
    return Reply("请问您的问题属于哪一类？回复序号即可：\n" + "\n".join(lines), choices=[label(c) for _, c in options])
