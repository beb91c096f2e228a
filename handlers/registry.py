"""Handlers register themselves here; the decorators only record, and a duplicate fails at import.

An intent handler answers a message by what it is about (handlers/understanding.py). An answer
handler is asked first when the bot has an open question (handlers/conversation.py: `asking`): it
returns the reply when the message answers that question, or None when it is something else — the
router then handles it by its intent and the open appeal waits for "继续".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from handlers.context import Context
    from handlers.messages import IncomingMessage, Reply
    from handlers.understanding import Understanding

Handler = Callable[["IncomingMessage", "Context"], "Reply"]
AnswerHandler = Callable[["Understanding", "Context"], Optional["Reply"]]

INTENTS: dict[str, Handler] = {}
ANSWERS: dict[str, AnswerHandler] = {}


def _register(table: dict, names: tuple[str, ...], what: str):
    def decorator(func):
        for name in names:
            if name in table:
                raise RuntimeError(f"{what} {name!r} registered twice ({table[name].__module__} and {func.__module__})")
            table[name] = func
        return func

    return decorator


def intent(*names: str):
    return _register(INTENTS, names, "intent")


def answers(*questions: str):
    return _register(ANSWERS, questions, "answer to")
