"""A customer stops reminder email: the account moves to a person, never silently dropped."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.customers.models import Customer
from app.customers.service import contacts_of
from app.dunning.plans import refresh_next_action
from app.invoices.locking import lock_invoices
from app.invoices.service import open_invoices_of
from app.timeline.service import record_event
from app.worklist.service import add_item


def opt_out(session: Session, customer: Customer, *, now: datetime, via: str) -> bool:
    """Returns False when the customer had already opted out (nothing changes twice)."""
    contacts = [c for c in contacts_of(session, customer) if c.opted_out_at is None]
    if not contacts:
        return False
    for contact in contacts:
        contact.opted_out_at = now
        session.add(contact)
    record_event(
        session,
        organisation_id=customer.organisation_id,
        customer_id=customer.id,
        kind="contact.unsubscribed",
        at=now,
        actor="customer",
        data={"via": via, "emails": [c.email for c in contacts]},
    )
    invoices = open_invoices_of(session, customer)
    for invoice in lock_invoices(session, [i.id for i in invoices if i.id]):
        if invoice.reminder_state in ("active", "paused", "promised", "plan", "unreachable"):
            invoice.reminder_state = "opted_out"
            session.add(invoice)
            session.flush()
            refresh_next_action(session, invoice, now)
    add_item(
        session,
        organisation_id=customer.organisation_id,
        kind="opted_out",
        reason=f"{customer.name} asked for no more reminder emails; reach them another way "
        "(phone or post) about their open invoices.",
        at=now,
        customer_id=customer.id,
    )
    return True
