"""Acting on the generic payments webhook, and the steps it shares with Stripe's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import HTTPException
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import money, validation
from app.dunning.plans import refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.invoices.schemas import (
    BatchItem,
    DecimalString,
    Instant,
    InvoiceIn,
    Text,
    refuse_json_numbers,
)
from app.invoices.service import upsert_invoice
from app.payments.models import Payment
from app.payments.schemas import PaymentIn
from app.payments.service import record_payment
from app.promises.models import PaymentPlan, Promise
from app.timeline.service import record_event, record_invoice_event
from app.worklist.service import add_item

ACTOR = "webhook:payments"
_Model = TypeVar("_Model", bound=BaseModel)
Result = Literal["applied", "unmatched", "ignored", "rejected"]


@dataclass(frozen=True)
class Outcome:
    """What one event did: applied, unmatched, ignored or rejected (kept for a human)."""

    result: Result
    detail: str | None = None
    invoice: str | None = None
    paid: bool = False  # a payment was recorded, so a thank-you may be waiting to go out


@dataclass(frozen=True)
class Received:
    """Which event is being handled, for the records it leaves."""

    organisation_id: int
    source: str
    event_id: str
    event_type: str
    now: datetime
    actor: str


# --- shared with the Stripe handler -------------------------------------------------------


def find_invoice(session: Session, organisation_id: int, external_id: str) -> Invoice | None:
    return session.exec(
        select(Invoice).where(
            Invoice.organisation_id == organisation_id, Invoice.external_id == external_id
        )
    ).first()


def flag(
    session: Session,
    event: Received,
    *,
    reason: str,
    data: dict[str, Any],
    invoice: Invoice | None = None,
    worklist: bool = True,
) -> None:
    """Leave a trace an admin will see: an event, and a worklist item when money is involved."""
    details = {"source": event.source, "event_id": event.event_id, "type": event.event_type}
    record_event(
        session,
        organisation_id=event.organisation_id,
        invoice_id=invoice.id if invoice else None,
        customer_id=invoice.customer_id if invoice else None,
        kind="payment.unmatched" if invoice is None else "payment.rejected",
        at=event.now,
        actor=event.actor,
        data={**details, **data, "reason": reason},
    )
    if worklist:
        add_item(
            session,
            organisation_id=event.organisation_id,
            kind="unmatched_payment",
            reason=f"{event.source} {event.event_type} {event.event_id}: {reason}"[:2000],
            at=event.now,
            invoice_id=invoice.id if invoice else None,
            customer_id=invoice.customer_id if invoice else None,
        )


def unmatched(
    session: Session, event: Received, reference: str, data: dict[str, Any], *, money: bool
) -> Outcome:
    reason = f"no invoice matches {reference}"
    flag(session, event, reason=reason, data=data, worklist=money)
    return Outcome("unmatched", reason)


def close_invoice(session: Session, invoice: Invoice, status: str, event: Received) -> Outcome:
    """Void or write off an invoice as its invoicing system says: no more reminders."""
    invoice = lock_invoice(session, invoice)
    previous = invoice.status
    if previous == status:
        return Outcome("applied", f"the invoice was already {status}", invoice.external_id)
    invoice.status, invoice.updated_at = status, event.now
    # What was pending is cancelled, so nothing counts as kept or broken on a closed invoice.
    for table, pending in ((Promise, "open"), (PaymentPlan, "active")):
        rows = session.exec(
            select(table).where(table.invoice_id == invoice.id, table.status == pending)
        ).all()
        for row in rows:
            row.status, row.resolved_at = "cancelled", event.now
            session.add(row)
    session.add(invoice)
    refresh_next_action(session, invoice, event.now)
    kind = "invoice.voided" if status == "void" else "invoice.written_off"
    data = {"previous_status": previous, "source": event.source, "event_id": event.event_id}
    record_invoice_event(session, invoice, kind, at=event.now, actor=event.actor, data=data)
    return Outcome("applied", f"invoice {status}", invoice.external_id)


def recorded_under(session: Session, invoice: Invoice, name: str) -> int:
    """What is already recorded on the invoice under a payment name and its partial forms."""
    total = session.exec(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.invoice_id == invoice.id,
            (col(Payment.external_id) == name)
            | col(Payment.external_id).startswith(name + ":", autoescape=True),
        )
    ).one()
    return int(total)


def reopen_refunded(
    session: Session, event: Received, invoice: Invoice, *, charge: str, refunded_minor: int
) -> Outcome:
    """Put the refunded money back on the invoice; reminders resume if it was paid."""
    invoice = lock_invoice(session, invoice)
    name = f"refund:{charge}"
    # amount_refunded is the charge's running total, so only the growth since last time counts.
    new = refunded_minor + recorded_under(session, invoice, name)
    new = min(new, invoice.amount_total_minor - invoice.amount_due_minor)
    if new <= 0:
        return Outcome("applied", "this refund is already counted", invoice.external_id)
    assert invoice.id is not None
    session.add(
        Payment(
            organisation_id=invoice.organisation_id,
            invoice_id=invoice.id,
            external_id=f"{name}:{refunded_minor}",
            amount_minor=-new,
            currency=invoice.currency,
            paid_at=event.now,
            created_at=event.now,
        )
    )
    previous = invoice.status
    invoice.amount_due_minor += new
    invoice.updated_at = event.now
    if previous == "paid":
        invoice.status, invoice.paid_at = "open", None
    session.add(invoice)
    session.flush()
    record_invoice_event(
        session,
        invoice,
        "payment.refunded",
        at=event.now,
        actor=event.actor,
        data={
            "charge": charge,
            "amount": money.to_decimal_string(new, invoice.currency),
            "currency": invoice.currency,
            "amount_due": money.to_decimal_string(invoice.amount_due_minor, invoice.currency),
        },
    )
    if invoice.status != previous:
        data = {"previous_status": previous}
        record_invoice_event(
            session, invoice, "invoice.reopened", at=event.now, actor=event.actor, data=data
        )
    refresh_next_action(session, invoice, event.now)
    return Outcome("applied", "refund reopened the amount", invoice.external_id)


# --- the generic payments webhook -----------------------------------------------------------


class Envelope(BaseModel):
    # Senders may add fields of their own (Standard Webhooks puts a timestamp here).
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=100)
    data: dict[str, Any]


class PaymentReceived(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invoice: Text = Field(min_length=1, max_length=200, description="our external id")
    payment_id: Text = Field(min_length=1, max_length=200)
    amount: DecimalString
    currency: Annotated[str, AfterValidator(validation.currency_code)]
    paid_at: Instant | None = None

    _no_numbers = field_validator("amount", mode="before")(refuse_json_numbers)


class InvoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invoice: Text = Field(min_length=1, max_length=200)


def parse(model: type[_Model], raw: Any, *, prefix: tuple[str, ...]) -> _Model:
    """Validate, or answer 422 naming each field that is wrong (as FastAPI itself would)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        detail = [
            {"loc": ["body", *prefix, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors()
        ]
        raise HTTPException(422, detail) from None


def handle_payment_event(session: Session, event: Received, payload: Any) -> Outcome:
    envelope = parse(Envelope, payload, prefix=())
    if envelope.type == "payment.received":
        return _payment(session, event, parse(PaymentReceived, envelope.data, prefix=("data",)))
    if envelope.type == "invoice.voided":
        ref = parse(InvoiceRef, envelope.data, prefix=("data",))
        invoice = find_invoice(session, event.organisation_id, ref.invoice)
        if invoice is None:
            # Nothing is owed on an invoice we never chased: an event is enough, no task.
            return unmatched(
                session, event, repr(ref.invoice), {"invoice": ref.invoice}, money=False
            )
        return close_invoice(session, invoice, "void", event)
    if envelope.type == "invoice.updated":
        item = parse(BatchItem, envelope.data, prefix=("data",))
        invoice, created = upsert_invoice(
            session,
            organisation_id=event.organisation_id,
            external_id=item.external_id,
            data=InvoiceIn.model_validate(item.model_dump(exclude={"external_id"})),
            now=event.now,
            actor=event.actor,
        )
        return Outcome(
            "applied", "invoice created" if created else "invoice updated", invoice.external_id
        )
    return Outcome("ignored", f"Politely does not act on {envelope.type!r} events")


def _payment(session: Session, event: Received, data: PaymentReceived) -> Outcome:
    invoice = find_invoice(session, event.organisation_id, data.invoice)
    if invoice is None:
        details = {
            "invoice": data.invoice,
            "payment": data.payment_id,
            "amount": data.amount,
            "currency": data.currency,
        }
        return unmatched(session, event, repr(data.invoice), details, money=True)
    if data.currency != invoice.currency:
        raise Unprocessable(
            f"currency: invoice {invoice.external_id!r} is in {invoice.currency}, "
            f"not {data.currency}",
            field="currency",
        )
    payment, created = record_payment(
        session,
        invoice=invoice,
        data=PaymentIn(external_id=data.payment_id, amount=data.amount, paid_at=data.paid_at),
        now=event.now,
        actor=event.actor,
    )
    detail = "payment recorded" if created else f"payment {payment.external_id!r} already recorded"
    return Outcome("applied", detail, invoice.external_id, paid=created)
