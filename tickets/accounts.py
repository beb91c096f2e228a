"""Officials' credentials: how passwords and API tokens are kept, and signing out everywhere.

The console, the API and the command line all set credentials; they share these few lines so a
hash written by one is checked by the others.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from tickets.models import ConsoleSession


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def token_hash(token: str) -> str:
    """API tokens are random and long, so one fast hash is enough; only the hash is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def end_sessions(session: Session, official_id: int) -> None:
    """Signs an official out everywhere (a new password, a disabled account)."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.official_id == official_id))
