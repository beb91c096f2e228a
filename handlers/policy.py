"""Policy questions, answered from the knowledge base with citations (knowledge/)."""
from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent


@intent("policy")
def policy(message, ctx) -> Reply:
    return Reply(texts.POLICY_PROMPT)
