"""The conversation's memory between two messages: what the bot asked (and the numbered options it
showed), the appeal being put together, and what was just talked about.

Kept in the user's DialogueState row as plain JSON, for STATE_TTL after the last message:
    asking   the open question: company_name | phone | anonymity | confirm | category | offer |
             my_tickets | report_inspection | rating | None
    menu     the numbered options shown with it: [[key, label, [words…]], …]
    draft    the appeal being put together (see handlers/appeal.py); kept when the user turns to
             something else, until it is submitted or cancelled
    later    drafts set aside by a newer appeal, submitted one after another
    topic    what the last answer was about (a policy question, a contact lookup), for follow-ups
    shown_at when the last numbered menu was shown (a rating prompt after it wins a bare number)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from handlers.context import ConversationState
from handlers.details import bare, number

FLOW = "conversation"  # the DialogueState.flow of every conversation row


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    words: tuple[str, ...] = ()

    def as_json(self) -> list:
        return [self.key, self.label, list(self.words)]


def numbered(options: Iterable[Option]) -> str:
    return "\n".join(f"{i}. {o.label}" for i, o in enumerate(options, 1))


def pick(text: str, options: list[Option]) -> str | None:
    """The option a reply chooses: its number, its label, or one of its words; None if none or two."""
    n = number(text)
    if n is not None:
        return options[n - 1].key if 1 <= n <= len(options) else None
    said = bare(text).lower().replace(" ", "")
    if not said:
        return None
    exact = [o.key for o in options if said == o.label.lower() or said in (w.lower() for w in o.words)]
    if exact:
        return exact[0]
    # "好的，确认提交吧" contains a label; "重新选择一下" starts with one. A word inside a longer matched
    # word does not count ("匿名" in "不匿名"); two options matched is no answer.
    found = [(o.key, w.lower()) for o in options for w in (o.label, *o.words) if len(w) >= 2 and w.lower() in said]
    keys = {k for k, w in found if not any(w != longer and w in longer for _, longer in found)}
    return keys.pop() if len(keys) == 1 else None


class Conversation:
    """A typed view of ConversationState.data; every change marks the state for saving."""

    def __init__(self, state: ConversationState, now):
        self.state = state
        self.now = now
        if state.flow not in (None, FLOW):  # a row written by an older version: start afresh
            state.clear()

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def _set(self, **values: Any) -> None:
        if self.state.flow is None:
            self.state.start(FLOW)
        for key, value in values.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value
        self.state.changed = True
        if not any(self.data.get(k) for k in ("asking", "draft", "later", "topic", "shown_at")):
            self.state.clear()

    # -- the open question ------------------------------------------------------------------------
    @property
    def asking(self) -> str | None:
        return self.data.get("asking")

    @property
    def menu(self) -> list[Option]:
        return [Option(k, label, tuple(words)) for k, label, words in self.data.get("menu") or []]

    @property
    def context(self) -> dict[str, Any]:
        return self.data.get("context") or {}

    def ask(self, what: str, menu: list[Option] | None = None, **context: Any) -> None:
        self._set(
            asking=what,
            menu=[o.as_json() for o in menu] if menu else None,
            context=context or None,
            shown_at=self.now.isoformat() if menu else self.data.get("shown_at"),
        )

    def answered(self) -> None:
        """The open question is closed (answered, or the user turned to something else)."""
        self._set(asking=None, menu=None, context=None)

    # -- the appeal being put together ------------------------------------------------------------
    @property
    def draft(self) -> dict[str, Any] | None:
        return self.data.get("draft")

    def keep(self, draft: dict[str, Any] | None) -> None:
        self._set(draft=dict(draft) if draft else None)

    def set_aside(self) -> None:
        """A newer appeal comes first; this one waits its turn instead of being dropped."""
        if self.draft:
            self._set(later=[*(self.data.get("later") or []), self.draft], draft=None)

    def next_later(self) -> dict[str, Any] | None:
        later = list(self.data.get("later") or [])
        if not later:
            return None
        draft = later.pop()
        self._set(later=later or None, draft=draft)
        return draft

    @property
    def waiting(self) -> int:
        return len(self.data.get("later") or []) + (1 if self.draft else 0)

    # -- what was just talked about ---------------------------------------------------------------
    @property
    def topic(self) -> dict[str, Any]:
        return self.data.get("topic") or {}

    def talked_about(self, **topic: Any) -> None:
        self._set(topic=topic or None)

    @property
    def shown_at(self) -> str | None:
        return self.data.get("shown_at")
