"""我的诉求: the enterprise's own tickets and their progress."""
from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent


@intent("ticket_status")
def ticket_status(message, ctx) -> Reply:
    return Reply(texts.NOT_READY)
