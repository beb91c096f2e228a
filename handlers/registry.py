"""Handlers register themselves here; the decorators only record, and a duplicate fails at import.

An intent handler answers a message the classifier understood; a flow handler continues a
multi-turn conversation and may return None to let the message be understood afresh (the user
changed the subject).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from handlers.context import Context
    from handlers.messages import IncomingMessage, Reply

Handler = Callable[["IncomingMessage", "Context"], "Reply"]
FlowHandler = Callable[["IncomingMessage", "Context"], Optional["Reply"]]

INTENTS: dict[str, Handler] = {}
FLOWS: dict[str, FlowHandler] = {}


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


def flow(*names: str):
    return _register(FLOWS, names, "flow")
