"""Payment plans: equal instalments within the policy's limits, each reminded on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from app import money
from app.dunning.plans import InvoicePlan, refresh_next_action
from app.errors import Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.notices.service import queue_notice
from app.planning.instalments import MIN_GAP_DAYS, add_months
from app.planning.policy import Policy
from app.promises.models import Instalment, PaymentPlan, Promise
from app.promises.service import register_broken_promise
from app.promises.state import AGREEABLE, has_broken_agreement
from app.timeline.service import record_invoice_event

FREQUENCIES = ("weekly", "fortnightly", "monthly")


@dataclass(frozen=True)
class ProposedInstalment:
    number: int
    due_on: date
    amount_minor: int


def propose_plan(
    *,
    amount_due_minor: int,
    count: int,
    first_on: date,
    frequency: str,
    policy: Policy,
    today: date,
) -> list[ProposedInstalment]:
    """Equal instalments (the last takes the rounding); Unprocessable names the bad field."""
    if frequency not in FREQUENCIES:
        raise Unprocessable("choose weekly, fortnightly or monthly", field="frequency")
    if not 2 <= count <= policy.plan_max_instalments:
        raise Unprocessable(
            f"choose between 2 and {policy.plan_max_instalments} instalments", field="count"
        )
    smallest = amount_due_minor * policy.plan_min_instalment_percent / 100
    if amount_due_minor // count < smallest:
        raise Unprocessable("each instalment would be too small; choose fewer", field="count")
    latest_first = today + timedelta(days=policy.promise_max_days)
    if not today <= first_on <= latest_first:
        raise Unprocessable(
            f"choose a first payment date between {today} and {latest_first}", field="first_on"
        )
    step = {"weekly": 7, "fortnightly": 14}.get(frequency)
    dates = [
        first_on + timedelta(days=step * index) if step else add_months(first_on, index)
        for index in range(count)
    ]
    assert all(
        b - a >= timedelta(days=MIN_GAP_DAYS) for a, b in zip(dates, dates[1:], strict=False)
    )
    if dates[-1] > today + timedelta(days=policy.plan_max_days):
        raise Unprocessable(
            f"the last instalment would fall after {today + timedelta(days=policy.plan_max_days)}"
            "; choose fewer instalments or a shorter interval",
            field="count",
        )
    share = amount_due_minor // count
    amounts = [share] * (count - 1) + [amount_due_minor - share * (count - 1)]
    return [
        ProposedInstalment(number=index + 1, due_on=day, amount_minor=amount)
        for index, (day, amount) in enumerate(zip(dates, amounts, strict=True))
    ]


def active_plan(session: Session, invoice: Invoice) -> tuple[PaymentPlan, list[Instalment]] | None:
    plan = session.exec(
        select(PaymentPlan).where(
            PaymentPlan.invoice_id == invoice.id, PaymentPlan.status == "active"
        )
    ).first()
    if plan is None:
        return None
    instalments = session.exec(
        select(Instalment).where(Instalment.plan_id == plan.id).order_by(col(Instalment.number))
    ).all()
    return plan, list(instalments)


def create_plan(
    session: Session,
    *,
    invoice: Invoice,
    count: int,
    first_on: date,
    frequency: str,
    now: datetime,
    actor: str,
    source: str = "customer",
) -> PaymentPlan:
    invoice = lock_invoice(session, invoice)
    if invoice.status != "open" or invoice.amount_due_minor <= 0:
        raise Unprocessable("this invoice has nothing left to pay", field="invoice")
    if active_plan(session, invoice) is not None:
        raise Unprocessable("this invoice already has a payment plan", field="invoice")
    if invoice.reminder_state not in AGREEABLE:
        raise Unprocessable(
            "a person is handling this invoice; send us a message instead", field="invoice"
        )
    if source == "customer" and has_broken_agreement(session, invoice):
        raise Unprocessable(
            "we could not keep to an earlier arrangement for this invoice, so a person will "
            "agree the next one with you: please send us a message instead",
            field="invoice",
        )
    context = InvoicePlan(session, invoice)
    proposal = propose_plan(
        amount_due_minor=invoice.amount_due_minor,
        count=count,
        first_on=first_on,
        frequency=frequency,
        policy=context.policy,
        today=context.calendar.local_date(now),
    )
    assert invoice.id is not None
    plan = PaymentPlan(
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        created_at=now,
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for item in proposal:
        session.add(
            Instalment(
                organisation_id=invoice.organisation_id,
                plan_id=plan.id,
                number=item.number,
                due_on=item.due_on,
                amount_minor=item.amount_minor,
            )
        )
    for promise in session.exec(
        select(Promise).where(Promise.invoice_id == invoice.id, Promise.status == "open")
    ).all():
        promise.status, promise.resolved_at = "cancelled", now  # the plan replaces it
        session.add(promise)
    invoice.reminder_state, invoice.hold_until, invoice.followup = "plan", None, None
    session.add(invoice)
    session.flush()
    refresh_next_action(session, invoice, now)
    rows = [
        {"number": i.number, "due_on": i.due_on.isoformat(), "amount_minor": i.amount_minor}
        for i in proposal
    ]
    record_invoice_event(
        session,
        invoice,
        "plan.created",
        at=now,
        actor=actor,
        data={
            "instalments": [
                {
                    "number": i.number,
                    "due_on": i.due_on.isoformat(),
                    "amount": money.to_decimal_string(i.amount_minor, invoice.currency),
                }
                for i in proposal
            ]
        },
    )
    queue_notice(session, invoice, "plan_confirmed", {"instalments": rows}, now=now)
    return plan


def apply_payment_to_plan(
    session: Session, invoice: Invoice, amount_minor: int, *, now: datetime, actor: str
) -> None:
    """A payment settles the oldest unpaid instalments first."""
    found = active_plan(session, invoice)
    if found is None:
        return
    plan, instalments = found
    remaining = amount_minor
    for instalment in instalments:
        if remaining <= 0:
            break
        taken = min(instalment.outstanding_minor, remaining)
        instalment.paid_minor += taken
        remaining -= taken
        session.add(instalment)
    if invoice.amount_due_minor == 0 or all(i.outstanding_minor == 0 for i in instalments):
        plan.status, plan.resolved_at = "completed", now
        session.add(plan)
        record_invoice_event(session, invoice, "plan.completed", at=now, actor=actor)
        if invoice.reminder_state == "plan":
            invoice.reminder_state = "active"
            session.add(invoice)


def miss_instalment_if_due(session: Session, invoice: Invoice, *, now: datetime) -> bool:
    """A missed instalment ends the plan as a broken promise; the ladder resumes."""
    if invoice.reminder_state != "plan":
        return False
    found = active_plan(session, invoice)
    if found is None:
        invoice.reminder_state = "active"
        session.add(invoice)
        return True
    plan, instalments = found
    context = InvoicePlan(session, invoice)
    check = context.check_at()
    if check is None or check > now:
        return False
    missed = next(i for i in instalments if i.outstanding_minor > 0)
    plan.status, plan.resolved_at = "broken", now
    session.add(plan)
    invoice.reminder_state, invoice.followup = "active", "promise_broken"
    invoice.followup_data = {
        "amount_minor": missed.outstanding_minor,
        "date": missed.due_on.isoformat(),
    }
    session.add(invoice)
    register_broken_promise(
        session,
        invoice,
        now=now,
        data={
            "plan_instalment": str(missed.number),
            "promised_on": missed.due_on.isoformat(),
            "amount": money.to_decimal_string(missed.outstanding_minor, invoice.currency),
        },
        reason=f"Instalment {missed.number} of the payment plan for invoice {invoice.number} "
        f"(due {missed.due_on}) was missed; the plan has ended.",
    )
    return True
