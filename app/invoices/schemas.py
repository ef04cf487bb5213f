"""Request and response shapes for invoices, schedules and timelines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from app import money, validation

DecimalString = Annotated[str, Field(pattern=r"^-?\d{1,15}(\.\d{1,4})?$", examples=["120.50"])]


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1, max_length=200, description="the customer's external id")
    number: Annotated[str, AfterValidator(validation.no_line_breaks)] = Field(
        min_length=1, max_length=100
    )
    currency: Annotated[str, AfterValidator(validation.currency_code)]
    amount_total: DecimalString
    amount_due: DecimalString | None = Field(
        default=None, description="defaults to amount_total; lowered by recorded payments"
    )
    issued_on: date | None = None
    due_on: date
    payment_url: str | None = Field(default=None, max_length=2000)
    status: Literal["open", "void", "written_off"] = "open"

    @field_validator("amount_total", "amount_due", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            raise ValueError('must be a decimal string such as "120.50", not a JSON number')
        return value

    @field_validator("payment_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value or None

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> InvoiceIn:
        for name in ("amount_total", "amount_due"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                minor = money.to_minor(value, self.currency)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
            if minor < 0:
                raise ValueError(f"{name}: must not be negative")
        if self.amount_due is not None and money.to_minor(
            self.amount_due, self.currency
        ) > money.to_minor(self.amount_total, self.currency):
            raise ValueError("amount_due: must not exceed amount_total")
        return self


class NextReminder(BaseModel):
    step: str
    send_at: datetime


class RemindersOut(BaseModel):
    state: str
    next: NextReminder | None


class InvoiceOut(BaseModel):
    external_id: str
    customer: str
    number: str
    currency: str
    amount_total: str
    amount_due: str
    issued_on: date | None
    due_on: date
    payment_url: str | None
    status: str
    reminders: RemindersOut


class ScheduledStep(BaseModel):
    step: str
    tone: str
    action: str
    send_at: datetime
    local_send_at: str = Field(description="the send time in the customer's time zone, ISO 8601")


class ScheduleOut(BaseModel):
    invoice: str
    timezone: str
    steps: list[ScheduledStep]


class EventOut(BaseModel):
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: datetime | date | None = Field(
        default=None,
        description="a date (paused until that day starts for the customer) or an instant; "
        "omit to pause until resumed",
    )
    reason: Annotated[str, AfterValidator(validation.no_line_breaks)] | None = Field(
        default=None, max_length=1000
    )

    @field_validator("until", mode="before")
    @classmethod
    def _plain_date(cls, value: Any) -> Any:
        # "2026-12-10" is a day, not midnight UTC.
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
        return value


class BatchItem(InvoiceIn):
    external_id: str = Field(min_length=1, max_length=200)


class BatchIn(BaseModel):
    invoices: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class BatchRowResult(BaseModel):
    index: int
    external_id: str | None
    result: Literal["created", "updated", "rejected"]
    errors: list[dict[str, Any]] = Field(default_factory=list)


class BatchOut(BaseModel):
    created: int
    updated: int
    rejected: int
    results: list[BatchRowResult]
