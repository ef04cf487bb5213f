"""Invoice rules: upsert from the invoicing system, pause and resume, and what the API shows."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func
from sqlmodel import Session, select

from app import money
from app.customers.models import Customer
from app.customers.service import get_customer
from app.disputes.service import resolve_disputes
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.errors import NotFound, Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.invoices.schemas import (
    InvoiceIn,
    InvoiceOut,
    NextReminder,
    PauseIn,
    RemindersOut,
    ScheduledStep,
    ScheduleOut,
)
from app.notices.thanks import thank_for_payment
from app.payments.models import Payment
from app.promises.state import restore_state
from app.timeline.service import record_invoice_event


def get_invoice(session: Session, *, organisation_id: int, external_id: str) -> Invoice:
    invoice = session.exec(
        select(Invoice).where(
            Invoice.organisation_id == organisation_id, Invoice.external_id == external_id
        )
    ).first()
    if invoice is None:
        raise NotFound(f"no invoice {external_id!r}")
    return invoice


def open_invoices_of(session: Session, customer: Customer) -> list[Invoice]:
    statement = select(Invoice).where(Invoice.customer_id == customer.id, Invoice.status == "open")
    return list(session.exec(statement).all())


def _paid_so_far(session: Session, invoice: Invoice) -> int:
    if invoice.id is None:
        return 0
    total = session.exec(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.invoice_id == invoice.id
        )
    ).one()
    return int(total)


def upsert_invoice(
    session: Session,
    *,
    organisation_id: int,
    external_id: str,
    data: InvoiceIn,
    now: datetime,
    actor: str,
) -> tuple[Invoice, bool]:
    try:
        customer = get_customer(session, organisation_id=organisation_id, external_id=data.customer)
    except NotFound:
        raise Unprocessable(
            f"no customer {data.customer!r}; PUT /customers/{{external_id}} first", field="customer"
        ) from None
    existing = session.exec(
        select(Invoice).where(
            Invoice.organisation_id == organisation_id, Invoice.external_id == external_id
        )
    ).first()
    created = existing is None
    if existing is None:
        invoice = Invoice(
            organisation_id=organisation_id,
            customer_id=customer.id or 0,
            external_id=external_id,
            number=data.number,
            currency=data.currency,
            amount_total_minor=0,
            amount_due_minor=0,
            due_on=data.due_on,
            created_at=now,
            updated_at=now,
        )
    else:
        # Serialised with the sender: a reminder never goes out on stale amounts.
        invoice = lock_invoice(session, existing)
        if invoice.currency != data.currency and _paid_so_far(session, invoice):
            raise Unprocessable(
                "currency cannot change once payments are recorded", field="currency"
            )
    previous_status = None if created else invoice.status
    previous_due = invoice.amount_due_minor
    total = money.to_minor(data.amount_total, data.currency)
    # Payments recorded here always count, even when the invoicing system has not seen them.
    outstanding = max(total - _paid_so_far(session, invoice), 0)
    due = outstanding
    if data.amount_due is not None:
        due = min(money.to_minor(data.amount_due, data.currency), outstanding)
    invoice.customer_id = customer.id or 0
    invoice.number = data.number
    invoice.currency = data.currency
    invoice.amount_total_minor = total
    invoice.amount_due_minor = due
    invoice.issued_on = data.issued_on
    invoice.due_on = data.due_on
    invoice.payment_url = data.payment_url
    invoice.status = "paid" if data.status == "open" and due == 0 else data.status
    invoice.updated_at = now
    session.add(invoice)
    session.flush()
    _record_status_change(session, invoice, previous_status, now=now, actor=actor)
    if not created and due < previous_due:
        # Paid in the invoicing system: plans and promises count it like a payment here.
        settle_agreements(session, invoice, previous_due - due, now=now, actor=actor)
        if invoice.status == "paid" and previous_status == "open":
            thank_for_payment(session, invoice, now=now)
    refresh_next_action(session, invoice, now)
    return invoice, created


_STATUS_EVENTS = {
    "void": "invoice.voided",
    "written_off": "invoice.written_off",
    "paid": "invoice.paid",
    "open": "invoice.reopened",
}


def settle_agreements(
    session: Session, invoice: Invoice, amount_minor: int, *, now: datetime, actor: str
) -> None:
    from app.promises.plans import apply_payment_to_plan
    from app.promises.service import keep_promise_if_paid

    apply_payment_to_plan(session, invoice, amount_minor, now=now, actor=actor)
    keep_promise_if_paid(session, invoice, now=now, actor=actor)


def _record_status_change(
    session: Session, invoice: Invoice, previous: str | None, *, now: datetime, actor: str
) -> None:
    assert invoice.id is not None
    if previous is None:
        kind, data = "invoice.created", {"number": invoice.number, "status": invoice.status}
    elif previous != invoice.status:
        kind, data = _STATUS_EVENTS[invoice.status], {"previous_status": previous}
    else:
        return
    record_invoice_event(
        session,
        invoice,
        kind,
        at=now,
        actor=actor,
        data=data,
    )


def pause_invoice(
    session: Session, *, invoice: Invoice, data: PauseIn, now: datetime, actor: str
) -> Invoice:
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open":
        raise Unprocessable(f"invoice is {invoice.status}; only open invoices can be paused")
    plan = InvoicePlan(session, invoice)
    until = data.until
    if isinstance(until, date) and not isinstance(until, datetime):
        # A date means "until that day starts" in the customer's time zone.
        until = datetime.combine(until, time(0), tzinfo=plan.timezone)
    if isinstance(until, datetime):
        if until.tzinfo is None:
            raise Unprocessable(
                "until: give a time zone offset, e.g. 2026-12-01T09:00:00Z", field="until"
            )
        if until <= now:
            raise Unprocessable("until: must be in the future", field="until")
    invoice.reminder_state = "paused"
    invoice.hold_until = until
    invoice.pause_reason = data.reason
    invoice.updated_at = now
    refresh_next_action(session, invoice, now)
    record_invoice_event(
        session,
        invoice,
        "invoice.paused",
        at=now,
        actor=actor,
        data={"until": until.isoformat() if until else None, "reason": data.reason},
    )
    return invoice


def resume_invoice(session: Session, *, invoice: Invoice, now: datetime, actor: str) -> Invoice:
    invoice = lock_invoice(session, invoice)
    if invoice.reminder_state not in ("paused", "promised", "disputed", "unreachable"):
        raise Unprocessable(f"reminders are {invoice.reminder_state}, not paused")
    if invoice.reminder_state == "disputed":
        resolve_disputes(session, invoice, resolution="reminders resumed", now=now, actor=actor)
    restore_state(session, invoice, now=now)
    invoice.updated_at = now
    refresh_next_action(session, invoice, now)
    record_invoice_event(
        session,
        invoice,
        "invoice.resumed",
        at=now,
        actor=actor,
    )
    return invoice


def reminder_state(invoice: Invoice) -> str:
    """What the API calls the reminder state: the invoicing status wins once it is closed."""
    if invoice.status != "open":
        return invoice.status
    return invoice.reminder_state


def invoice_out(session: Session, invoice: Invoice) -> InvoiceOut:
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    next_reminder = None
    if invoice.next_action_at is not None and invoice.next_step is not None:
        next_reminder = NextReminder(step=invoice.next_step, send_at=invoice.next_action_at)
    return InvoiceOut(
        external_id=invoice.external_id,
        customer=customer.external_id,
        number=invoice.number,
        currency=invoice.currency,
        amount_total=money.to_decimal_string(invoice.amount_total_minor, invoice.currency),
        amount_due=money.to_decimal_string(invoice.amount_due_minor, invoice.currency),
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        payment_url=invoice.payment_url,
        status=invoice.status,
        reminders=RemindersOut(state=reminder_state(invoice), next=next_reminder),
    )


def schedule_out(session: Session, invoice: Invoice, now: datetime) -> ScheduleOut:
    plan = InvoicePlan(session, invoice)
    tz = plan.timezone
    steps = [
        ScheduledStep(
            step=action.step.key,
            tone=action.step.tone,
            action=action.step.action,
            send_at=action.send_at,
            local_send_at=action.send_at.astimezone(tz).isoformat(),
        )
        for action in plan.schedule(now)
    ]
    return ScheduleOut(invoice=invoice.external_id, timezone=str(tz), steps=steps)
