"""Which customer and invoice an inbound email is about: reply token, then thread, then sender."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.customers.models import Contact, Customer
from app.dunning.models import SendLog
from app.invoices.models import Invoice
from app.links import reply_token
from app.notices.models import Notice
from app.replies.inbound import InboundEmail, reply_tokens
from app.security import same_secret


@dataclass
class Match:
    customer: Customer | None
    invoice: Invoice | None
    matched_by: str | None
    # The other invoices of a combined reminder: a reply to it is about all of them.
    others: list[Invoice] = field(default_factory=list)


def match_inbound(
    session: Session, email: InboundEmail, *, organisation_id: int, secret: str
) -> Match:
    ids = [*email.in_reply_to, *reversed(email.references)]
    threaded = _invoices_from_thread(session, ids, organisation_id) if ids else []
    for token in reply_tokens(email.recipients):
        invoice = _invoice_from_token(session, token, organisation_id, secret)
        if invoice is not None:
            others = [
                i for i in threaded if i.id != invoice.id and i.customer_id == invoice.customer_id
            ]
            return Match(session.get(Customer, invoice.customer_id), invoice, "token", others)
    if threaded:
        first = threaded[0]
        return Match(session.get(Customer, first.customer_id), first, "thread", threaded[1:])
    if email.sender:
        customer = session.exec(
            select(Customer)
            .join(Contact, col(Contact.customer_id) == col(Customer.id))
            .where(
                Customer.organisation_id == organisation_id,
                func.lower(Contact.email) == email.sender.lower(),
            )
        ).first()
        if customer is not None:
            return Match(customer, None, "sender")
    return Match(None, None, None)


def _invoice_from_token(
    session: Session, token: str, organisation_id: int, secret: str
) -> Invoice | None:
    parts = token.split("-")
    if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]):
        return None
    org, customer, invoice_id = (int(part) for part in parts[:3])
    expected = reply_token(secret, organisation_id=org, customer_id=customer, invoice_id=invoice_id)
    # A token of another organisation, or a forged one, matches nothing.
    if org != organisation_id or not same_secret(token, expected):
        return None
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.organisation_id != organisation_id:
        return None
    return invoice if invoice.customer_id == customer else None


def _invoices_from_thread(session: Session, ids: list[str], organisation_id: int) -> list[Invoice]:
    """Every invoice the newest known email of the thread was about."""
    for message_id in ids:
        invoice_ids = list(
            session.exec(
                select(SendLog.invoice_id).where(
                    SendLog.organisation_id == organisation_id, SendLog.message_id == message_id
                )
            ).all()
        ) or list(
            session.exec(
                select(Notice.invoice_id).where(
                    Notice.organisation_id == organisation_id, Notice.message_id == message_id
                )
            ).all()
        )
        if invoice_ids:
            invoices = [session.get(Invoice, invoice_id) for invoice_id in sorted(set(invoice_ids))]
            return [invoice for invoice in invoices if invoice is not None]
    return []
