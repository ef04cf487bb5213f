"""Promise rules: a dated commitment holds the reminders; kept when paid, broken when not."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from app import money
from app.customers.models import Customer
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.notices.service import queue_notice
from app.promises.models import Promise
from app.promises.state import AGREEABLE, has_broken_agreement, promise_hold_end
from app.timeline.service import record_invoice_event
from app.worklist.service import add_item


def open_promise(session: Session, invoice: Invoice) -> Promise | None:
    statement = select(Promise).where(Promise.invoice_id == invoice.id, Promise.status == "open")
    return session.exec(statement.order_by(col(Promise.id).desc())).first()


def create_promise(
    session: Session,
    *,
    invoice: Invoice,
    promised_on: date,
    amount_minor: int | None,
    now: datetime,
    actor: str,
    source: str = "customer",
) -> Promise:
    """Validate against the policy, hold the reminders and put the promise in writing."""
    invoice = lock_invoice(session, invoice)
    plan = InvoicePlan(session, invoice)
    if invoice.status != "open" or invoice.amount_due_minor <= 0:
        raise Unprocessable("this invoice has nothing left to pay", field="invoice")
    if invoice.reminder_state not in AGREEABLE:
        raise Unprocessable(_NOT_NOW[invoice.reminder_state], field="invoice")
    today = plan.calendar.local_date(now)
    break_passed_promise(session, invoice, now=now)
    earlier = open_promise(session, invoice)
    if source == "customer" and has_broken_agreement(session, invoice):
        raise Unprocessable(
            "we could not keep to an earlier arrangement for this invoice, so a person will "
            "agree the next one with you: please send us a message instead",
            field="invoice",
        )
    # Moving an open promise never pushes the horizon past the first one's limit.
    start = plan.calendar.local_date(earlier.created_at) if earlier else today
    latest = start + timedelta(days=plan.policy.promise_max_days)
    if promised_on < today:
        raise Unprocessable("choose today or a later date", field="promised_on")
    if promised_on > latest:
        raise Unprocessable(
            f"choose a date no later than {latest.isoformat()}", field="promised_on"
        )
    amount = invoice.amount_due_minor if amount_minor is None else amount_minor
    if amount <= 0 or amount > invoice.amount_due_minor:
        due = money.to_decimal_string(invoice.amount_due_minor, invoice.currency)
        raise Unprocessable(f"enter an amount above zero and at most {due}", field="amount")
    if earlier is not None:
        earlier.status, earlier.resolved_at = "cancelled", now
        session.add(earlier)
    assert invoice.id is not None
    promise = Promise(
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        amount_minor=amount,
        due_at_creation_minor=invoice.amount_due_minor,
        promised_on=promised_on,
        source=source,
        created_at=now,
    )
    session.add(promise)
    invoice.reminder_state = "promised"
    invoice.hold_until = promise_hold_end(promise, plan.policy.promise_grace_days, plan.timezone)
    invoice.followup = None
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    amount_text = money.to_decimal_string(amount, invoice.currency)
    record_invoice_event(
        session,
        invoice,
        "promise.created",
        at=now,
        actor=actor,
        data={
            "amount": amount_text,
            "currency": invoice.currency,
            "promised_on": promised_on.isoformat(),
            "source": source,
        },
    )
    queue_notice(
        session,
        invoice,
        "promise_confirmed",
        {
            "amount_minor": amount,
            "promised_on": promised_on.isoformat(),
            "full": amount == invoice.amount_due_minor,
        },
        now=now,
    )
    return promise


def break_passed_promise(session: Session, invoice: Invoice, *, now: datetime) -> bool:
    """An open promise whose day has passed unpaid is broken when a new date is asked for:
    that is a broken promise, not a new start. The portal settles this in a transaction of
    its own first, so refusing the new promise does not roll the record back."""
    invoice = lock_invoice(session, invoice)
    earlier = open_promise(session, invoice)
    if earlier is None or invoice.status != "open" or invoice.reminder_state not in AGREEABLE:
        return False  # a dispute or an escalation keeps its state; a person handles it
    if earlier.promised_on >= InvoicePlan(session, invoice).calendar.local_date(now):
        return False
    _break(session, invoice, earlier, now=now)
    if invoice.reminder_state == "promised":
        # Reminders resume ("we had agreed") once the promise's grace days are over.
        invoice.reminder_state = "active"
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    return True


_NOT_NOW = {
    "plan": "this invoice already has a payment plan; send us a message to change it",
    "disputed": "this invoice is being looked into by a person, who will get back to you",
    "escalated": "this invoice is with our collections team; send us a message instead",
    "opted_out": "send us a message and a person will agree this with you",
}


def keep_promise_if_paid(session: Session, invoice: Invoice, *, now: datetime, actor: str) -> None:
    """After the balance went down (a payment here or in the invoicing system): the promise
    is kept once the promised amount has arrived, or nothing is left to pay."""
    promise = open_promise(session, invoice)
    if promise is None:
        return
    target = promise.due_at_creation_minor - promise.amount_minor
    if invoice.amount_due_minor > 0 and invoice.amount_due_minor > target:
        return
    promise.status, promise.resolved_at = "kept", now
    session.add(promise)
    record_invoice_event(
        session,
        invoice,
        "promise.kept",
        at=now,
        actor=actor,
        data={"promised_on": promise.promised_on.isoformat()},
    )
    if invoice.reminder_state == "promised":
        # Kept in part: the rest of the balance goes back on the ladder.
        invoice.reminder_state, invoice.hold_until = "active", None
        session.add(invoice)


def break_promise_if_due(session: Session, invoice: Invoice, *, now: datetime) -> bool:
    """Called by the pass once the hold has ended without the promised money."""
    if invoice.reminder_state != "promised" or invoice.hold_until is None:
        return False
    if invoice.hold_until > now:
        return False
    promise = open_promise(session, invoice)
    invoice.reminder_state, invoice.hold_until = "active", None
    session.add(invoice)
    if promise is not None:
        _break(session, invoice, promise, now=now)
    return True


def _break(session: Session, invoice: Invoice, promise: Promise, *, now: datetime) -> None:
    promise.status, promise.resolved_at = "broken", now
    session.add(promise)
    invoice.followup = "promise_broken"
    invoice.followup_data = {
        "amount_minor": promise.amount_minor,
        "date": promise.promised_on.isoformat(),
    }
    session.add(invoice)
    register_broken_promise(
        session,
        invoice,
        now=now,
        data={
            "promised_on": promise.promised_on.isoformat(),
            "amount": money.to_decimal_string(promise.amount_minor, invoice.currency),
        },
        reason=f"Promise to pay invoice {invoice.number} by {promise.promised_on} was broken.",
    )


def register_broken_promise(
    session: Session, invoice: Invoice, *, now: datetime, data: dict[str, str], reason: str
) -> None:
    customer = session.get(Customer, invoice.customer_id)
    if customer is not None:
        customer.broken_promises += 1
        session.add(customer)
    record_invoice_event(session, invoice, "promise.broken", at=now, actor="scheduler", data=data)
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind="broken_promise",
        reason=reason,
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )
