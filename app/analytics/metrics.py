"""Collection metrics as pure functions of plain values, so every formula can be checked by hand.

Nothing here reads a database or a clock: the caller passes the facts and "now".
Money is integer minor units of one currency; a caller never mixes currencies in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

# Ageing buckets by days past the due date; "current" means not yet due (due today included).
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {
    "current": "Current (not yet due)",
    "1-30": "1–30 days overdue",
    "31-60": "31–60 days overdue",
    "61-90": "61–90 days overdue",
    "90+": "Over 90 days overdue",
}
PAID_WITHIN = timedelta(days=7)


def ageing_bucket(due_on: date, today: date) -> str:
    days_late = (today - due_on).days
    if days_late <= 0:
        return "current"
    if days_late <= 30:
        return "1-30"
    if days_late <= 60:
        return "31-60"
    if days_late <= 90:
        return "61-90"
    return "90+"


def ageing(amounts_by_due_date: Iterable[tuple[date, int]], today: date) -> dict[str, int]:
    """Amount due per bucket, every bucket present (zero when empty), in BUCKETS order."""
    totals = dict.fromkeys(BUCKETS, 0)
    for due_on, amount_due in amounts_by_due_date:
        totals[ageing_bucket(due_on, today)] += amount_due
    return totals


@dataclass(frozen=True)
class InvoiceHistory:
    """What we know about one invoice, enough to rebuild its balance at a past instant."""

    issued_on: date
    due_on: date
    amount_total: int
    amount_due: int  # today's balance
    # Payments recorded in Politely: (paid_at, amount).
    payments: tuple[tuple[datetime, int], ...] = ()
    # When a reduction made by the invoicing system (not a payment recorded here) happened;
    # we only know the invoice's paid_at or its last update, so that instant stands in for it.
    reduced_at: datetime | None = None


def receivable_at(invoice: InvoiceHistory, at: datetime, zone: tzinfo) -> int:
    """The invoice's balance at the instant `at` (an approximation, see below).

    Before its issue day (in `zone`) an invoice owes nothing. After it, the balance is the
    total less the payments made by `at`, less whatever the invoicing system took off
    without a payment (credit notes, payments it recorded) once that reduction's date has
    passed. Void and written-off invoices are left out by the caller altogether, so a
    written-off debt disappears from past receivables too.
    """
    if invoice.issued_on > at.astimezone(zone).date():
        return 0
    paid_by_then = sum(amount for paid_at, amount in invoice.payments if paid_at <= at)
    all_paid = sum(amount for _, amount in invoice.payments)
    reduced_elsewhere = max(invoice.amount_total - invoice.amount_due - all_paid, 0)
    if invoice.reduced_at is not None and invoice.reduced_at > at:
        reduced_elsewhere = 0
    return max(invoice.amount_total - paid_by_then - reduced_elsewhere, 0)


@dataclass(frozen=True)
class PeriodFigures:
    """The inputs of DSO and CEI for one period (start, end]."""

    days: int
    receivables_start: int
    credit_sales: int
    receivables_end: int
    current_end: int  # receivables at the end that are not yet due

    @property
    def dso(self) -> float | None:
        return days_sales_outstanding(self.receivables_end, self.credit_sales, self.days)

    @property
    def cei(self) -> float | None:
        return collection_effectiveness(
            self.receivables_start, self.credit_sales, self.receivables_end, self.current_end
        )


def period_figures(
    invoices: Iterable[InvoiceHistory], *, end: datetime, days: int, zone: tzinfo
) -> PeriodFigures:
    """Receivables at both ends of the `days` before `end`, and the credit sales in between.

    Credit sales are the totals of invoices issued after the start day and up to the end day
    (local days in `zone`), the same day boundary `receivable_at` uses.
    """
    start = end - timedelta(days=days)
    start_day, end_day = start.astimezone(zone).date(), end.astimezone(zone).date()
    receivables_start = credit_sales = receivables_end = current_end = 0
    for invoice in invoices:
        receivables_start += receivable_at(invoice, start, zone)
        balance = receivable_at(invoice, end, zone)
        receivables_end += balance
        if invoice.due_on >= end_day:
            current_end += balance
        if start_day < invoice.issued_on <= end_day:
            credit_sales += invoice.amount_total
    return PeriodFigures(days, receivables_start, credit_sales, receivables_end, current_end)


def days_sales_outstanding(receivables_end: int, credit_sales: int, days: int) -> float | None:
    # DSO = receivables at the end of the period / credit sales in the period × days.
    # Without credit sales in the period it is undefined (None), not infinite.
    if credit_sales <= 0:
        return None
    return receivables_end / credit_sales * days


def collection_effectiveness(
    receivables_start: int, credit_sales: int, receivables_end: int, current_end: int
) -> float | None:
    # CEI = (receivables at the start + credit sales − receivables at the end)
    #     / (receivables at the start + credit sales − current receivables at the end) × 100,
    # i.e. what was collected out of what could have been collected (the not-yet-due part
    # at the end was never collectable). Undefined (None) when nothing was collectable.
    collectable = receivables_start + credit_sales - current_end
    if collectable <= 0:
        return None
    return (receivables_start + credit_sales - receivables_end) / collectable * 100


@dataclass(frozen=True)
class Rate:
    """`part` out of `whole`; the percentage is None when there is nothing to divide."""

    part: int
    whole: int

    @property
    def percent(self) -> float | None:
        return self.part / self.whole * 100 if self.whole else None


def reply_rate(
    first_reminder: Mapping[int, datetime], last_human_reply: Mapping[int, datetime]
) -> Rate:
    """Customers who wrote back (a person, not an auto-reply) after their first reminder,
    out of the customers reminded; both maps are keyed by customer id."""
    replied = sum(
        1
        for customer, reminded_at in first_reminder.items()
        if customer in last_human_reply and last_human_reply[customer] >= reminded_at
    )
    return Rate(replied, len(first_reminder))


def promise_kept_rate(kept: int, broken: int) -> Rate:
    """Promises kept out of the promises that came to an end (kept or broken)."""
    return Rate(kept, kept + broken)


@dataclass(frozen=True)
class StepRate:
    step: str
    paid: Rate  # invoices paid within PAID_WITHIN of this step's reminder / invoices reminded


def step_payment_rates(
    reminders: Iterable[tuple[str, int, datetime]],
    paid_at: Mapping[int, Sequence[datetime]],
    *,
    order: Mapping[str, int] | None = None,
    within: timedelta = PAID_WITHIN,
) -> list[StepRate]:
    """For each step, the share of invoices reminded with it that were paid soon after.

    `reminders` are (step, invoice id, sent at); `paid_at` maps an invoice id to the times it
    was marked paid. An invoice counts once per step, from its first reminder with that step.
    Steps come out in `order` (e.g. the ladder's day offsets), unknown ones last by name.
    """
    first_sent: dict[str, dict[int, datetime]] = {}
    for step, invoice_id, sent_at in reminders:
        sent = first_sent.setdefault(step, {})
        if invoice_id not in sent or sent_at < sent[invoice_id]:
            sent[invoice_id] = sent_at
    rates = []
    for step, sent in first_sent.items():
        paid = sum(
            1
            for invoice_id, sent_at in sent.items()
            if any(sent_at <= at <= sent_at + within for at in paid_at.get(invoice_id, ()))
        )
        rates.append(StepRate(step, Rate(paid, len(sent))))
    positions = order or {}
    unknown = max(positions.values(), default=0) + 1
    return sorted(rates, key=lambda rate: (positions.get(rate.step, unknown), rate.step))


@dataclass(frozen=True)
class RatingSummary:
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))

    @property
    def count(self) -> int:
        return sum(self.distribution.values())

    @property
    def average(self) -> float | None:
        if not self.count:
            return None
        return sum(score * n for score, n in self.distribution.items()) / self.count


def rating_summary(counts: Iterable[tuple[int, int]]) -> RatingSummary:
    """(score, how many) pairs into a 1–5 distribution; scores outside 1–5 are ignored."""
    distribution = dict.fromkeys(range(1, 6), 0)
    for score, how_many in counts:
        if score in distribution:
            distribution[score] += how_many
    return RatingSummary(distribution)
