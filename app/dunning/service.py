"""The dunning pass: scan for due customers, then act per customer in its own transactions.

Per customer, phase 1 re-plans the due invoices and commits a `sending` row per (invoice,
step) before any SMTP call, so a crash can never lead to a second send. Phase 2 locks the
invoices (a payment waits, or has already landed and cancels the send), sends, and records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.clock import Clock
from app.customers.models import Customer
from app.db import session_scope
from app.dunning import repository
from app.dunning.delivery import deliver
from app.dunning.messages import sender_for
from app.dunning.models import SendLog
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.invoices.locking import lock_invoices
from app.invoices.models import Invoice
from app.mail.compose import make_message_id
from app.mail.render import TemplateRenderer
from app.mail.transport import MailTransport
from app.notices.sending import send_pending_notices
from app.organisations.models import Organisation
from app.planning.instalments import instalment_step
from app.planning.planner import NextAction
from app.planning.policy import Step
from app.promises.plans import miss_instalment_if_due
from app.promises.service import break_promise_if_due
from app.promises.state import restore_state
from app.settings import Settings
from app.templates_store.service import renderer_for
from app.timeline.service import record_invoice_event
from app.worklist.service import add_item

log = logging.getLogger("politely.dunning")


@dataclass
class Outcome:
    """What the pass did with one invoice."""

    invoice: str
    customer: str
    step: str | None
    result: (
        str  # sent, escalated, deferred, retry, bounced, in_doubt, cancelled, unreachable, error
    )
    message_id: str | None = None
    detail: str | None = None
    organisation_id: int = 0

    def public(self) -> dict[str, str | None]:
        return {
            "invoice": self.invoice,
            "customer": self.customer,
            "step": self.step,
            "result": self.result,
            "message_id": self.message_id,
            "detail": self.detail,
        }


@dataclass
class PassReport:
    started_at: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    notices: int = 0

    @property
    def sent(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.result == "sent"]


@dataclass
class PassContext:
    engine: Engine
    clock: Clock
    settings: Settings
    transport: MailTransport
    _renderers: dict[int, TemplateRenderer] = field(default_factory=dict)

    def renderer_for(self, session: Session, organisation_id: int) -> TemplateRenderer:
        """The organisation's edited templates over the shipped files, read once per pass."""
        if organisation_id not in self._renderers:
            self._renderers[organisation_id] = renderer_for(
                session, self.settings.templates_dir, organisation_id
            )
        return self._renderers[organisation_id]


async def run_dunning_pass(context: PassContext, *, limit: int = 1000) -> PassReport:
    now = context.clock.now()
    report = PassReport(started_at=now)
    _mark_stale_sends_in_doubt(context, now)
    with session_scope(context.engine) as session:
        customer_ids = repository.due_customer_ids(session, now=now, limit=limit)
    async with context.transport:
        # Confirmations answer something a customer just did: they go first.
        report.notices = await send_pending_notices(context)
        for customer_id in customer_ids:
            try:
                # Read the clock per customer: a long pass must not send after a window closed.
                now = context.clock.now()
                report.outcomes.extend(await _remind_customer(context, customer_id, now))
            except Exception as error:  # one failing customer never stops the others
                log.exception("dunning failed for customer %s", customer_id)
                report.outcomes.append(
                    Outcome(
                        invoice="",
                        customer=str(customer_id),
                        step=None,
                        result="error",
                        detail=repr(error),
                    )
                )
    return report


def _mark_stale_sends_in_doubt(context: PassContext, now: datetime) -> None:
    """A `sending` row older than the lease belongs to a sender that died mid-send."""
    lease = timedelta(minutes=context.settings.sending_lease_minutes)
    with session_scope(context.engine) as session:
        for row in repository.stale_sending_rows(session, logged_before=datetime.now(UTC) - lease):
            row.status = "in_doubt"
            row.last_error = "the sender stopped before it knew whether the server took the email"
            session.add(row)
            add_item(
                session,
                organisation_id=row.organisation_id,
                kind="in_doubt",
                reason=f"Reminder {row.step} may or may not have reached the customer; "
                "check the mail server's log before sending it again.",
                at=now,
                invoice_id=row.invoice_id,
                customer_id=row.customer_id,
            )
            invoice = session.get(Invoice, row.invoice_id)
            if invoice is not None:
                refresh_next_action(session, invoice, now)


async def _remind_customer(context: PassContext, customer_id: int, now: datetime) -> list[Outcome]:
    try:
        with session_scope(context.engine) as session:
            customer = session.get(Customer, customer_id)
            organisation_id = customer.organisation_id if customer else 0
            logged = _log_due_sends(session, context, customer_id, now)
    except IntegrityError:
        # Another worker logged the same step first; it sends, we do not.
        log.info("customer %s: step already logged by another worker", customer_id)
        return []
    outcomes = logged if isinstance(logged, list) else await deliver(context, logged, now)
    for outcome in outcomes:
        outcome.organisation_id = organisation_id
    return outcomes


@dataclass
class LoggedSend:
    """Phase 1's result: rows committed as `sending` under one Message-ID."""

    customer_id: int
    message_id: str
    outcomes: list[Outcome]


def _log_due_sends(
    session: Session, context: PassContext, customer_id: int, now: datetime
) -> LoggedSend | list[Outcome]:
    if not repository.claim_customer(session, customer_id):
        return []
    customer = session.get(Customer, customer_id)
    assert customer is not None
    outcomes: list[Outcome] = []
    emails: list[tuple[Invoice, NextAction, InvoicePlan]] = []
    due = repository.due_invoices_of(session, customer_id=customer_id, now=now)
    # Locked before planning: a payment committed meanwhile is seen, not overwritten.
    for invoice in lock_invoices(session, [invoice.id for invoice in due if invoice.id]):
        if invoice.next_action_at is None or invoice.next_action_at > now:
            continue  # changed while we waited for the lock
        settle_holds(session, invoice, now)
        plan = InvoicePlan(session, invoice)
        action = plan.next_action(now)
        if action is None or action.send_at > now:
            refresh_next_action(session, invoice, now)
        elif action.step.action == "escalate":
            outcomes.append(_escalate(session, invoice, customer, action, now))
        else:
            emails.append((invoice, action, plan))
    if not emails:
        return outcomes
    special = [item for item in emails if is_special(item[0], item[1].step)]
    if special:
        # A plan instalment or a broken promise speaks about one invoice only; the rest wait.
        later = [item for item in emails if item is not special[0]]
        outcomes += _defer(session, customer, later, emails[0][2], now, "one email a day")
        emails = special[:1]
    plan = emails[0][2]
    today = plan.calendar.local_date(now)
    contacts = repository.deliverable_contacts(session, customer_id)
    if not contacts:
        return outcomes + [
            _unreachable(session, invoice, customer, now) for invoice, _, _ in emails
        ]
    midnight = datetime.combine(today, time(0), tzinfo=plan.timezone)
    if repository.emailed_since(session, customer_id=customer_id, since=midnight):
        # At most one reminder email per customer per local day.
        return outcomes + _defer(
            session, customer, emails, plan, now, "customer already emailed today"
        )
    organisation = session.get(Organisation, customer.organisation_id)
    assert organisation is not None
    message_id = make_message_id(sender_for(organisation, context.settings).domain)
    lease_until = now + timedelta(minutes=context.settings.sending_lease_minutes)
    for invoice, action, _ in emails:
        assert invoice.id is not None
        row = repository.send_log_row(session, invoice_id=invoice.id, step=action.step.key)
        if row is not None and row.status not in ("retry", "superseded"):
            continue  # another worker logged this step a moment ago
        row = row or SendLog(
            organisation_id=invoice.organisation_id,
            invoice_id=invoice.id,
            customer_id=customer_id,
            step=action.step.key,
            tone=action.step.tone,
            status="sending",
            logged_at=datetime.now(UTC),
            at=now,
        )
        row.status, row.message_id, row.at = "sending", message_id, now
        row.logged_at, row.attempts = datetime.now(UTC), row.attempts + 1
        session.add(row)
        repository.supersede_retries(session, invoice_id=invoice.id, except_step=action.step.key)
        # Nobody else picks the invoice up while this send is under way.
        invoice.next_action_at, invoice.next_step = lease_until, action.step.key
        session.add(invoice)
        outcomes.append(
            Outcome(
                invoice.external_id,
                customer.external_id,
                action.step.key,
                "sending",
                message_id=message_id,
            )
        )
    if not any(outcome.result == "sending" for outcome in outcomes):
        return outcomes
    session.flush()
    return LoggedSend(customer_id=customer_id, message_id=message_id, outcomes=outcomes)


def _defer(
    session: Session,
    customer: Customer,
    items: list[tuple[Invoice, NextAction, InvoicePlan]],
    plan: InvoicePlan,
    now: datetime,
    why: str,
) -> list[Outcome]:
    today = plan.calendar.local_date(now)
    next_day = plan.calendar.window_opens(plan.calendar.next_sending_day(today + timedelta(days=1)))
    outcomes = []
    for invoice, action, _ in items:
        invoice.next_action_at, invoice.next_step = next_day, action.step.key
        session.add(invoice)
        outcomes.append(
            Outcome(
                invoice.external_id, customer.external_id, action.step.key, "deferred", detail=why
            )
        )
    return outcomes


def is_special(invoice: Invoice, step: Step) -> bool:
    return invoice.followup is not None or instalment_step(step.key) is not None


def settle_holds(session: Session, invoice: Invoice, now: datetime) -> None:
    """Ended pauses resume; an unkept promise or a missed instalment breaks, before planning."""
    end_expired_hold(session, invoice, now)
    break_promise_if_due(session, invoice, now=now)
    miss_instalment_if_due(session, invoice, now=now)


def end_expired_hold(session: Session, invoice: Invoice, now: datetime) -> None:
    """A pause whose end date has passed ends here, on the timeline, before planning."""
    if invoice.reminder_state != "paused" or invoice.hold_until is None:
        return
    if invoice.hold_until > now:
        return
    state = restore_state(session, invoice, now=now)
    record_invoice_event(
        session,
        invoice,
        "invoice.resumed",
        at=now,
        actor="scheduler",
        data={"reason": "pause ended", "state": state},
    )


def _escalate(
    session: Session, invoice: Invoice, customer: Customer, action: NextAction, now: datetime
) -> Outcome:
    assert invoice.id is not None
    session.add(
        SendLog(
            organisation_id=invoice.organisation_id,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            step=action.step.key,
            tone="none",
            status="done",
            logged_at=datetime.now(UTC),
            at=now,
        )
    )
    invoice.reminder_state, invoice.escalated_at = "escalated", now
    invoice.next_action_at = invoice.next_step = None
    session.add(invoice)
    record_invoice_event(
        session,
        invoice,
        "invoice.escalated",
        at=now,
        actor="scheduler",
        data={"step": action.step.key},
    )
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind="escalated",
        reason=f"Invoice {invoice.number} reached the end of the reminder ladder unpaid.",
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )
    return Outcome(invoice.external_id, customer.external_id, action.step.key, "escalated")


def _unreachable(session: Session, invoice: Invoice, customer: Customer, now: datetime) -> Outcome:
    """No address left to write to: a human takes over rather than silently stopping."""
    invoice.reminder_state = "unreachable"
    invoice.next_action_at = invoice.next_step = None
    session.add(invoice)
    add_item(
        session,
        organisation_id=invoice.organisation_id,
        kind="unreachable",
        reason=f"No deliverable email address for {customer.name}; reach them another way.",
        at=now,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
    )
    return Outcome(invoice.external_id, customer.external_id, None, "unreachable")
