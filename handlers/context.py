"""What a handler sees: the database session of this message, the services, and the user's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from core.db import utcnow

if TYPE_CHECKING:  # the understanding imports the classifier protocol defined here
    from handlers.understanding import Understanding


class Prediction(Protocol):
    kind: str
    category: str
    confidence: float
    alternatives: list


class Classifier(Protocol):
    def predict(self, text: str) -> Prediction: ...


@dataclass
class Services:
    """Long-lived collaborators, built once per process by the app factory (or a test)."""

    config: dict[str, Any]
    classifier: Classifier | None = None
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConversationState:
    flow: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    stored: bool = False  # a row exists for this user: clearing the flow deletes it
    version: datetime | None = None  # the row's updated_at when read (handlers/store.consume_state)

    def start(self, flow: str, **data: Any) -> None:
        self.flow, self.data, self.changed = flow, dict(data), True

    def update(self, **data: Any) -> None:
        self.data.update(data)
        self.changed = True

    def clear(self) -> None:
        self.flow, self.data, self.changed = None, {}, True


@dataclass
class Context:
    session: Session
    services: Services
    state: ConversationState
    now: datetime
    channel: str
    user_id: str
    understanding: Understanding | None = None  # set by the router before any handler runs

    @property
    def understood(self) -> Understanding:
        """The message as understood; intent handlers run only after the router has set it."""
        assert self.understanding is not None, "a handler ran before the message was understood"
        return self.understanding
