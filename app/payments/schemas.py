"""Request and response shapes for payments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.invoices.schemas import DecimalString, Instant, InvoiceOut, Text, refuse_json_numbers


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: Text = Field(min_length=1, max_length=200)
    amount: DecimalString
    paid_at: Instant | None = Field(default=None, description="defaults to now")

    _no_numbers = field_validator("amount", mode="before")(refuse_json_numbers)


class PaymentOut(BaseModel):
    external_id: str
    amount: str
    currency: str
    paid_at: datetime
    created: bool
    invoice: InvoiceOut
