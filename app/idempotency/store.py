"""Claiming an Idempotency-Key, storing the answer it got, and finding it again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import session_scope
from app.idempotency.models import IdempotentRequest
from app.organisations.service import organisation_for_key

# A stored answer is kept at least this long (Stripe keeps theirs for 24 hours too).
RETENTION = timedelta(hours=24)
# A claim whose request never finished (the process died) may be taken over after this.
ABANDONED_AFTER = timedelta(minutes=10)
PENDING = 0  # status_code of a claim whose request is still running
_BUSY = "a request with this Idempotency-Key is still being processed; retry later"


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: run it, then store or release."""

    row_id: int


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


@dataclass(frozen=True)
class Refused:
    status_code: int
    message: str


def _now() -> datetime:
    # Retention is record-keeping, so it follows the real clock, never the test clock.
    return datetime.now(UTC)


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    """The same JSON with its keys in another order or other spacing is the same request."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def organisation_id_for(engine: Engine, api_key: str) -> int | None:
    with session_scope(engine) as session:
        organisation = organisation_for_key(session, api_key)
        return organisation.id if organisation else None


def claim(
    engine: Engine, *, organisation_id: int, key: str, method: str, path: str, digest: str
) -> Claimed | Replay | Refused:
    now = _now()
    with session_scope(engine) as session:
        row = session.exec(
            select(IdempotentRequest).where(
                IdempotentRequest.organisation_id == organisation_id,
                IdempotentRequest.key == key,
            )
        ).first()
        if row is not None and row.created_at < now - RETENTION:
            session.delete(row)  # expired: the key starts afresh
            session.flush()
            row = None
        if row is not None:
            if row.path != path or row.method != method or row.request_hash != digest:
                return Refused(
                    422,
                    f"this Idempotency-Key was already used for a different request "
                    f"({row.method} {row.path}); use a new key for a new request",
                )
            if row.status_code != PENDING:
                return Replay(row.status_code, row.response_body)
            if row.created_at > now - ABANDONED_AFTER:
                return Refused(409, _BUSY)
            # Taken over from a process that never finished it; of two takers, one wins.
            taken = session.execute(
                update(IdempotentRequest)
                .where(
                    col(IdempotentRequest.id) == row.id,
                    col(IdempotentRequest.created_at) == row.created_at,
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return Refused(409, _BUSY)
            assert row.id is not None
            return Claimed(row.id)
        row = IdempotentRequest(
            organisation_id=organisation_id,
            key=key,
            method=method,
            path=path[:2000],
            request_hash=digest,
            status_code=PENDING,
            response_body="",
            created_at=now,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return Refused(409, _BUSY)
        assert row.id is not None
        if row.id % 100 == 0:  # now and then, rather than a scan on every request
            _prune(session, organisation_id=organisation_id, now=now)
        return Claimed(row.id)


def store(engine: Engine, claimed: Claimed, *, status_code: int, body: str) -> None:
    with session_scope(engine) as session:
        row = session.get(IdempotentRequest, claimed.row_id)
        if row is not None:
            row.status_code, row.response_body = status_code, body
            session.add(row)


def release(engine: Engine, claimed: Claimed) -> None:
    """An answer that is not kept: the key may be used again, for any request."""
    with session_scope(engine) as session:
        session.execute(
            delete(IdempotentRequest).where(col(IdempotentRequest.id) == claimed.row_id)
        )


def _prune(session: Session, *, organisation_id: int, now: datetime) -> None:
    session.execute(
        delete(IdempotentRequest).where(
            col(IdempotentRequest.organisation_id) == organisation_id,
            col(IdempotentRequest.created_at) < now - RETENTION,
        )
    )
