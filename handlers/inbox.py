"""Exactly-once processing: store every inbound message first, handle it once, replay the reply.

WeChat retries a message it got no answer to within 5 s, up to three times, and retries may reach
different worker processes at once. The unique `dedupe_key` decides which delivery stores the
message; that delivery owns it (`owner`) and handles it. A retry waits briefly for the stored reply
and answers the same, never a second effect.

Owning is a lock, not a clock. On PostgreSQL the owner starts its handling transaction by
claiming the row (an UPDATE that must match its own name), which holds the row's lock until it
commits; a retry asks with SKIP LOCKED and takes the message over only when no one holds it (the
owner died, and its lock with its connection). On SQLite, which has no row locks and runs as one
process (`appealbot run`), the process knows which messages its threads are handling; taking the
database's write lock for the whole handling instead would serialise every message. Either way a
retry also waits out the owner's `lease_until`: the moment between storing a message and claiming
it, when nothing is locked yet. So a slow handler is waited for however long it takes, and a dead
one is taken over by the next retry.

The handler's final UPDATE names its owner again: a handler that lost its claim (on SQLite, to a
second process sharing the file, after the lease) rolls back, and the message is still handled once.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from core.db import autocommit, utcnow
from core.errors import UserError
from handlers import store, texts
from handlers.messages import IncomingMessage, Reply

log = logging.getLogger(__name__)
CLAIM_GRACE = 2.0  # seconds a fresh claim stands before its owner must hold the lock


def _storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; it carries no meaning in a chat message anyway."""
    return text.replace("\x00", "") if text else text


class _LostClaim(Exception):
    """Another delivery owns the message now: this one rolls back and waits for its reply."""


def _where(exc: BaseException) -> str:
    """What is kept of a failure with the message: the exception's class and where it was raised.
    Its text is not: it can quote the enterprise's own words or SQL parameters (the masked
    traceback is in the log)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    return f"{type(exc).__name__}" + (f" at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame else "")


class Router(Protocol):
    """What the inbox hands a stored message to: the dialogue router, or the group robot's."""

    def handle(self, session: Session, message: IncomingMessage) -> Reply: ...


class Inbox:
    def __init__(
        self, Session: sessionmaker, router: Router, retry_wait: float = 3.0, claim_grace: float = CLAIM_GRACE
    ):
        self.Session = Session
        self.router = router
        self.retry_wait = retry_wait
        self.claim_grace = claim_grace
        self.engine = Session.kw["bind"]
        self._insert = store.STORE_MESSAGE[self.engine.dialect.name]
        self._row_locks = self.engine.dialect.name == "postgresql"
        self._handling: set[int] = set()  # rows this process's threads are handling now
        self._handling_lock = threading.Lock()

    def receive(self, message: IncomingMessage, seen: bool = False) -> Reply:
        """`seen`: the door (Redis) has met this delivery before, so it is most likely a retry and
        is looked up before anything is inserted; if it was never stored, it is stored now."""
        outcome = self._retry(message.dedupe_key) if seen else None  # a reply, a claim to handle, or None
        if outcome is None:
            outcome = self._store(message)
            if outcome is None:  # a retry of a message stored already
                outcome = self._retry(message.dedupe_key)
            if outcome is None:
                return Reply.empty()  # stored, then gone: nothing to answer with
        while not isinstance(outcome, Reply):
            reply = self._handle(*outcome, message)
            if reply is not None:
                return reply
            # Someone else owns it now (it took over a claim this delivery had not locked yet).
            outcome = self._retry(message.dedupe_key) or Reply.empty()
        return outcome

    def _lease(self):
        return utcnow() + timedelta(seconds=self.claim_grace)

    def _store(self, message: IncomingMessage) -> tuple[int, str] | None:
        """Insert the message, owned by this delivery; None when it is a retry of one already stored."""
        owner = uuid.uuid4().hex
        # One statement, committed by itself: the message is durable before handling starts.
        with autocommit(self.engine) as conn:
            row_id = conn.execute(
                self._insert,
                {
                    "channel": message.channel,
                    "dedupe_key": message.dedupe_key,
                    "user_id": _storable(message.user_id),
                    "msg_type": message.type,
                    "text": _storable(message.text),
                    "raw": _storable(message.raw) or "",
                    "received_at": utcnow(),
                    "status": "received",
                    "owner": owner,
                    "lease_until": self._lease(),
                },
            ).scalar()
        return None if row_id is None else (row_id, owner)

    def _retry(self, key: str) -> Reply | tuple[int, str] | None:
        """The first delivery's reply, waiting while its owner works on it; or a claim on the message
        when this retry takes it over; None when nothing was stored under the key."""
        deadline = time.monotonic() + self.retry_wait
        first_look = True
        with autocommit(self.engine) as conn:
            while True:
                row = conn.execute(store.SEEN, {"key": key}).first()
                if row is None:
                    return None  # the first delivery died before storing it (or is storing it now)
                if row.status == "handled" and row.reply is not None:
                    return Reply.from_dict(row.reply)
                if row.status == "failed":
                    if not first_look:
                        return Reply.empty()  # failed while we waited: that delivery has apologised
                    owner = uuid.uuid4().hex
                    if conn.execute(
                        store.RECLAIM, {"row_id": row.id, "new_owner": owner, "until": self._lease()}
                    ).rowcount:
                        return row.id, owner
                elif (
                    row.status == "received"
                    and row.id not in self._handling
                    and (row.lease_until is None or row.lease_until <= utcnow())
                ):
                    claim = self._take_over(conn, row)
                    if claim is not None:
                        return claim
                if time.monotonic() >= deadline:
                    return Reply.empty()  # still being handled: that delivery answers when it is done
                first_look = False
                time.sleep(0.05)

    def _take_over(self, conn, row) -> tuple[int, str] | None:
        """The message, if its owner holds no lock on it (it died): a claim of this delivery's own."""
        owner = uuid.uuid4().hex
        params = {"row_id": row.id, "owner_": row.owner, "new_owner": owner, "now": utcnow(), "until": self._lease()}
        if self._row_locks:
            # Ask without waiting: a locked row is being handled right now, however slowly.
            with self.engine.begin() as txn:
                if txn.execute(store.UNHELD, params).first() is None:
                    return None
                taken = txn.execute(store.TAKE_OVER, params).rowcount
        else:
            # SQLite: no thread of this process handles it (asked above), and its lease is over.
            taken = conn.execute(store.TAKE_OVER, params).rowcount
        return (row.id, owner) if taken == 1 else None

    def _handle(self, row_id: int, owner: str, message: IncomingMessage) -> Reply | None:
        """The reply; None when another delivery owns the message (this one changed nothing)."""
        with self._handling_lock:
            self._handling.add(row_id)
        try:
            with self.Session() as session, session.begin():
                if (
                    self._row_locks
                    and session.execute(
                        store.CLAIM, {"row_id": row_id, "owner_": owner, "until": self._lease()}
                    ).rowcount
                    != 1
                ):
                    raise _LostClaim()
                reply = self.router.handle(session, message)
                if (
                    session.execute(
                        store.HANDLED, {"row_id": row_id, "owner_": owner, "reply_": reply.to_dict(), "at": utcnow()}
                    ).rowcount
                    != 1
                ):
                    raise _LostClaim()  # taken over meanwhile (see the module's note): undo everything
            return reply
        except _LostClaim:
            log.info("inbound message %s is owned by another delivery; waiting for its reply", row_id)
            return None
        except UserError as exc:
            self._mark(row_id, owner, "handled", reply=Reply(str(exc)))
            return Reply(str(exc))
        except Exception as exc:  # the one broad catch: any bug becomes an apology, never a 500
            log.exception("handling inbound message %s failed", row_id)
            self._mark(row_id, owner, "failed", error=_where(exc))
            return Reply(texts.APOLOGY)
        finally:
            with self._handling_lock:
                self._handling.discard(row_id)

    def _mark(self, row_id: int, owner: str, status: str, reply: Reply | None = None, error: str | None = None) -> None:
        """Records the outcome of a handling that was rolled back, unless another delivery owns it now."""
        with self.Session() as session, session.begin():
            session.execute(
                store.MARK,
                {
                    "row_id": row_id,
                    "owner_": owner,
                    "status_": status,
                    "error_": error,
                    "at": utcnow(),
                    "reply_": reply.to_dict() if reply else None,
                },
            )
