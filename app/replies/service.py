"""Recording what a customer wrote; a human reply pauses the reminders and reaches a person."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from app.customers.models import Customer
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.replies.models import Reply
from app.timeline.service import record_event, record_invoice_event
from app.worklist.service import add_item

EXCERPT = 500


def record_reply(
    session: Session,
    *,
    organisation_id: int,
    customer: Customer | None,
    invoice: Invoice | None,
    channel: str,
    kind: str,
    sender: str,
    subject: str,
    body: str,
    message_id: str | None,
    matched_by: str | None,
    now: datetime,
) -> Reply:
    reply = Reply(
        organisation_id=organisation_id,
        customer_id=customer.id if customer else None,
        invoice_id=invoice.id if invoice else None,
        channel=channel,
        kind=kind,
        sender=sender,
        subject=subject[:1000],
        body=body[:100_000],
        message_id=message_id,
        matched_by=matched_by,
        received_at=now,
    )
    session.add(reply)
    session.flush()
    data = {
        "channel": channel,
        "kind": kind,
        "from": sender,
        "subject": subject,
        "text": body[:EXCERPT],
        "reply_id": reply.id,
        "matched_by": matched_by,
    }
    actor = "customer" if kind == "human" else "mail-system"
    if invoice is not None:
        record_invoice_event(session, invoice, "reply.received", at=now, actor=actor, data=data)
    else:
        record_event(
            session,
            organisation_id=organisation_id,
            customer_id=customer.id if customer else None,
            kind="reply.received",
            at=now,
            actor=actor,
            data=data,
        )
    if kind == "human":
        if invoice is not None:
            pause_for_reply(session, invoice, now=now)
        where = f"invoice {invoice.number}" if invoice else "no invoice matched"
        who = customer.name if customer else sender
        add_item(
            session,
            organisation_id=organisation_id,
            kind="reply",
            reason=f"{who} wrote ({where}): {body[:300]}",
            at=now,
            invoice_id=invoice.id if invoice else None,
            customer_id=customer.id if customer else None,
        )
    return reply


def pause_for_reply(session: Session, invoice: Invoice, *, now: datetime) -> None:
    """Someone must answer before the next reminder; promises, plans and disputes keep theirs."""
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open" or invoice.reminder_state not in ("active", "paused"):
        return
    plan = InvoicePlan(session, invoice)
    until = now + timedelta(days=plan.policy.reply_pause_days)
    if invoice.reminder_state == "paused" and (
        invoice.hold_until is None or invoice.hold_until >= until
    ):
        return
    invoice.reminder_state, invoice.hold_until = "paused", until
    invoice.pause_reason = "waiting for us to answer the customer"
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    record_invoice_event(
        session,
        invoice,
        "invoice.paused",
        at=now,
        actor="scheduler",
        data={"until": until.isoformat(), "reason": "the customer replied"},
    )
