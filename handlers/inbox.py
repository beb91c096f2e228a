"""Exactly-once processing: store every inbound message first, handle it once, replay the reply.

WeChat retries a message it got no answer to within 5 s, up to three times, and retries may reach
different worker processes at once. The unique `dedupe_key` decides which delivery handles the
message; the others wait briefly for its stored reply and answer the same, never a second effect.
"""
from __future__ import annotations

import logging
import time
import traceback

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import sessionmaker

from bot.db import autocommit, per_dialect, utcnow
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
_SEEN = select(_MESSAGES.c.id, _MESSAGES.c.status, _MESSAGES.c.reply, _MESSAGES.c.received_at).where(
    _MESSAGES.c.dedupe_key == bindparam("key"))
# A retry takes over a delivery whose handling failed (and so changed nothing), or one left
# "received" by a delivery that died; the conditions let one retry win when several race.
_RECLAIM = (_MESSAGES.update().where(_MESSAGES.c.id == bindparam("row_id"), _MESSAGES.c.status == "failed")
            .values(status="received", error=None))
_TAKE_OVER = (_MESSAGES.update().where(_MESSAGES.c.id == bindparam("row_id"), _MESSAGES.c.status == "received",
                                       _MESSAGES.c.received_at == bindparam("seen"))
              .values(received_at=bindparam("now")))


def _where(exc: BaseException) -> str:
    """What is kept of a failure with the message: the exception's class and where it was raised.
    Its text is not: it can quote the enterprise's own words or SQL parameters (the masked
    traceback is in the log)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    return f"{type(exc).__name__}" + (f" at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame else "")


class Inbox:
    def __init__(self, Session: sessionmaker, router: DialogueRouter, retry_wait: float = 3.0):
        self.Session = Session
        self.router = router
        self.retry_wait = retry_wait
        self.engine = Session.kw["bind"]
        self._insert = _STORE[self.engine.dialect.name]

    def receive(self, message: IncomingMessage, seen: bool = False) -> Reply:
        """`seen`: the door (Redis) has met this delivery before, so it is most likely a retry and
        is looked up before anything is inserted; if it was never stored, it is stored now."""
        outcome = self._retry(message.dedupe_key) if seen else None  # a reply, a row to handle, or None
        if outcome is None:
            outcome = self._store(message)
            if outcome is None:  # a retry of a message stored already
                outcome = self._retry(message.dedupe_key)
            if outcome is None:
                return Reply.empty()  # stored, then gone: nothing to answer with
        if isinstance(outcome, Reply):
            return outcome
        return self._handle(outcome, message)

    def _store(self, message: IncomingMessage) -> int | None:
        """Insert the message; None when this delivery is a retry of one already stored."""
        # One statement, committed by itself: the message is durable before handling starts.
        with autocommit(self.engine) as conn:
            return conn.execute(self._insert, {
                "channel": message.channel, "dedupe_key": message.dedupe_key, "user_id": _storable(message.user_id),
                "msg_type": message.type, "text": _storable(message.text), "raw": _storable(message.raw) or "",
                "received_at": utcnow(), "status": "received",
            }).scalar()

    def _retry(self, key: str) -> Reply | int | None:
        """The first delivery's reply, waiting briefly while it is in progress; or the row to handle
        again when this retry takes the message over; None when nothing was stored under the key."""
        deadline = time.monotonic() + self.retry_wait
        first_look = True
        with autocommit(self.engine) as conn:
            while True:
                row = conn.execute(_SEEN, {"key": key}).first()
                if row is None:
                    return None  # the first delivery died before storing it (or is storing it now)
                if row.status == "handled" and row.reply is not None:
                    return Reply.from_dict(row.reply)
                if row.status == "failed":
                    if not first_look:
                        return Reply.empty()  # failed while we waited: that delivery has apologised
                    if conn.execute(_RECLAIM, {"row_id": row.id}).rowcount == 1:
                        return row.id
                elif time.monotonic() >= deadline:
                    # Nobody finished it while we waited: the first delivery died after storing it.
                    taken = conn.execute(_TAKE_OVER, {"row_id": row.id, "seen": row.received_at, "now": utcnow()})
                    return row.id if taken.rowcount == 1 else Reply.empty()
                first_look = False
                time.sleep(0.05)

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
            self._mark(row_id, "failed", error=_where(exc))
            return Reply(texts.APOLOGY)

    def _mark(self, row_id: int, status: str, reply: Reply | None = None, error: str | None = None) -> None:
        with self.Session() as session, session.begin():
            session.execute(
                update(InboundMessage).where(InboundMessage.id == row_id).values(
                    status=status, error=error, handled_at=utcnow(),
                    reply=reply.to_dict() if reply else None,
                )
            )
