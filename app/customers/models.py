"""Tables: a customer of an organisation and its email contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Customer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    external_id: str = Field(max_length=200)
    name: str = Field(max_length=300)
    locale: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=2)
    policy: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    # Promises broken so far: raises the worklist priority and tells who keeps their word.
    broken_promises: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Contact(SQLModel, table=True):
    """One address of a customer. `role` is `to` (the main email) or `cc`."""

    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    email: str = Field(max_length=320)
    role: str = Field(default="to", max_length=8)
    # Kept when the customer is upserted again, so a bounce or an opt-out is never forgotten.
    bounced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    bounce_reason: str | None = Field(default=None, max_length=1000)
    opted_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active: bool = Field(default=True)

    @property
    def deliverable(self) -> bool:
        return self.active and self.bounced_at is None and self.opted_out_at is None
