"""Request and response shapes for invoices, schedules and timelines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from app import money, validation

# At most 13 integer digits: any currency's minor units then fit in 64 bits.
DecimalString = Annotated[str, Field(pattern=r"^\d{1,13}(\.\d{1,4})?$", examples=["120.50"])]
Text = Annotated[str, AfterValidator(validation.plain_text)]
Day = Annotated[date, AfterValidator(validation.calendar_date)]
Instant = Annotated[AwareDatetime, AfterValidator(validation.calendar_instant)]


def refuse_json_numbers(value: Any) -> Any:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError('must be a decimal string such as "120.50", not a JSON number')
    return value


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: Text = Field(min_length=1, max_length=200, description="the customer's external id")
    number: Text = Field(min_length=1, max_length=100)
    currency: Annotated[str, AfterValidator(validation.currency_code)]
    amount_total: DecimalString
    amount_due: DecimalString | None = Field(
        default=None,
        description="defaults to amount_total less recorded payments; never above that",
    )
    issued_on: Day | None = None
    due_on: Day
    payment_url: Annotated[str, AfterValidator(validation.http_url)] | None = Field(
        default=None, max_length=2000
    )
    status: Literal["open", "void", "written_off"] = "open"

    _no_numbers = field_validator("amount_total", "amount_due", mode="before")(refuse_json_numbers)

    @field_validator("amount_total", "amount_due")
    @classmethod
    def _fits_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        currency = info.data.get("currency")
        if value is None or currency is None:
            return value
        minor = money.to_minor(value, currency)
        if info.field_name == "amount_total" and minor == 0:
            raise ValueError("must be more than zero")
        total = info.data.get("amount_total")
        if info.field_name == "amount_due" and total is not None:
            if minor > money.to_minor(total, currency):
                raise ValueError("must not exceed amount_total")
        return value

    @field_validator("due_on")
    @classmethod
    def _not_before_issue(cls, value: date, info: ValidationInfo) -> date:
        issued = info.data.get("issued_on")
        if issued is not None and value < issued:
            raise ValueError("must not be before issued_on")
        return value


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
        description="a date such as 2026-12-10 (paused until that day starts for the customer) "
        "or an instant with its offset; omit to pause until resumed",
    )
    reason: Text | None = Field(default=None, max_length=1000)

    @field_validator("until", mode="plain")
    @classmethod
    def _day_or_instant(cls, value: Any) -> datetime | date | None:
        # Parsed by hand so an error names `until`, not a member of a union.
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be a date (2026-12-10) or an instant (2026-12-10T09:00:00Z)")
        try:
            parsed: datetime | date = (
                date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
            )
        except ValueError:
            raise ValueError(
                "must be a date (2026-12-10) or an instant (2026-12-10T09:00:00Z)"
            ) from None
        if isinstance(parsed, datetime):
            if parsed.tzinfo is None:
                raise ValueError("give a time zone offset, e.g. 2026-12-01T09:00:00Z")
            return validation.calendar_instant(parsed)
        return validation.calendar_date(parsed)


class BatchItem(InvoiceIn):
    external_id: str = Field(min_length=1, max_length=200)


class BatchIn(BaseModel):
    # Rows are validated one by one, so one bad row never rejects the others.
    invoices: list[Any] = Field(min_length=1, max_length=1000)


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
