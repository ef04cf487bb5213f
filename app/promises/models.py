"""Tables: a promise to pay, a payment plan and its instalments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

# open: reminders held until the date + grace. kept / broken / cancelled: settled.
PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")


class Promise(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    amount_minor: int = Field(sa_type=BigInteger)
    # What was due when the promise was made: kept once the balance fell by the promised amount.
    due_at_creation_minor: int = Field(sa_type=BigInteger)
    promised_on: date
    status: str = Field(default="open", max_length=16)
    source: str = Field(default="customer", max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentPlan(SQLModel, table=True):
    __tablename__ = "payment_plan"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    # active, completed, broken, cancelled
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Instalment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    plan_id: int = Field(foreign_key="payment_plan.id", index=True)
    number: int
    due_on: date
    amount_minor: int = Field(sa_type=BigInteger)
    paid_minor: int = Field(default=0, sa_type=BigInteger)

    @property
    def outstanding_minor(self) -> int:
        return max(self.amount_minor - self.paid_minor, 0)
