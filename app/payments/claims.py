""" "I've already paid": reminders pause while someone checks the bank."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from app import money
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.notices.service import queue_notice
from app.timeline.service import record_invoice_event
from app.worklist.service import add_item


def claim_payment(
    session: Session,
    *,
    invoice: Invoice,
    paid_on: date,
    amount_minor: int,
    reference: str,
    now: datetime,
    actor: str,
) -> None:
    invoice = lock_invoice(session, invoice)
    plan = InvoicePlan(session, invoice)
    today = plan.calendar.local_date(now)
    if paid_on > today:
        raise Unprocessable("the payment date cannot be in the future", field="paid_on")
    earliest = invoice.issued_on or today - timedelta(days=365)
    if paid_on < earliest:
        raise Unprocessable("that date is before the invoice was issued", field="paid_on")
    if amount_minor <= 0:
        raise Unprocessable("enter the amount you paid", field="amount")
    if invoice.status != "open":
        raise Unprocessable("this invoice has nothing left to pay", field="invoice")
    if amount_minor > invoice.amount_total_minor:
        total = money.to_decimal_string(invoice.amount_total_minor, invoice.currency)
        raise Unprocessable(f"enter at most the invoice total, {total}", field="amount")
    hold = now + timedelta(days=plan.policy.paid_claim_pause_days)
    if invoice.reminder_state in ("promised", "plan"):
        # The agreement stands; its reminders and checks only wait while someone looks.
        invoice.hold_until = max(invoice.hold_until or hold, hold)
    elif invoice.reminder_state in ("active", "paused"):
        invoice.reminder_state = "paused"
        invoice.hold_until = max(invoice.hold_until or hold, hold)
        invoice.pause_reason = "the customer says it is paid"
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    amount = money.to_decimal_string(amount_minor, invoice.currency)
    record_invoice_event(
        session,
        invoice,
        "payment.claimed",
        at=now,
        actor=actor,
        data={
            "paid_on": paid_on.isoformat(),
            "amount": amount,
            "currency": invoice.currency,
            "reference": reference,
        },
    )
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind="paid_claim",
        reason=f"The customer says invoice {invoice.number} was paid on {paid_on}: {amount} "
        f"{invoice.currency}"
        + (f", reference {reference}" if reference else "")
        + ". Check the bank and record the payment.",
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )
    queue_notice(
        session,
        invoice,
        "payment_claim_received",
        {"paid_on": paid_on.isoformat(), "amount_minor": amount_minor, "reference": reference},
        now=now,
    )
