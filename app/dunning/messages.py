"""Building one reminder email for a customer: links, context, render, MIME."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from app.customers.models import Contact, Customer
from app.invoices.models import Invoice
from app.links import reply_token, sign_link
from app.mail.compose import compose_reminder
from app.mail.context import InvoiceLine, ReminderFacts, build_reminder_context
from app.mail.render import TemplateRenderer
from app.organisations.models import Organisation
from app.planning.calendar import SendingCalendar
from app.planning.policy import EMAIL_TONES, Policy, Step
from app.settings import Settings

# A policy step without templates of its own is written with the shipped step of its tone.
TONE_TEMPLATES = {
    "friendly": "due_today",
    "gentle": "overdue_10",
    "firm": "overdue_21",
    "final": "final_notice",
}


def firmest(steps: list[Step]) -> Step:
    """A consolidated email speaks in the firmest tone among its invoices."""
    return max(steps, key=lambda step: (EMAIL_TONES.index(step.tone), step.offset_days))


def template_for(renderer: TemplateRenderer, step: Step, locale: str) -> str:
    if renderer.has_step(step.key, locale):
        return step.key
    return TONE_TEMPLATES[step.tone]


@dataclass(frozen=True)
class Sender:
    name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


def sender_for(organisation: Organisation, settings: Settings) -> Sender:
    return Sender(
        name=organisation.from_name or organisation.name or settings.mail_from_name,
        address=organisation.from_address or settings.mail_from_address,
    )


class LinkMaker:
    """Signed customer links for one organisation and customer."""

    def __init__(self, settings: Settings, organisation: Organisation, customer: Customer):
        assert organisation.id is not None and customer.id is not None
        self._settings = settings
        self._organisation_id = organisation.id
        self._customer_id = customer.id

    def url(self, purpose: str, invoice_id: int | None, suffix: str = "") -> str:
        token = sign_link(
            self._settings.secret_key,
            organisation_id=self._organisation_id,
            customer_id=self._customer_id,
            invoice_id=invoice_id,
            purpose=purpose,
            max_age_days=self._settings.link_max_age_days,
        )
        return f"{self._settings.base_url}/p/{token}{suffix}"

    def reply_to(self, invoice_id: int, local: str, domain: str | None) -> str | None:
        if not domain:
            return None
        token = reply_token(
            self._settings.secret_key,
            organisation_id=self._organisation_id,
            customer_id=self._customer_id,
            invoice_id=invoice_id,
        )
        return f"{local}+{token}@{domain}"


def escalation_day(policy: Policy, calendar: SendingCalendar, invoice: Invoice) -> date | None:
    """The local day the policy hands the invoice to a human, so a final notice can say so."""
    step = next((s for s in policy.steps if s.action == "escalate"), None)
    if step is None:
        return None
    return calendar.next_sending_day(invoice.due_on + timedelta(days=step.offset_days))


def invoice_line(invoice: Invoice, links: LinkMaker) -> InvoiceLine:
    """An invoice as every email shows it, with its signed pay link."""
    return InvoiceLine(
        number=invoice.number,
        currency=invoice.currency,
        amount_total_minor=invoice.amount_total_minor,
        amount_due_minor=invoice.amount_due_minor,
        due_on=invoice.due_on,
        pay_link=links.url("pay", invoice.id, "/pay"),
    )


def build_reminder(
    *,
    settings: Settings,
    renderer: TemplateRenderer,
    organisation: Organisation,
    customer: Customer,
    policy: Policy,
    calendar: SendingCalendar,
    items: list[tuple[Invoice, Step]],
    contacts: list[Contact],
    message_id: str,
    references: list[str],
    now: datetime,
    template: str | None = None,
    extra: dict[str, Any] | None = None,
) -> EmailMessage:
    """One email for the given invoices; `template`/`extra` for the special ones."""
    step = firmest([item_step for _, item_step in items])
    links = LinkMaker(settings, organisation, customer)
    primary = items[0][0]
    assert primary.id is not None
    lines = [invoice_line(invoice, links) for invoice, _ in items]
    locale = customer.locale or organisation.default_locale or "en"
    unsubscribe = links.url("unsubscribe", None, "/unsubscribe")
    facts = ReminderFacts(
        organisation_name=organisation.name,
        customer_name=customer.name,
        locale=locale,
        step_key=step.key,
        tone=step.tone,
        invoices=lines,
        today=calendar.local_date(now),
        reply_link=links.url("portal", primary.id),
        unsubscribe_link=unsubscribe,
        late_fee_note=policy.late_fee_note or None,
        brand_colour=organisation.brand_colour,
        escalation_on=escalation_day(policy, calendar, primary),
        extra=extra or {},
    )
    template = template or template_for(renderer, step, locale)
    rendered = renderer.render(template, locale, build_reminder_context(facts))
    sender = sender_for(organisation, settings)
    main = [c.email for c in contacts if c.role == "to"] or [contacts[0].email]
    copies = [c.email for c in contacts if c.email not in main]
    inbound_domain = organisation.inbound_domain or settings.inbound_domain
    reply_to = links.reply_to(primary.id, "reply", inbound_domain) or organisation.reply_to
    return compose_reminder(
        rendered=rendered,
        from_name=sender.name,
        from_address=sender.address,
        to=main,
        cc=copies,
        reply_to=reply_to,
        message_id=message_id,
        in_reply_to=references[-1] if references else None,
        references=references,
        unsubscribe_url=unsubscribe,
        sent_at=now,
    )
