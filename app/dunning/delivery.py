"""Phase 2 of a send: lock the invoices, re-check them, send, and record what happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.customers.models import Contact, Customer
from app.db import session_scope
from app.dunning import repository
from app.dunning.extras import special_template
from app.dunning.messages import build_reminder
from app.dunning.models import SendLog, SentMessage
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.invoices.locking import lock_invoices
from app.invoices.models import Invoice
from app.mail.render import TemplateError
from app.mail.transport import OutcomeUnknown, PermanentFailure, SendResult, TemporaryFailure
from app.timeline.service import record_event, record_invoice_event
from app.worklist.service import add_item

if TYPE_CHECKING:
    from app.dunning.service import LoggedSend, Outcome, PassContext

log = logging.getLogger("politely.dunning")


def still_due(session: Session, invoice: Invoice, step: str, now: datetime) -> bool:
    """Re-plan under the lock: a payment, void, pause or a moved due date cancels the send."""
    plan = InvoicePlan(session, invoice, unsent=step)
    action = plan.next_action(now)
    return action is not None and action.step.key == step and action.send_at <= now


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(5 * 2 ** max(attempts - 1, 0), 360))


# After this many attempts a step is given up and handed to a person (about a day of tries).
MAX_ATTEMPTS = 8


@dataclass
class Attempt:
    result: str = "sent"
    detail: str | None = None
    sent: SendResult | None = None
    subject: str | None = None


async def deliver(context: PassContext, logged: LoggedSend, now: datetime) -> list[Outcome]:
    by_invoice = {outcome.invoice: outcome for outcome in logged.outcomes}
    with session_scope(context.engine) as session:
        rows = repository.rows_for_message(session, logged.message_id)
        invoices = {
            invoice.id: invoice
            for invoice in lock_invoices(session, [row.invoice_id for row in rows])
        }
        contacts = repository.deliverable_contacts(session, logged.customer_id)
        kept: list[tuple[SendLog, Invoice]] = []
        for row in rows:
            invoice = invoices[row.invoice_id]
            if contacts and still_due(session, invoice, row.step, now):
                kept.append((row, invoice))
            else:
                session.delete(row)
                session.flush()
                refresh_next_action(session, invoice, now)
                by_invoice[invoice.external_id].result = "cancelled"
        if not kept:
            return list(by_invoice.values())
        # The policy as it stood for this send (a resumed ladder offers only its next step).
        plan = InvoicePlan(session, kept[0][1], unsent=kept[0][0].step)
        attempt = await _attempt(context, session, logged, plan, kept, contacts, now)
        for row, invoice in kept:
            if attempt.result in ("retry", "template") and row.attempts >= MAX_ATTEMPTS:
                attempt.result = "failed"
            _record(
                session,
                row,
                invoice,
                plan,
                attempt,
                now=now,
                others=[i.number for _, i in kept if i.id != invoice.id],
            )
            by_invoice[invoice.external_id].result = attempt.result
            by_invoice[invoice.external_id].detail = attempt.detail
        if attempt.sent is not None and attempt.sent.refused:
            _mark_bounced(session, plan.customer, contacts, attempt.sent.refused, now)
    return list(by_invoice.values())


async def _attempt(
    context: PassContext,
    session: Session,
    logged: LoggedSend,
    plan: InvoicePlan,
    kept: list[tuple[SendLog, Invoice]],
    contacts: list[Contact],
    now: datetime,
) -> Attempt:
    """Build the email and hand it to the transport; say how it went."""
    locale = plan.customer.locale or plan.organisation.default_locale or "en"
    special = None
    if len(kept) == 1:  # special emails are never consolidated (see service._log_due_sends)
        row, invoice = kept[0]
        special = special_template(session, invoice, plan.policy.step(row.step), locale)
    try:
        message = build_reminder(
            settings=context.settings,
            renderer=context.renderer_for(session, plan.organisation.id or 0),
            organisation=plan.organisation,
            customer=plan.customer,
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
            template=special[0] if special else None,
            extra=special[1] if special else None,
        )
    except TemplateError as error:
        # A broken (admin-edited) template: retried, so the fix is picked up.
        return Attempt("template", f"template: {error}")
    except ValueError as error:  # the composer refused an address or a header
        return Attempt("failed", f"could not compose the email: {error}")
    try:
        sent = await context.transport.send(message)
    except TemporaryFailure as error:
        return Attempt("retry", str(error))
    except PermanentFailure as error:
        _mark_bounced(session, plan.customer, contacts, error.refused, now)
        return Attempt("bounced", str(error))
    except OutcomeUnknown as error:
        return Attempt("in_doubt", str(error))
    except Exception as error:  # anything unforeseen is retried, and logged loudly
        log.exception("reminder %s could not be sent", logged.message_id)
        return Attempt("retry", f"{type(error).__name__}: {error}")
    keep_sent_message(session, message, plan.organisation.id or 0, now)
    return Attempt("sent", None, sent, str(message["Subject"]))


_NEEDS_A_PERSON = {
    "in_doubt": "Reminder {step} for invoice {number} may not have arrived; check the mail "
    "server's log before sending it again. ({detail})",
    "failed": "Reminder {step} for invoice {number} could not be sent and was given up. ({detail})",
    "template": "Reminder {step} for invoice {number} cannot be written: its template is "
    "broken. It will be tried again once the template is fixed. ({detail})",
}


def _record(
    session: Session,
    row: SendLog,
    invoice: Invoice,
    plan: InvoicePlan,
    attempt: Attempt,
    *,
    now: datetime,
    others: list[str],
) -> None:
    retry = attempt.result in ("retry", "template")
    row.status = "retry" if retry else attempt.result
    row.last_error = attempt.detail[:2000] if attempt.detail else None
    if attempt.sent is not None:
        row.recipients = list(attempt.sent.accepted)
    session.add(row)
    session.flush()
    if attempt.result == "sent":
        invoice.followup = invoice.followup_data = None  # said once, in this email
        session.add(invoice)
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
                "subject": attempt.subject,
                "consolidated_with": others,
            },
        )
        if plan.policy.step(row.step).call_task:
            _worklist(
                session,
                invoice,
                "call",
                f"Call {plan.customer.name} about invoice {invoice.number}.",
                now,
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
                "result": attempt.result,
                "error": attempt.detail,
            },
        )
    first_template_failure = attempt.result == "template" and row.attempts == 1
    if attempt.result in ("in_doubt", "failed") or first_template_failure:
        reason = _NEEDS_A_PERSON[attempt.result].format(
            step=row.step, number=invoice.number, detail=attempt.detail
        )
        _worklist(session, invoice, attempt.result, reason, now)
    if retry:
        invoice.next_action_at = now + retry_delay(row.attempts)
        invoice.next_step = row.step
        session.add(invoice)
    else:
        refresh_next_action(session, invoice, now)


def keep_sent_message(
    session: Session, message: EmailMessage, organisation_id: int, now: datetime
) -> None:
    session.add(
        SentMessage(
            organisation_id=organisation_id,
            message_id=str(message["Message-ID"]),
            raw=message.as_bytes().decode("ascii", "replace"),
            sent_at=now,
        )
    )


def _worklist(session: Session, invoice: Invoice, kind: str, reason: str, now: datetime) -> None:
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind=kind,
        reason=reason,
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )


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
