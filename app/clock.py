"""Where business logic gets "now": the system clock, or the test clock stored in the database.

The test clock lives in a table so `serve` and any `worker` processes agree on the time.
Security checks (signatures, login throttling) never use this; they read the real clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel

from app.db import UTCDateTime


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TestClockState(SQLModel, table=True):
    """The single row holding the frozen time when POLITELY_TEST_CLOCK=1."""

    __tablename__ = "test_clock"
    __test__ = False  # not a pytest test class

    id: int = Field(default=1, primary_key=True)
    frozen_at: datetime = Field(sa_type=UTCDateTime)


class DatabaseTestClock:
    """Frozen at the stored instant (like Stripe's test clocks); real time until first set."""

    __test__ = False

    def __init__(self, engine: Engine):
        self._engine = engine

    def now(self) -> datetime:
        with Session(self._engine) as session:
            state = session.get(TestClockState, 1)
            return state.frozen_at if state else datetime.now(UTC)

    def set(self, at: datetime) -> datetime:
        with Session(self._engine) as session:
            state = session.get(TestClockState, 1) or TestClockState(id=1, frozen_at=at)
            state.frozen_at = at
            session.add(state)
            session.commit()
        return at


def make_clock(engine: Engine, *, test_clock: bool) -> Clock:
    return DatabaseTestClock(engine) if test_clock else SystemClock()
