"""The thank-you after payment, with a one-click rating of how the customer was treated."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.dunning.models import SendLog
from app.invoices.models import Invoice
from app.notices.service import queue_notice
from app.organisations.models import Organisation


def thank_for_payment(session: Session, invoice: Invoice, *, now: datetime) -> None:
    """The optional thank-you, with a one-click rating of how the customer was treated."""
    organisation = session.get(Organisation, invoice.organisation_id)
    reminded = session.exec(
        select(SendLog.id).where(SendLog.invoice_id == invoice.id, SendLog.status == "sent")
    ).first()
    # Only customers who were chased are asked how the chasing felt.
    if organisation is not None and organisation.thank_you_email and reminded is not None:
        queue_notice(session, invoice, "thank_you", {}, now=now)
