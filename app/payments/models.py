"""Table: a payment, idempotent on its external id within an organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Payment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organisation_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    external_id: str = Field(max_length=200)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    paid_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
