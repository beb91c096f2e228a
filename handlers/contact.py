"""一叫就到: who handles a matter, as a contact card."""
from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent


@intent("contact_lookup")
def contact_lookup(message, ctx) -> Reply:
    return Reply(texts.CONTACT_PROMPT)
