"""Table: one event of the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Event(SQLModel, table=True):
    __table_args__ = (
        Index("ix_event_invoice", "invoice_id", "id"),
        Index("ix_event_customer", "customer_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    kind: str = Field(max_length=64)
    # `at` is business time (the test clock when it runs); `recorded_at` is always real time.
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
