"""Exactly-once processing: store every inbound message first, handle it once, replay the reply.

WeChat retries a message it got no answer to within 5 s, up to three times, and retries may reach
different worker processes at once. The unique `dedupe_key` decides which delivery handles the
message; the others wait briefly for its stored reply and answer the same, never a second effect.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import sessionmaker

from bot.db import per_dialect, utcnow
from bot.errors import UserError
from handlers import texts
from handlers.messages import IncomingMessage, Reply
from handlers.models import InboundMessage
from handlers.router import DialogueRouter

log = logging.getLogger(__name__)


def _storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; it carries no meaning in a chat message anyway."""
    return text.replace("\x00", "") if text else text


# Built once, as they run for every message; plain table statements (not ORM-enabled ones, which
# cost twice as much here), and the session has no copy of the row to keep in step.
_MESSAGES = InboundMessage.__table__
# INSERT … ON CONFLICT DO NOTHING RETURNING id: a retry is told apart without an error.
_STORE = per_dialect(lambda insert: insert(_MESSAGES).on_conflict_do_nothing(index_elements=["dedupe_key"])
                     .returning(_MESSAGES.c.id))
_HANDLED = (_MESSAGES.update().where(_MESSAGES.c.id == bindparam("row_id"))
            .values(status="handled", reply=bindparam("reply_"), handled_at=bindparam("at")))


class Inbox:
    def __init__(self, Session: sessionmaker, router: DialogueRouter, retry_wait: float = 3.0):
        self.Session = Session
        self.router = router
        self.retry_wait = retry_wait
        engine = Session.kw["bind"]
        # One statement that commits by itself: the message is durable before handling starts,
        # without a BEGIN and a COMMIT of its own.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._insert = _STORE[engine.dialect.name]

    def receive(self, message: IncomingMessage) -> Reply:
        row_id = self._store(message)
        if row_id is None:
            reply = self._replay(message.dedupe_key)
            if reply is not None:
                return reply
            # Nobody finished it while we waited: the first delivery died after storing it.
            row_id = self._take_over(message.dedupe_key)
            if row_id is None:
                return Reply.empty()
        return self._handle(row_id, message)

    def _store(self, message: IncomingMessage) -> int | None:
        """Insert the message; None when this delivery is a retry of one already stored."""
        with self._autocommit.connect() as conn:
            row_id = conn.execute(self._insert, {
                "channel": message.channel, "dedupe_key": message.dedupe_key, "user_id": _storable(message.user_id),
                "msg_type": message.type, "text": _storable(message.text), "raw": _storable(message.raw) or "",
                "received_at": utcnow(), "status": "received",
            }).scalar()
        if row_id is None and self._reclaim_failed(message.dedupe_key):
            with self.Session() as session:
                return session.scalar(select(InboundMessage.id).where(InboundMessage.dedupe_key == message.dedupe_key))
        return row_id

    def _reclaim_failed(self, key: str) -> bool:
        """A retry may take over a delivery whose handling failed (and so changed nothing)."""
        with self.Session() as session, session.begin():
            result = session.execute(
                update(InboundMessage)
                .where(InboundMessage.dedupe_key == key, InboundMessage.status == "failed")
                .values(status="received", error=None)
            )
            return result.rowcount == 1

    def _handle(self, row_id: int, message: IncomingMessage) -> Reply:
        try:
            with self.Session() as session, session.begin():
                reply = self.router.handle(session, message)
                session.execute(_HANDLED, {"row_id": row_id, "reply_": reply.to_dict(), "at": utcnow()})
            return reply
        except UserError as exc:
            self._mark(row_id, "handled", reply=Reply(str(exc)))
            return Reply(str(exc))
        except Exception as exc:  # the one broad catch: any bug becomes an apology, never a 500
            log.exception("handling inbound message %s failed", row_id)
            self._mark(row_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            return Reply(texts.APOLOGY)

    def _mark(self, row_id: int, status: str, reply: Reply | None = None, error: str | None = None) -> None:
        with self.Session() as session, session.begin():
            session.execute(
                update(InboundMessage).where(InboundMessage.id == row_id).values(
                    status=status, error=error, handled_at=utcnow(),
                    reply=reply.to_dict() if reply else None,
                )
            )

    def _replay(self, key: str) -> Reply | None:
        """Answer a retry with the first delivery's reply, waiting briefly while it is in progress."""
        deadline = time.monotonic() + self.retry_wait
        while True:
            with self.Session() as session:
                status, reply = session.execute(
                    select(InboundMessage.status, InboundMessage.reply).where(InboundMessage.dedupe_key == key)
                ).one()
            if status == "handled" and reply is not None:
                return Reply.from_dict(reply)
            if status == "failed":
                return Reply.empty()
            if time.monotonic() >= deadline:
                return None  # still "received": see receive()
            time.sleep(0.05)

    def _take_over(self, key: str) -> int | None:
        """Claims a delivery left "received" (one retry wins the conditional update)."""
        with self.Session() as session, session.begin():
            row = session.execute(select(InboundMessage.id, InboundMessage.received_at)
                                  .where(InboundMessage.dedupe_key == key)).one()
            result = session.execute(update(InboundMessage).where(
                InboundMessage.id == row.id, InboundMessage.status == "received",
                InboundMessage.received_at == row.received_at).values(received_at=utcnow()))
            return row.id if result.rowcount == 1 else None
