"""Acting on an inbound email: a bounce marks the contact, an auto-reply is only noted,
a human reply is stored, pauses the reminders and lands on the worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.customers.models import Contact, Customer
from app.dunning.models import SendLog
from app.invoices.service import open_invoices_of
from app.notices.models import Notice
from app.replies.inbound import InboundEmail
from app.replies.matching import match_inbound
from app.replies.models import Reply
from app.replies.service import pause_for_reply, record_reply
from app.timeline.service import record_event, record_invoice_event
from app.worklist.service import add_item


@dataclass
class InboundResult:
    result: str  # matched, unmatched, duplicate
    kind: str
    matched_by: str | None = None
    customer: str | None = None
    invoice: str | None = None
    bounced: tuple[str, ...] = ()


def handle_inbound(
    session: Session,
    email: InboundEmail,
    *,
    organisation_id: int,
    secret: str,
    now: datetime,
    evidence: str = "",
) -> InboundResult:
    """`evidence`: the message as received, in which a bounce must quote what we sent."""
    if (
        email.message_id
        and session.exec(
            select(Reply.id).where(
                Reply.organisation_id == organisation_id, Reply.message_id == email.message_id
            )
        ).first()
    ):
        return InboundResult("duplicate", email.kind)  # a webhook retried, or replayed
    match = match_inbound(session, email, organisation_id=organisation_id, secret=secret)
    bounced: list[str] = []
    if email.kind == "bounce":
        bounced = _mark_bounces(
            session, email, organisation_id=organisation_id, now=now, evidence=evidence
        )
    body = email.reply_text if email.kind == "human" else email.text
    record_reply(
        session,
        organisation_id=organisation_id,
        customer=match.customer,
        invoice=match.invoice,
        channel="email",
        kind=email.kind,
        sender=email.sender,
        subject=email.subject,
        body=body,
        message_id=email.message_id,
        matched_by=match.matched_by,
        now=now,
    )
    if email.kind == "human" and match.invoice is None and match.customer is not None:
        # Known sender, no thread: every active reminder of theirs waits for an answer.
        for invoice in open_invoices_of(session, match.customer):
            pause_for_reply(session, invoice, now=now)
    for other in match.others:
        # A reply to a combined reminder is about each invoice in it.
        record_invoice_event(
            session,
            other,
            "reply.received",
            at=now,
            actor="customer" if email.kind == "human" else "mail-system",
            data={
                "channel": "email",
                "kind": email.kind,
                "from": email.sender,
                "subject": email.subject,
                "text": body[:500],
                "matched_by": match.matched_by,
            },
        )
        if email.kind == "human":
            pause_for_reply(session, other, now=now)
    return InboundResult(
        "matched" if match.customer else "unmatched",
        email.kind,
        match.matched_by,
        match.customer.external_id if match.customer else None,
        match.invoice.external_id if match.invoice else None,
        tuple(bounced),
    )


def _mark_bounces(
    session: Session, email: InboundEmail, *, organisation_id: int, now: datetime, evidence: str
) -> list[str]:
    """Only a report quoting the Message-ID of an email we sent to that address counts:
    anyone can write to the inbound address, and a forged report must not cut a customer off."""
    marked = []
    for bounce in email.bounces:
        if not bounce.permanent:
            continue  # a delay is not a bounce; the server keeps trying
        contacts = session.exec(
            select(Contact).where(
                Contact.organisation_id == organisation_id,
                func.lower(Contact.email) == bounce.address.lower(),
                col(Contact.bounced_at).is_(None),
            )
        ).all()
        for contact in contacts:
            if not _quotes_our_email(session, contact, evidence):
                continue
            contact.bounced_at = now
            contact.bounce_reason = f"{bounce.status} {bounce.diagnostic}"[:1000]
            session.add(contact)
            customer = session.get(Customer, contact.customer_id)
            record_event(
                session,
                organisation_id=organisation_id,
                customer_id=contact.customer_id,
                kind="contact.bounced",
                at=now,
                actor="mail-system",
                data={"email": contact.email, "status": bounce.status, "reason": bounce.diagnostic},
            )
            add_item(
                session,
                organisation_id=organisation_id,
                kind="bounced",
                reason=f"{contact.email} bounced ({bounce.status} {bounce.diagnostic}); "
                f"find a working address for {customer.name if customer else 'them'}.",
                at=now,
                customer_id=contact.customer_id,
            )
            marked.append(contact.email)
    return marked


def _quotes_our_email(session: Session, contact: Contact, evidence: str) -> bool:
    if not evidence:
        return False
    sent = session.exec(
        select(SendLog.message_id).where(
            SendLog.customer_id == contact.customer_id, col(SendLog.message_id).is_not(None)
        )
    ).all()
    notices = session.exec(
        select(Notice.message_id).where(
            Notice.customer_id == contact.customer_id, col(Notice.message_id).is_not(None)
        )
    ).all()
    return any(message_id and message_id in evidence for message_id in [*sent, *notices])
