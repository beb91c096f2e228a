"""One appeal, one ticket: two confirmations at once (a double tap) create one ticket, on SQLite and
on PostgreSQL, because the step that creates it consumes the dialogue state with a conditional
delete (handlers/store.consume_state)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from handlers.messages import IncomingMessage
from nlp.classifier import Prediction
from tests.stubs import StubClassifier
from tickets.models import Ticket


def _message(user: str, text: str) -> IncomingMessage:
    return IncomingMessage(
        channel="web", user_id=user, type="text", text=text, created_at=datetime.now(UTC), message_id=uuid.uuid4().hex
    )


def test_two_confirmations_at_once_make_one_ticket(demo, monkeypatch):
    state = demo.extensions["appealbot"]
    state.services.classifier = StubClassifier({"增容": Prediction("appeal", "operations", 0.95, [])})
    inbox, user = state.inbox, "double-tap"
    for text in ("申请增容两个月了还没批", "城东精工机械有限公司", "13812345678"):
        inbox.receive(_message(user, text))

    import handlers.store

    real = handlers.store.consume_state
    both_read = threading.Barrier(2, timeout=10)

    def consume_when_both_have_read(ctx):
        both_read.wait()  # each confirmation has loaded the state as "asking: confirm"
        return real(ctx)

    monkeypatch.setattr(handlers.store, "consume_state", consume_when_both_have_read)
    replies: list[str] = []

    def confirm() -> None:
        replies.append(inbox.receive(_message(user, "1")).text)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with state.Session() as s:
        assert s.scalar(select(func.count(Ticket.id))) == 1
    assert len(replies) == 2 and sum("已受理" in r for r in replies) == 1, replies
