"""Acting on Stripe events: payments, voids, write-offs, checkout sessions and refunds.

Which of our invoices a Stripe object is about, first rule that applies:
1. `metadata.politely_invoice` on the object holds our external id (an unknown one is unmatched);
2. the Stripe invoice id ("in_...") is our external id;
3. the Stripe invoice id, or else Stripe's invoice number, is our invoice number, when exactly
   one of our invoices has it.
A refund is also matched through the payment it refunds (recorded under the Stripe ids below).

Payments recorded from Stripe are named so that a replay, or invoice.paid and
invoice.payment_succeeded for the same money, count once: a Stripe invoice's payments are
"<in_ id>" (and "<in_ id>:<amount_paid>" for later partial payments, since amount_paid is
cumulative); a checkout session without a Stripe invoice is its payment_intent id (else its
own id); a refund is "refund:<charge id>:<amount_refunded>" with a negative amount, so that
amounts recorded later by the invoicing system still count the money that went back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from app import money
from app.errors import AppError, Unprocessable
from app.invoices.locking import lock_invoice
from app.invoices.models import Invoice
from app.payments.models import Payment
from app.payments.schemas import PaymentIn
from app.payments.service import record_payment
from app.webhooks.payment_events import (
    Outcome,
    Received,
    close_invoice,
    find_invoice,
    flag,
    recorded_under,
    reopen_refunded,
)
from app.webhooks.payment_events import unmatched as _unmatched

ACTOR = "webhook:stripe"
# Stripe's own minor units: https://docs.stripe.com/currencies#zero-decimal
_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
_CLOSING = {"invoice.voided": "void", "invoice.marked_uncollectible": "written_off"}


def handle_stripe_event(session: Session, event: Received, obj: dict[str, Any]) -> Outcome:
    kind = event.event_type
    if kind in ("invoice.paid", "invoice.payment_succeeded"):
        return _invoice_paid(session, event, obj)
    if kind in _CLOSING:
        invoice = _match(
            session, event.organisation_id, obj, _text(obj, "id"), _text(obj, "number")
        )
        if invoice is None:
            return _unmatched(session, event, _describe(obj), _facts(obj), money=False)
        return close_invoice(session, invoice, _CLOSING[kind], event)
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return _checkout(session, event, obj)
    if kind == "charge.refunded":
        return _refund(session, event, obj)
    return Outcome("ignored", f"Politely does not act on {kind}")


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    # Expanded objects come as {"id": ...}; plain references as the id itself.
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _amount(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unprocessable(f"{key}: Stripe sent no amount in minor units", field=key)
    return value


def _facts(obj: dict[str, Any], amount_key: str | None = None) -> dict[str, Any]:
    facts = {"stripe_object": _text(obj, "id"), "reference": _reference(obj)}
    if amount_key is not None:
        facts |= {"amount_minor": obj.get(amount_key), "currency": _currency(obj)}
    return facts


def _reference(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get("politely_invoice") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def _describe(obj: dict[str, Any]) -> str:
    reference = _reference(obj)
    if reference:
        return f"metadata.politely_invoice {reference!r}"
    return f"Stripe {obj.get('object', 'object')} {_text(obj, 'id')!r}"


def _currency(obj: dict[str, Any]) -> str:
    return str(obj.get("currency") or "").upper()


def _match(
    session: Session,
    organisation_id: int,
    obj: dict[str, Any],
    stripe_invoice_id: str | None,
    number: str | None = None,
) -> Invoice | None:
    reference = _reference(obj)
    if reference is not None:
        return find_invoice(session, organisation_id, reference)
    if stripe_invoice_id is None:
        return None
    found = find_invoice(session, organisation_id, stripe_invoice_id)
    for candidate in (stripe_invoice_id, number):
        if found is not None or candidate is None:
            break
        rows = session.exec(
            select(Invoice)
            .where(Invoice.organisation_id == organisation_id, Invoice.number == candidate)
            .limit(2)
        ).all()
        found = rows[0] if len(rows) == 1 else None
    return found


def _our_amount(stripe_minor: int, stripe_currency: str, invoice: Invoice) -> str:
    """Stripe's integer amount as a decimal string in the invoice's currency."""
    if stripe_currency != invoice.currency:
        raise Unprocessable(
            f"the payment is in {stripe_currency or 'no currency'}, the invoice in "
            f"{invoice.currency}",
            field="currency",
        )
    places = (
        0 if stripe_currency in _ZERO_DECIMAL else 3 if stripe_currency in _THREE_DECIMAL else 2
    )
    return format(Decimal(stripe_minor).scaleb(-places), "f")


def _pay(
    session: Session,
    event: Received,
    invoice: Invoice,
    *,
    name: str,
    stripe_minor: int,
    currency: str,
    cumulative: bool,
    paid_at: datetime | None = None,
) -> Outcome:
    """Record a payment; a problem with the money is kept for a human, not bounced to Stripe,
    which would only retry the same event for days."""
    facts = {"payment": name, "amount_minor": stripe_minor, "currency": currency}
    try:
        amount = _our_amount(stripe_minor, currency, invoice)
        external_id = name
        if cumulative:
            # Locked before counting, so two events for the same invoice count in turn.
            invoice = lock_invoice(session, invoice)
            already = recorded_under(session, invoice, name)
            due_now = money.to_minor(amount, invoice.currency) - already
            if due_now <= 0:
                return Outcome("applied", "this payment is already recorded", invoice.external_id)
            amount = money.to_decimal_string(due_now, invoice.currency)
            external_id = name if already == 0 else f"{name}:{stripe_minor}"
        payment, created = record_payment(
            session,
            invoice=invoice,
            data=PaymentIn(external_id=external_id, amount=amount, paid_at=paid_at),
            now=event.now,
            actor=event.actor,
        )
    except (AppError, ValueError) as error:
        reason = error.message if isinstance(error, AppError) else str(error)
        flag(session, event, reason=reason, data=facts, invoice=invoice)
        return Outcome("rejected", reason, invoice.external_id)
    detail = "payment recorded" if created else f"payment {payment.external_id!r} already recorded"
    return Outcome("applied", detail, invoice.external_id, paid=created)


def _invoice_paid(session: Session, event: Received, obj: dict[str, Any]) -> Outcome:
    stripe_id = _text(obj, "id")
    invoice = _match(session, event.organisation_id, obj, stripe_id, _text(obj, "number"))
    if invoice is None or stripe_id is None:
        return _unmatched(session, event, _describe(obj), _facts(obj, "amount_paid"), money=True)
    paid = _amount(obj, "amount_paid")
    if paid == 0:
        return Outcome("ignored", "nothing was paid (amount_paid is 0)", invoice.external_id)
    transitions = obj.get("status_transitions")
    stamp = transitions.get("paid_at") if isinstance(transitions, dict) else None
    paid_at = datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None
    return _pay(
        session,
        event,
        invoice,
        name=stripe_id,
        stripe_minor=paid,
        currency=_currency(obj),
        cumulative=True,
        paid_at=paid_at,
    )


def _checkout(session: Session, event: Received, obj: dict[str, Any]) -> Outcome:
    if obj.get("payment_status") != "paid":
        # Bank debits complete later, with checkout.session.async_payment_succeeded.
        return Outcome("ignored", f"the session's payment_status is {obj.get('payment_status')!r}")
    stripe_invoice = _text(obj, "invoice")
    invoice = _match(session, event.organisation_id, obj, stripe_invoice)
    if invoice is None:
        return _unmatched(session, event, _describe(obj), _facts(obj, "amount_total"), money=True)
    # With a Stripe invoice, invoice.paid follows for the same money: both use its name.
    name = stripe_invoice or _text(obj, "payment_intent") or _text(obj, "id") or event.event_id
    return _pay(
        session,
        event,
        invoice,
        name=name,
        stripe_minor=_amount(obj, "amount_total"),
        currency=_currency(obj),
        cumulative=stripe_invoice is not None,
    )


def _refund(session: Session, event: Received, obj: dict[str, Any]) -> Outcome:
    charge = _text(obj, "id")
    stripe_invoice = _text(obj, "invoice")
    invoice = _match(session, event.organisation_id, obj, stripe_invoice)
    names = [n for n in (_text(obj, "payment_intent"), charge, stripe_invoice) if n]
    if invoice is None and _reference(obj) is None and names:
        payment = session.exec(
            select(Payment).where(
                Payment.organisation_id == event.organisation_id,
                col(Payment.external_id).in_(names),
            )
        ).first()
        invoice = session.get(Invoice, payment.invoice_id) if payment else None
    if invoice is None or charge is None:
        return _unmatched(
            session, event, _describe(obj), _facts(obj, "amount_refunded"), money=True
        )
    refunded = _amount(obj, "amount_refunded")
    try:
        refunded_minor = money.to_minor(
            _our_amount(refunded, _currency(obj), invoice), invoice.currency
        )
    except (AppError, ValueError) as error:
        reason = error.message if isinstance(error, AppError) else str(error)
        flag(session, event, reason=reason, data=_facts(obj, "amount_refunded"), invoice=invoice)
        return Outcome("rejected", reason, invoice.external_id)
    return reopen_refunded(session, event, invoice, charge=charge, refunded_minor=refunded_minor)
