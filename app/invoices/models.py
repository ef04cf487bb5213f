"""Table: an invoice, with its invoicing status and its reminder state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

INVOICE_STATUSES = ("open", "paid", "void", "written_off")
# Reminder states; the planner only plans for active, and for paused/promised once they end.
REMINDER_STATES = (
    "active",
    "paused",
    "promised",
    "disputed",
    "escalated",
    "opted_out",
    "unreachable",
)


class Invoice(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    external_id: str = Field(max_length=200)
    number: str = Field(max_length=100)
    currency: str = Field(max_length=3)
    amount_total_minor: int = Field(sa_type=BigInteger)
    amount_due_minor: int = Field(sa_type=BigInteger)
    issued_on: date | None = None
    due_on: date
    payment_url: str | None = Field(default=None, max_length=2000)
    status: str = Field(default="open", max_length=16)
    reminder_state: str = Field(default="active", max_length=16)
    hold_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pause_reason: str | None = Field(default=None, max_length=1000)
    # The dunning pass asks the database for rows whose next_action_at has passed.
    next_action_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    next_step: str | None = Field(default=None, max_length=64)
    # A one-off template for the next reminder, e.g. "promise_broken" after a missed promise.
    followup: str | None = Field(default=None, max_length=64)
    # What the follow-up email quotes: the amount and date of the agreement that was broken.
    followup_data: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Bumped by every writer that must be serialised with a send (see invoices.locking).
    lock_version: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
