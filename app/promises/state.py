"""Which reminder state an invoice returns to when a pause or a dispute ends.

One `reminder_state` column holds the state in force; agreements live in their own tables.
So when a hold ends, the invoice goes back to the agreement still running (a payment plan,
then an open promise, then an open dispute), and only with none of them to plain `active`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, col, select

from app.disputes.models import Dispute
from app.invoices.models import Invoice
from app.promises.models import PaymentPlan, Promise

# States in which a customer may make a promise or a plan; the others belong to a person.
AGREEABLE = ("active", "paused", "promised", "unreachable")


def restore_state(session: Session, invoice: Invoice, *, now: datetime) -> str:
    """Set the state the invoice goes back to; returns it."""
    from app.dunning.plans import InvoicePlan

    invoice.hold_until = None
    invoice.pause_reason = None
    if session.exec(
        select(PaymentPlan.id).where(
            PaymentPlan.invoice_id == invoice.id, PaymentPlan.status == "active"
        )
    ).first():
        invoice.reminder_state = "plan"
    elif (
        promise := session.exec(
            select(Promise)
            .where(Promise.invoice_id == invoice.id, Promise.status == "open")
            .order_by(col(Promise.id).desc())
        ).first()
    ) is not None:
        invoice.reminder_state = "promised"
        context = InvoicePlan(session, invoice)
        invoice.hold_until = promise_hold_end(
            promise, context.policy.promise_grace_days, context.timezone
        )
    elif session.exec(
        select(Dispute.id).where(Dispute.invoice_id == invoice.id, Dispute.status == "open")
    ).first():
        invoice.reminder_state = "disputed"
    else:
        invoice.reminder_state = "active"
    session.add(invoice)
    return invoice.reminder_state


def promise_hold_end(promise: Promise, grace_days: int, timezone: object) -> datetime:
    """Reminders stay held until the grace days after the promised day have fully passed."""
    end = promise.promised_on + timedelta(days=grace_days + 1)
    return datetime.combine(end, time(0), tzinfo=timezone)  # type: ignore[arg-type]


def has_broken_agreement(session: Session, invoice: Invoice) -> bool:
    """A customer who broke a promise or plan on this invoice talks to a person next."""
    broken_promise = session.exec(
        select(Promise.id).where(Promise.invoice_id == invoice.id, Promise.status == "broken")
    ).first()
    broken_plan = session.exec(
        select(PaymentPlan.id).where(
            PaymentPlan.invoice_id == invoice.id, PaymentPlan.status == "broken"
        )
    ).first()
    return broken_promise is not None or broken_plan is not None
