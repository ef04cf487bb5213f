"""Between the rows and the pure planner: facts, calendars and the stored next action."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.customers.models import Customer
from app.dunning.models import COUNTS_AS_SENT, SendLog
from app.dunning.policies import get_policy_set
from app.invoices.models import Invoice
from app.organisations.models import Organisation
from app.planning.calendar import SendingCalendar
from app.planning.instalments import (
    InstalmentFacts,
    instalment_policy,
    missed_on,
    next_step_only,
)
from app.planning.planner import InvoiceFacts, NextAction, plan, schedule
from app.planning.policy import Policy, SendingRules
from app.promises.models import Instalment, PaymentPlan


@lru_cache(maxsize=512)
def _calendar(timezone: str, rules: SendingRules, country: str | None) -> SendingCalendar:
    return SendingCalendar(timezone=ZoneInfo(timezone), rules=rules, country=country)


def timezone_name(customer: Customer, organisation: Organisation) -> str:
    """The customer's time zone, else the organisation's."""
    return customer.timezone or organisation.default_timezone or "UTC"


def calendar_for(customer: Customer, organisation: Organisation, policy: Policy) -> SendingCalendar:
    country = customer.country or organisation.default_country
    return _calendar(timezone_name(customer, organisation), policy.sending, country)


def late_paid_count(session: Session, customer: Customer, timezone: ZoneInfo) -> int:
    """How many of the customer's invoices were paid after their due date, by their calendar."""
    statement = select(col(Invoice.due_on), col(Invoice.paid_at)).where(
        Invoice.customer_id == customer.id,
        Invoice.status == "paid",
        col(Invoice.paid_at).is_not(None),
    )
    return sum(
        1
        for due_on, paid_at in session.exec(statement).all()
        if paid_at is not None and paid_at.astimezone(timezone).date() > due_on
    )


def policy_for(session: Session, customer: Customer, timezone: ZoneInfo) -> Policy:
    late = late_paid_count(session, customer, timezone)
    return get_policy_set().choose(named=customer.policy, tags=customer.tags, late_invoices=late)


def facts_for(invoice: Invoice) -> InvoiceFacts:
    # Under a payment plan the instalment ladder runs like an active one.
    state = "active" if invoice.reminder_state == "plan" else invoice.reminder_state
    return InvoiceFacts(
        due_on=invoice.due_on,
        status=invoice.status,
        amount_due_minor=invoice.amount_due_minor,
        state=state,
        hold_until=invoice.hold_until,
    )


def plan_instalments(session: Session, invoice: Invoice) -> tuple[int, list[Instalment]] | None:
    plan_id = session.exec(
        select(PaymentPlan.id).where(
            PaymentPlan.invoice_id == invoice.id, PaymentPlan.status == "active"
        )
    ).first()
    if plan_id is None:
        return None
    statement = select(Instalment).where(Instalment.plan_id == plan_id)
    return plan_id, list(session.exec(statement.order_by(col(Instalment.number))).all())


def sent_steps(session: Session, invoice: Invoice) -> set[str]:
    statement = select(SendLog.step).where(
        SendLog.invoice_id == invoice.id, col(SendLog.status).in_(COUNTS_AS_SENT)
    )
    return set(session.exec(statement).all())


class InvoicePlan:
    """Everything the planner needs for one invoice, read once."""

    def __init__(self, session: Session, invoice: Invoice, *, unsent: str | None = None):
        """`unsent`: a step to treat as not yet sent (re-checking a send that is logged)."""
        self.invoice = invoice
        customer = session.get(Customer, invoice.customer_id)
        organisation = session.get(Organisation, invoice.organisation_id)
        assert customer is not None and organisation is not None
        self.customer: Customer = customer
        self.organisation: Organisation = organisation
        self.timezone = ZoneInfo(timezone_name(self.customer, self.organisation))
        self.policy = policy_for(session, self.customer, self.timezone)
        self.calendar = calendar_for(self.customer, self.organisation, self.policy)
        self.sent = sent_steps(session, invoice) - {unsent}
        self.instalments: list[Instalment] = []
        found = plan_instalments(session, invoice) if invoice.reminder_state == "plan" else None
        if found is not None:
            plan_id, self.instalments = found
            self.policy = instalment_policy(
                self.policy,
                plan_id=plan_id,
                instalments=[
                    InstalmentFacts(i.number, i.due_on, i.outstanding_minor == 0)
                    for i in self.instalments
                ],
                invoice_due_on=invoice.due_on,
            )
        elif invoice.followup and invoice.reminder_state == "active":
            self.policy = next_step_only(self.policy, self.sent)

    def check_at(self) -> datetime | None:
        """When the pass must look even with no email due: a promise's hold ends (to break
        it) or the earliest unpaid instalment counts as missed."""
        invoice = self.invoice
        if invoice.reminder_state == "promised":
            return invoice.hold_until
        unpaid = [i for i in self.instalments if i.outstanding_minor > 0]
        if invoice.reminder_state != "plan" or not unpaid:
            return None
        day = missed_on(min(i.due_on for i in unpaid), self.policy.promise_grace_days)
        missed = datetime.combine(day, time(0), tzinfo=self.timezone)
        # "I've already paid" during a plan holds the check too, while someone looks.
        return max(missed, invoice.hold_until) if invoice.hold_until else missed

    def next_action(self, now: datetime) -> NextAction | None:
        return plan(facts_for(self.invoice), self.policy, self.sent, self.calendar, now)

    def schedule(self, now: datetime) -> list[NextAction]:
        return schedule(facts_for(self.invoice), self.policy, self.sent, self.calendar, now)


def refresh_next_action(session: Session, invoice: Invoice, now: datetime) -> NextAction | None:
    """Store when the pass should next look at this invoice (None: nothing more to do)."""
    plan = InvoicePlan(session, invoice)
    action = plan.next_action(now)
    invoice.next_action_at = action.send_at if action else None
    invoice.next_step = action.step.key if action else None
    check = plan.check_at()
    if invoice.status != "open":
        check = None
    if check is not None and (invoice.next_action_at is None or check < invoice.next_action_at):
        # The pass must also look when an instalment becomes missed.
        invoice.next_action_at, invoice.next_step = check, None
    session.add(invoice)
    return action
