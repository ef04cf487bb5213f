"""Creating users and checking passwords, with a lock-out after repeated failures."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app import validation
from app.errors import Conflict, Unprocessable
from app.organisations.models import Organisation
from app.users.models import User

_hasher = PasswordHasher()
MAX_FAILURES = 5
LOCK_MINUTES = 15
# Checked against a throwaway hash when the address is unknown, so timing reveals nothing.
_DUMMY_HASH = _hasher.hash("politely-no-such-user")


def _real_now() -> datetime:
    return datetime.now(UTC)


def create_user(session: Session, *, organisation: Organisation, email: str, password: str) -> User:
    try:
        email = validation.email_address(email)
    except ValueError as error:
        raise Unprocessable(str(error), field="email") from None
    if len(password) < 12:
        raise Unprocessable("the password must have at least 12 characters", field="password")
    if session.exec(select(User).where(func.lower(User.email) == email.lower())).first():
        raise Conflict(f"a user {email} already exists", field="email")
    assert organisation.id is not None
    user = User(
        organisation_id=organisation.id,
        email=email.lower(),
        password_hash=_hasher.hash(password),
        session_nonce=secrets.token_hex(16),
        created_at=_real_now(),
    )
    session.add(user)
    session.flush()
    return user


@dataclass
class LoginResult:
    user: User | None
    reason: str | None = None  # for the login page; never says whether the address exists


def authenticate(session: Session, *, email: str, password: str) -> LoginResult:
    now = _real_now()
    user = session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    if user is None:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, "That email and password do not match.")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "Too many failed attempts. Try again in a few minutes.")
    if not _verify(user.password_hash, password):
        # Counted in the database, not in this copy of the row: guesses sent in parallel
        # must each count, or the lock-out could be raced past.
        failures = session.execute(
            update(User)
            .where(col(User.id) == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(col(User.failed_logins))
        ).scalar_one()
        if failures >= MAX_FAILURES:
            session.execute(
                update(User)
                .where(col(User.id) == user.id)
                .values(locked_until=now + timedelta(minutes=LOCK_MINUTES), failed_logins=0)
            )
        return LoginResult(None, "That email and password do not match.")
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    user.session_nonce = secrets.token_hex(16)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.add(user)
    return LoginResult(user)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def end_sessions(session: Session, user: User) -> None:
    user.session_nonce = secrets.token_hex(16)
    session.add(user)
