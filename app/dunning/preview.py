"""Preview contexts: what a template would get if it were sent now, on an invoice or a sample."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlmodel import Session, col, select

from app.customers.models import Customer
from app.disputes.models import DISPUTE_REASONS, Dispute
from app.dunning.extras import format_day, plan_extra
from app.dunning.messages import LinkMaker, escalation_day, invoice_line, sender_for
from app.dunning.plans import InvoicePlan
from app.errors import NotFound
from app.invoices.models import Invoice
from app.mail.compose import compose_reminder, make_message_id
from app.mail.context import ReminderFacts, build_reminder_context, format_money
from app.mail.render import RenderedEmail, clean_subject, sample_context
from app.organisations.models import Organisation
from app.promises.models import Instalment, PaymentPlan, Promise
from app.settings import Settings

# Emails outside the policy ladder: what each is for, its tone, and the values it gets
# beside the reminder context (named as app.dunning.extras and app.notices build them).
SPECIAL_STEPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "promise_broken": ("A promised payment did not arrive", "firm", ("promise",)),
    "instalment_upcoming": ("A plan instalment falls due soon", "friendly", ("plan", "instalment")),
    "instalment_due": ("A plan instalment is due today", "friendly", ("plan", "instalment")),
    "instalment_overdue": ("A plan instalment was missed", "gentle", ("plan", "instalment")),
    "promise_confirmed": ("Confirms a promise to pay", "friendly", ("promise",)),
    "plan_confirmed": ("Confirms a payment plan", "friendly", ("plan",)),
    "dispute_received": ("Confirms that a dispute was received", "friendly", ("dispute",)),
    "payment_claim_received": ('Confirms an "I have paid" message', "friendly", ("claim",)),
    "thank_you": ("Thanks for a payment and asks for a rating", "friendly", ("rating_links",)),
}


@dataclass(frozen=True)
class SpecialFacts:
    """What a special email is about, before formatting; gaps are filled with likely values."""

    currency: str
    due_minor: int
    today: date
    rating_url: Callable[[int], str]
    promise: tuple[int, date] | None = None  # amount, promised day
    # number, due day, amount, still outstanding
    instalments: list[tuple[int, date, int, int]] = field(default_factory=list)
    dispute: tuple[str, str] | None = None  # reason as the customer reads it, message


def special_extra(step: str, facts: SpecialFacts, locale: str) -> dict[str, Any]:
    """The values only `step` receives (none for a ladder step), shaped like a real send's."""
    keys = SPECIAL_STEPS[step][2] if step in SPECIAL_STEPS else ()
    if not keys:
        return {}
    currency = facts.currency

    def money(minor: int) -> str:
        return format_money(minor, currency, locale)

    amount, day = facts.promise or (facts.due_minor, facts.today + timedelta(days=10))
    promise: dict[str, Any] = {"amount": money(amount), "date": format_day(day, locale)}
    if step == "promise_confirmed":
        promise["full"] = amount >= facts.due_minor
    rows = facts.instalments or [
        (number, facts.today + timedelta(days=30 * number), share, share)
        for number, share in enumerate(_split(facts.due_minor, 3), start=1)
    ]
    current = next((row for row in rows if row[3] > 0), rows[-1])
    reason, message = facts.dispute or ("The amount is wrong", "The price we agreed was lower.")
    values = {
        "promise": promise,
        "plan": plan_extra(
            [{"number": n, "due_on": d.isoformat(), "amount_minor": a} for n, d, a, _ in rows],
            currency,
            locale,
        ),
        "instalment": {
            "number": current[0],
            "count": len(rows),
            "amount": money(current[3]),
            "due_on": format_day(current[1], locale),
        },
        "dispute": {"reason": reason, "message": message},
        "claim": {
            "paid_on": format_day(facts.today, locale),
            "amount": money(facts.due_minor),
            "reference": "",
        },
        "rating_links": [{"score": n, "url": facts.rating_url(n)} for n in range(1, 6)],
    }
    return {key: values[key] for key in keys}


def _split(total: int, parts: int) -> list[int]:
    share = total // parts
    return [share] * (parts - 1) + [total - share * (parts - 1)]


# The invoice of render.sample_context, so a sample preview and the save check agree.
SAMPLE_FACTS = SpecialFacts(
    currency="EUR",
    due_minor=123_450,
    today=date(2025, 3, 24),
    rating_url=lambda score: f"https://politely.example.com/p/sample-token-0042/rate?score={score}",
)


@dataclass(frozen=True)
class Preview:
    """A context to render a draft on, and what it is, for the page to say."""

    context: dict[str, Any]
    label: str


def sample_preview(step: str, locale: str) -> Preview:
    context = sample_context(step, locale=locale)
    context.update(special_extra(step, SAMPLE_FACTS, locale))
    return Preview(context, "the sample invoice")


def sample_variables(step: str, locale: str) -> list[tuple[str, str]]:
    """The names a template of `step` can use, each with the sample's value, for a cheat sheet."""
    found: list[tuple[str, str]] = []
    for name, value in sample_preview(step, locale).context.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, item in items:
            if isinstance(item, list) and item and isinstance(item[0], dict):
                item = f"a list; each item has {', '.join(item[0])}"
            found.append((f"{name}.{key}" if key else name, str(item)))
    return found


def open_invoices(
    session: Session, organisation_id: int, *, limit: int = 200
) -> list[tuple[Invoice, Customer]]:
    """The organisation's open invoices, oldest due first, for the preview picker."""
    rows = session.exec(
        select(Invoice, Customer)
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(Invoice.organisation_id == organisation_id, Invoice.status == "open")
        .order_by(col(Invoice.due_on), col(Invoice.id))
        .limit(limit)
    ).all()
    return [(invoice, customer) for invoice, customer in rows]


def find_invoice(session: Session, organisation_id: int, invoice_id: str) -> Invoice:
    """One of this organisation's invoices, by the id a form sends; any other is NotFound."""
    invoice = session.get(Invoice, int(invoice_id)) if invoice_id.isdigit() else None
    if invoice is None or invoice.organisation_id != organisation_id:
        raise NotFound("no such invoice")
    return invoice


def invoice_preview(
    session: Session, settings: Settings, invoice: Invoice, *, step: str, tone: str, now: datetime
) -> Preview:
    """What a send of `step` for this invoice would get now: amounts, days, locale, links."""
    assert invoice.id is not None
    plan = InvoicePlan(session, invoice)
    organisation, customer = plan.organisation, plan.customer
    links = LinkMaker(settings, organisation, customer)
    locale = customer.locale or organisation.default_locale or "en"
    if plan.policy.position(step) is not None:
        tone = plan.policy.step(step).tone  # the tone this customer's policy gives the step
    today = plan.calendar.local_date(now)
    special = _special_facts(session, invoice, today, links) if step in SPECIAL_STEPS else None
    facts = ReminderFacts(
        organisation_name=organisation.name,
        customer_name=customer.name,
        locale=locale,
        step_key=step,
        tone=tone,
        invoices=[invoice_line(invoice, links)],
        today=today,
        reply_link=links.url("portal", invoice.id),
        unsubscribe_link=links.url("unsubscribe", None, "/unsubscribe"),
        late_fee_note=plan.policy.late_fee_note or None,
        brand_colour=organisation.brand_colour,
        escalation_on=escalation_day(plan.policy, plan.calendar, invoice),
        extra=special_extra(step, special, locale) if special else {},
    )
    label = f"invoice {invoice.number} of {customer.name}"
    return Preview(build_reminder_context(facts), label)


def _special_facts(
    session: Session, invoice: Invoice, today: date, links: LinkMaker
) -> SpecialFacts:
    """The invoice's own latest promise, plan and dispute, where it has them."""
    promise = session.exec(
        select(Promise).where(Promise.invoice_id == invoice.id).order_by(col(Promise.id).desc())
    ).first()
    plan = session.exec(
        select(PaymentPlan)
        .where(PaymentPlan.invoice_id == invoice.id)
        .order_by(col(PaymentPlan.id).desc())
    ).first()
    instalments = (
        session.exec(
            select(Instalment).where(Instalment.plan_id == plan.id).order_by(col(Instalment.number))
        ).all()
        if plan
        else []
    )
    dispute = session.exec(
        select(Dispute).where(Dispute.invoice_id == invoice.id).order_by(col(Dispute.id).desc())
    ).first()
    return SpecialFacts(
        currency=invoice.currency,
        due_minor=invoice.amount_due_minor,
        today=today,
        rating_url=lambda score: links.url("rate", invoice.id, f"/rate?score={score}"),
        promise=(promise.amount_minor, promise.promised_on) if promise else None,
        instalments=[
            (i.number, i.due_on, i.amount_minor, i.outstanding_minor) for i in instalments
        ],
        dispute=(
            (DISPUTE_REASONS.get(dispute.reason, dispute.reason), dispute.message)
            if dispute
            else None
        ),
    )


def test_message(
    *,
    rendered: RenderedEmail,
    organisation: Organisation,
    settings: Settings,
    to: str,
    now: datetime,
) -> EmailMessage:
    """The email as a customer would get it, for the admin alone, its subject marked "[Test]"."""
    sender = sender_for(organisation, settings)
    marked = RenderedEmail(
        subject=clean_subject(f"[Test] {rendered.subject}"),
        text=rendered.text,
        html=rendered.html,
    )
    return compose_reminder(
        rendered=marked,
        from_name=sender.name,
        from_address=sender.address,
        to=[to],
        message_id=make_message_id(sender.domain),
        # A mail client's unsubscribe button must never opt a real customer out.
        unsubscribe_url=f"{settings.base_url}/admin/templates",
        sent_at=now,
    )
