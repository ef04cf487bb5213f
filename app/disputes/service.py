"""Opening and resolving disputes; a disputed invoice waits for a person."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.disputes.models import DISPUTE_REASONS, Dispute
from app.dunning.plans import refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.notices.service import queue_notice
from app.timeline.service import record_invoice_event
from app.worklist.service import add_item


def open_dispute(
    session: Session, *, invoice: Invoice, reason: str, message: str, now: datetime, actor: str
) -> Dispute:
    if reason not in DISPUTE_REASONS:
        raise Unprocessable("choose one of the reasons listed", field="reason")
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open":
        raise Unprocessable("this invoice is closed; reply to the email instead", field="invoice")
    assert invoice.id is not None
    dispute = Dispute(
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        reason=reason,
        message=message,
        created_at=now,
    )
    session.add(dispute)
    invoice.reminder_state, invoice.hold_until = "disputed", None
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    record_invoice_event(
        session,
        invoice,
        "dispute.opened",
        at=now,
        actor=actor,
        data={"reason": reason, "message": message},
    )
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind="dispute",
        reason=f"Invoice {invoice.number} disputed: {DISPUTE_REASONS[reason]}. {message}"[:2000],
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )
    queue_notice(
        session, invoice, "dispute_received", {"reason": reason, "message": message}, now=now
    )
    return dispute


def resolve_disputes(
    session: Session, invoice: Invoice, *, resolution: str, now: datetime, actor: str
) -> int:
    """Close every open dispute of the invoice; returns how many there were."""
    disputes = session.exec(
        select(Dispute).where(Dispute.invoice_id == invoice.id, Dispute.status == "open")
    ).all()
    for dispute in disputes:
        dispute.status, dispute.resolution, dispute.resolved_at = "resolved", resolution, now
        session.add(dispute)
        record_invoice_event(
            session,
            invoice,
            "dispute.resolved",
            at=now,
            actor=actor,
            data={"reason": dispute.reason, "resolution": resolution},
        )
    return len(disputes)
