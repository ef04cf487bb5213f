"""The dashboard's queries: one organisation's facts, aggregated in SQL, handed to the metrics.

Every query is scoped by organisation id. Sums are grouped in the database where that is
plain SQL on both SQLite and PostgreSQL; the rest fetches only the rows a period can touch
(open invoices, invoices changed or issued in the period, the period's events).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from app.analytics.metrics import (
    InvoiceHistory,
    Rate,
    RatingSummary,
    StepRate,
    ageing,
    promise_kept_rate,
    rating_summary,
    reply_rate,
    step_payment_rates,
)
from app.invoices.models import Invoice
from app.notices.models import Rating
from app.payments.models import Payment
from app.timeline.models import Event

# Void and written-off invoices are no longer receivables, so they count nowhere.
COUNTED_STATUSES = ("open", "paid")


@dataclass(frozen=True)
class CurrencyPosition:
    currency: str
    receivables: int
    overdue: int
    ageing: dict[str, int]


def positions(
    session: Session, *, organisation_id: int, today: date
) -> dict[str, CurrencyPosition]:
    """Open invoices' amount due per currency: total, overdue and by ageing bucket."""
    statement = (
        select(col(Invoice.currency), col(Invoice.due_on), func.sum(Invoice.amount_due_minor))
        .where(Invoice.organisation_id == organisation_id, col(Invoice.status) == "open")
        .group_by(col(Invoice.currency), col(Invoice.due_on))
    )
    by_currency: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for currency, due_on, amount in session.exec(statement).all():
        by_currency[currency].append((due_on, int(amount or 0)))
    result = {}
    for currency, rows in sorted(by_currency.items()):
        buckets = ageing(rows, today)
        total = sum(buckets.values())
        result[currency] = CurrencyPosition(currency, total, total - buckets["current"], buckets)
    return result


def invoice_histories(
    session: Session, *, organisation_id: int, currency: str, since: datetime, zone: tzinfo
) -> list[InvoiceHistory]:
    """The invoices that could have owed something at some point after `since`."""
    since_day = since.astimezone(zone).date()
    could_matter = or_(
        col(Invoice.status) == "open",
        col(Invoice.updated_at) >= since,
        col(Invoice.paid_at) >= since,
        col(Invoice.issued_on) > since_day,
        and_(col(Invoice.issued_on).is_(None), col(Invoice.created_at) >= since),
    )
    scope = (
        Invoice.organisation_id == organisation_id,
        Invoice.currency == currency,
        col(Invoice.status).in_(COUNTED_STATUSES),
        could_matter,
    )
    invoices = session.exec(select(Invoice).where(*scope)).all()
    payments: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    statement = select(Payment.invoice_id, Payment.paid_at, Payment.amount_minor).where(
        Payment.organisation_id == organisation_id,
        col(Payment.invoice_id).in_(select(Invoice.id).where(*scope)),
    )
    for invoice_id, paid_at, amount in session.exec(statement).all():
        payments[invoice_id].append((paid_at, amount))
    return [
        InvoiceHistory(
            # An invoice sent without an issue date counts from the day we first saw it.
            issued_on=invoice.issued_on or invoice.created_at.astimezone(zone).date(),
            due_on=invoice.due_on,
            amount_total=invoice.amount_total_minor,
            amount_due=invoice.amount_due_minor,
            payments=tuple(payments[invoice.id or 0]),
            reduced_at=invoice.paid_at or invoice.updated_at,
        )
        for invoice in invoices
    ]


@dataclass(frozen=True)
class Activity:
    """What the reminders did in a period."""

    reminders_sent: int
    replies: Rate
    promises: Rate
    steps: list[StepRate]
    ratings: RatingSummary


def activity(
    session: Session,
    *,
    organisation_id: int,
    start: datetime,
    end: datetime,
    step_order: dict[str, int],
) -> Activity:
    def events(*kinds: str) -> tuple[ColumnElement[bool], ...]:
        return (
            col(Event.organisation_id) == organisation_id,
            col(Event.kind).in_(kinds),
            col(Event.at) > start,
            col(Event.at) <= end,
        )

    sent = session.exec(
        select(Event.invoice_id, Event.at, Event.data).where(*events("reminder.sent"))
    )
    reminders = [
        (str((data or {}).get("step") or "?"), invoice_id, at)
        for invoice_id, at, data in sent.all()
        if invoice_id is not None
    ]
    first_reminder = _by_customer(session, func.min(Event.at), events("reminder.sent"))
    # A person's reply is recorded with the customer as the actor; auto-replies and bounces
    # are recorded by the mail system and do not count.
    human_reply = (*events("reply.received"), col(Event.actor) == "customer")
    last_reply = _by_customer(session, func.max(Event.at), human_reply)
    promise_counts = dict(
        session.exec(
            select(Event.kind, func.count(col(Event.id)))
            .where(*events("promise.kept", "promise.broken"))
            .group_by(col(Event.kind))
        ).all()
    )
    paid: dict[int, list[datetime]] = defaultdict(list)
    reminded_ids = select(Event.invoice_id).where(*events("reminder.sent"))
    paid_rows = session.exec(
        select(Event.invoice_id, Event.at).where(
            Event.organisation_id == organisation_id,
            Event.kind == "invoice.paid",
            col(Event.at) > start,
            col(Event.invoice_id).in_(reminded_ids),
        )
    )
    for invoice_id, at in paid_rows.all():
        paid[invoice_id or 0].append(at)
    scores = session.exec(
        select(Rating.score, func.count(col(Rating.id)))
        .where(
            Rating.organisation_id == organisation_id,
            col(Rating.rated_at) > start,
            col(Rating.rated_at) <= end,
        )
        .group_by(col(Rating.score))
    ).all()
    return Activity(
        reminders_sent=len(reminders),
        replies=reply_rate(first_reminder, last_reply),
        promises=promise_kept_rate(
            int(promise_counts.get("promise.kept", 0)), int(promise_counts.get("promise.broken", 0))
        ),
        steps=step_payment_rates(reminders, paid, order=step_order),
        ratings=rating_summary((int(score), int(n)) for score, n in scores),
    )


def _by_customer(
    session: Session, instant: ColumnElement[datetime], where: tuple[ColumnElement[bool], ...]
) -> dict[int, datetime]:
    statement = (
        select(col(Event.customer_id), instant)
        .where(*where, col(Event.customer_id).is_not(None))
        .group_by(col(Event.customer_id))
    )
    return {customer_id or 0: at for customer_id, at in session.exec(statement).all()}
