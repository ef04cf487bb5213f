"""Recording a payment; a full one stops the reminders in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app import money
from app.dunning.plans import refresh_next_action
from app.errors import Conflict, Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.invoices.service import settle_agreements
from app.notices.thanks import thank_for_payment
from app.payments.models import Payment
from app.payments.schemas import PaymentIn
from app.timeline.service import record_invoice_event


def record_payment(
    session: Session, *, invoice: Invoice, data: PaymentIn, now: datetime, actor: str
) -> tuple[Payment, bool]:
    """Idempotent on the payment's external id; returns (payment, created)."""
    try:
        amount_minor = money.to_minor(data.amount, invoice.currency)
    except ValueError as error:
        raise Unprocessable(f"amount: {error}", field="amount") from None
    if amount_minor <= 0:
        raise Unprocessable("amount: must be more than zero", field="amount")
    # The lock comes first: a send in progress finishes, or waits for this payment.
    invoice = lock_invoice(session, invoice)
    existing = session.exec(
        select(Payment).where(
            Payment.organisation_id == invoice.organisation_id,
            Payment.external_id == data.external_id,
        )
    ).first()
    if existing is not None:
        if existing.invoice_id != invoice.id or existing.amount_minor != amount_minor:
            raise Conflict(
                f"payment {data.external_id!r} was already recorded with other details",
                field="external_id",
            )
        return existing, False
    if invoice.status in ("void", "written_off"):
        raise Unprocessable(f"invoice is {invoice.status}; it takes no payments")
    assert invoice.id is not None
    payment = Payment(
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        external_id=data.external_id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        paid_at=data.paid_at or now,
        created_at=now,
    )
    session.add(payment)
    invoice.amount_due_minor = max(invoice.amount_due_minor - amount_minor, 0)
    invoice.updated_at = now
    record_invoice_event(
        session,
        invoice,
        "payment.received",
        at=now,
        actor=actor,
        data={
            "payment": data.external_id,
            "amount": money.to_decimal_string(amount_minor, invoice.currency),
            "currency": invoice.currency,
            "amount_due": money.to_decimal_string(invoice.amount_due_minor, invoice.currency),
        },
    )
    if invoice.amount_due_minor == 0 and invoice.status == "open":
        invoice.status = "paid"
        invoice.paid_at = payment.paid_at
        record_invoice_event(session, invoice, "invoice.paid", at=now, actor=actor)
        thank_for_payment(session, invoice, now=now)
    session.add(invoice)
    session.flush()
    settle_agreements(session, invoice, amount_minor, now=now, actor=actor)
    refresh_next_action(session, invoice, now)
    return payment, True
