"""Tables: a queued notice email, and a customer's rating of how they were treated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

NOTICE_KINDS = (
    "promise_confirmed",
    "plan_confirmed",
    "dispute_received",
    "payment_claim_received",
    "thank_you",
)


class Notice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    kind: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # pending -> sending -> sent | retry | in_doubt | failed (same meaning as the send log)
    status: str = Field(default="pending", max_length=16, index=True)
    message_id: str | None = Field(default=None, max_length=300)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    not_before: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    logged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Rating(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True, unique=True)
    score: int
    comment: str | None = Field(default=None, max_length=2000)
    rated_at: datetime = Field(sa_type=UTCDateTime)
