"""Request and response shapes for payments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.invoices.schemas import DecimalString, InvoiceOut


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200)
    amount: DecimalString
    paid_at: datetime | None = Field(default=None, description="defaults to now")

    @field_validator("amount", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            raise ValueError('must be a decimal string such as "120.50", not a JSON number')
        return value

    @field_validator("paid_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-12-01T09:00:00Z")
        return value


class PaymentOut(BaseModel):
    external_id: str
    amount: str
    currency: str
    paid_at: datetime
    created: bool
    invoice: InvoiceOut
