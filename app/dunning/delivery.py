"""Phase 2 of a send: lock the invoices, re-check them, send, and record what happened."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.customers.models import Contact, Customer
from app.db import session_scope
from app.dunning import repository
from app.dunning.messages import build_reminder
from app.dunning.models import SendLog
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.invoices.locking import lock_invoices
from app.invoices.models import Invoice
from app.mail.transport import OutcomeUnknown, PermanentFailure, SendResult, TemporaryFailure
from app.timeline.service import record_event, record_invoice_event
from app.worklist.service import add_item

if TYPE_CHECKING:
    from app.dunning.service import LoggedSend, Outcome, PassContext

log = logging.getLogger("politely.dunning")


def still_wanted(invoice: Invoice, now: datetime) -> bool:
    """False when a payment, void, pause or dispute landed after the send was logged."""
    if invoice.status != "open" or invoice.amount_due_minor <= 0:
        return False
    if invoice.reminder_state == "active":
        return invoice.hold_until is None or invoice.hold_until <= now
    held = invoice.reminder_state in ("paused", "promised")
    return held and invoice.hold_until is not None and invoice.hold_until <= now


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(5 * 2 ** max(attempts - 1, 0), 360))


async def deliver(context: PassContext, logged: LoggedSend, now: datetime) -> list[Outcome]:

    by_invoice = {outcome.invoice: outcome for outcome in logged.outcomes}
    with session_scope(context.engine) as session:
        rows = repository.rows_for_message(session, logged.message_id)
        invoices = {
            invoice.id: invoice
            for invoice in lock_invoices(session, [row.invoice_id for row in rows])
        }
        kept: list[tuple[SendLog, Invoice]] = []
        for row in rows:
            invoice = invoices[row.invoice_id]
            if still_wanted(invoice, now):
                kept.append((row, invoice))
            else:
                session.delete(row)
                session.flush()
                refresh_next_action(session, invoice, now)
                by_invoice[invoice.external_id].result = "cancelled"
        contacts = repository.deliverable_contacts(session, logged.customer_id)
        if not kept or not contacts:
            for row, invoice in kept:
                session.delete(row)
                session.flush()
                refresh_next_action(session, invoice, now)
                by_invoice[invoice.external_id].result = "cancelled"
            return list(by_invoice.values())
        plan = InvoicePlan(session, kept[0][1])
        customer, organisation = plan.customer, plan.organisation
        assert customer is not None and organisation is not None
        result = "sent"
        detail = None
        sent: SendResult | None = None
        try:
            message = build_reminder(
                settings=context.settings,
                renderer=context.renderer,
                organisation=organisation,
                customer=customer,
                policy=plan.policy,
                calendar=plan.calendar,
                items=[(invoice, plan.policy.step(row.step)) for row, invoice in kept],
                contacts=contacts,
                message_id=logged.message_id,
                references=repository.earlier_message_ids(
                    session,
                    invoice_ids=[row.invoice_id for row, _ in kept],
                    current=logged.message_id,
                ),
                now=now,
            )
            sent = await context.transport.send(message)
        except TemporaryFailure as error:
            result, detail = "retry", str(error)
        except PermanentFailure as error:
            result, detail = "bounced", str(error)
            _mark_bounced(session, customer, contacts, error.refused, now)
        except OutcomeUnknown as error:
            result, detail = "in_doubt", str(error)
        except Exception as error:  # a broken template or address: retried, and logged loudly
            log.exception("reminder %s could not be built or sent", logged.message_id)
            result, detail = "retry", f"{type(error).__name__}: {error}"
        for row, invoice in kept:
            _record(
                session,
                row,
                invoice,
                plan,
                result=result,
                detail=detail,
                sent=sent,
                subject=str(message["Subject"]) if result == "sent" else None,
                now=now,
                others=[i.number for _, i in kept if i.id != invoice.id],
            )
            by_invoice[invoice.external_id].result = result
            by_invoice[invoice.external_id].detail = detail
        if sent is not None and sent.refused:
            _mark_bounced(session, customer, contacts, sent.refused, now)
    return list(by_invoice.values())


def _record(
    session: Session,
    row: SendLog,
    invoice: Invoice,
    plan: InvoicePlan,
    *,
    result: str,
    detail: str | None,
    sent: SendResult | None,
    subject: str | None,
    now: datetime,
    others: list[str],
) -> None:
    row.status = result
    row.last_error = detail[:2000] if detail else None
    if sent is not None:
        row.recipients = list(sent.accepted)
    session.add(row)
    session.flush()
    if result == "sent":
        record_invoice_event(
            session,
            invoice,
            "reminder.sent",
            at=now,
            actor="scheduler",
            data={
                "step": row.step,
                "tone": row.tone,
                "message_id": row.message_id,
                "recipients": row.recipients,
                "subject": subject,
                "consolidated_with": others,
            },
        )
        if plan.policy.step(row.step).call_task:
            customer_name = plan.customer.name if plan.customer else "the customer"
            add_item(
                session,
                organisation_id=invoice.organisation_id,
                kind="call",
                reason=f"Call {customer_name} about invoice {invoice.number}.",
                at=now,
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
            )
    else:
        record_invoice_event(
            session,
            invoice,
            "reminder.failed",
            at=now,
            actor="scheduler",
            data={
                "step": row.step,
                "message_id": row.message_id,
                "result": result,
                "error": detail,
            },
        )
    if result == "in_doubt":
        add_item(
            session,
            organisation_id=invoice.organisation_id,
            kind="in_doubt",
            reason=f"Reminder {row.step} for invoice {invoice.number} may not have arrived; "
            f"check the mail server's log before sending it again. ({detail})",
            at=now,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
        )
    if result == "retry":
        invoice.next_action_at = now + retry_delay(row.attempts)
        invoice.next_step = row.step
        session.add(invoice)
    else:
        refresh_next_action(session, invoice, now)


def _mark_bounced(
    session: Session,
    customer: Customer,
    contacts: list[Contact],
    refused: dict[str, tuple[int, str]],
    now: datetime,
) -> None:
    refused_lower = {address.lower(): reply for address, reply in refused.items()}
    for contact in contacts:
        reply = refused_lower.get(contact.email.lower())
        if reply is None:
            continue
        contact.bounced_at = now
        contact.bounce_reason = f"{reply[0]} {reply[1]}"[:1000]
        session.add(contact)
        record_event(
            session,
            organisation_id=customer.organisation_id,
            customer_id=customer.id,
            kind="contact.bounced",
            at=now,
            actor="scheduler",
            data={"email": contact.email, "code": reply[0], "reason": reply[1]},
        )
        add_item(
            session,
            organisation_id=customer.organisation_id,
            kind="bounced",
            reason=f"{contact.email} refused our reminder ({reply[0]} {reply[1]}); "
            "find a working address for this customer.",
            at=now,
            customer_id=customer.id,
        )
    session.flush()
