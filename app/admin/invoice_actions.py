"""The invoice page's actions: each reads its form, changes the invoice and records an event.

Each function runs inside the request's transaction; raising FormErrors or an AppError rolls
everything back, and the page shows the reason with a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session, select

from app.disputes.service import resolve_disputes
from app.dunning.plans import refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.invoices.schemas import PauseIn
from app.invoices.service import pause_invoice, resume_invoice
from app.portal.forms import Form
from app.promises.models import PaymentPlan, Promise
from app.promises.service import create_promise
from app.timeline.service import record_invoice_event
from app.worklist.service import resolve_invoice_items

Action = Callable[[Session, Invoice, Form, datetime, str], str]


def _pause(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    until = form.day("until") if form.data.get("until", "").strip() else None
    reason = form.text("reason", required=False, max_length=1000)
    form.check()
    try:
        data = PauseIn(until=until.isoformat() if until else None, reason=reason or None)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "until"
        raise Unprocessable(first["msg"].removeprefix("Value error, "), field=field) from None
    pause_invoice(session, invoice=invoice, data=data, now=now, actor=actor)
    return f"Reminders paused until {until.isoformat()}." if until else "Reminders paused."


def _resume(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    resume_invoice(session, invoice=invoice, now=now, actor=actor)
    return "Reminders resumed."


def _note(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    text = form.text("text", max_length=5000)
    form.check()
    record_invoice_event(session, invoice, "note.added", at=now, actor=actor, data={"text": text})
    return "Note added."


def _promise(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    promised_on = form.day("promised_on")
    amount = form.amount("amount", invoice.currency, required=False)
    form.check()
    assert promised_on is not None
    create_promise(
        session,
        invoice=invoice,
        promised_on=promised_on,
        amount_minor=amount,
        now=now,
        actor=actor,
        source="admin",
    )
    return f"Promise to pay by {promised_on.isoformat()} recorded."


def settle_dispute(
    session: Session, invoice: Invoice, *, resolution: str, now: datetime, actor: str
) -> str | None:
    """Resolve the open disputes and their worklist items, then resume the held reminders.

    Shared with the worklist, so resolving a dispute there never leaves the invoice on hold.
    Returns what was done, or None when there was no open dispute.
    """
    invoice = lock_invoice(session, invoice)
    if not resolve_disputes(session, invoice, resolution=resolution, now=now, actor=actor):
        return None
    resolve_invoice_items(
        session, invoice=invoice, kind="dispute", resolution=resolution, now=now, actor=actor
    )
    if invoice.reminder_state != "disputed":
        return "Dispute resolved."
    resume_invoice(session, invoice=invoice, now=now, actor=actor)
    return "Dispute resolved; reminders resumed."


def _resolve_dispute(
    session: Session, invoice: Invoice, form: Form, now: datetime, actor: str
) -> str:
    resolution = form.text("resolution", max_length=5000)
    form.check()
    done = settle_dispute(session, invoice, resolution=resolution, now=now, actor=actor)
    if done is None:
        raise Unprocessable("this invoice has no open dispute", field="resolution")
    return done


def _escalate(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    reason = form.text("reason", required=False, max_length=1000)
    form.check()
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open":
        raise Unprocessable(f"the invoice is {invoice.status}; only open invoices are escalated")
    if invoice.reminder_state == "escalated":
        raise Unprocessable("the invoice is already escalated")
    invoice.reminder_state, invoice.escalated_at, invoice.updated_at = "escalated", now, now
    # No automatic email from here on: a person or a collection agency takes over.
    invoice.next_action_at = invoice.next_step = invoice.hold_until = None
    session.add(invoice)
    data = {"reason": reason} if reason else {}
    record_invoice_event(session, invoice, "invoice.escalated", at=now, actor=actor, data=data)
    return "Invoice escalated; no more automatic reminders."


def _write_off(session: Session, invoice: Invoice, form: Form, now: datetime, actor: str) -> str:
    reason = form.text("reason", required=False, max_length=1000)
    if form.data.get("confirm") != "yes":
        form.errors["confirm"] = "Tick the box to confirm the write-off."
    form.check()
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open":
        raise Unprocessable(f"the invoice is {invoice.status}; only open invoices are written off")
    invoice.status, invoice.updated_at = "written_off", now
    # Settle what was pending, so nothing later counts as kept or broken on a closed invoice.
    for table in (Promise, PaymentPlan):
        pending = "open" if table is Promise else "active"
        for row in session.exec(
            select(table).where(table.invoice_id == invoice.id, table.status == pending)
        ).all():
            row.status, row.resolved_at = "cancelled", now
            session.add(row)
    session.add(invoice)
    refresh_next_action(session, invoice, now)
    data = {"previous_status": "open", **({"reason": reason} if reason else {})}
    record_invoice_event(session, invoice, "invoice.written_off", at=now, actor=actor, data=data)
    return "Invoice written off; reminders stopped."


ACTIONS: dict[str, Action] = {
    "pause": _pause,
    "resume": _resume,
    "note": _note,
    "promise": _promise,
    "resolve-dispute": _resolve_dispute,
    "escalate": _escalate,
    "write-off": _write_off,
}
