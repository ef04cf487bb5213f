"""The dashboard's formulas on small cases worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.analytics.metrics import (
    InvoiceHistory,
    Rate,
    ageing,
    ageing_bucket,
    collection_effectiveness,
    days_sales_outstanding,
    period_figures,
    promise_kept_rate,
    rating_summary,
    receivable_at,
    reply_rate,
    step_payment_rates,
)

TODAY = date(2026, 12, 8)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("due_on", "bucket"),
    [
        (date(2026, 12, 9), "current"),
        (date(2026, 12, 8), "current"),  # due today is not overdue yet
        (date(2026, 12, 7), "1-30"),
        (date(2026, 11, 8), "1-30"),  # 30 days
        (date(2026, 11, 7), "31-60"),  # 31 days
        (date(2026, 10, 9), "31-60"),  # 60 days
        (date(2026, 10, 8), "61-90"),  # 61 days
        (date(2026, 9, 9), "61-90"),  # 90 days
        (date(2026, 9, 8), "90+"),  # 91 days
    ],
)
def test_ageing_buckets_have_their_edges_where_the_labels_say(due_on: date, bucket: str) -> None:
    assert ageing_bucket(due_on, TODAY) == bucket


def test_ageing_sums_each_bucket_and_keeps_empty_ones() -> None:
    rows = [(date(2026, 12, 10), 25000), (date(2026, 10, 20), 40000), (date(2026, 8, 1), 60000)]
    rows.append((date(2026, 12, 1), 100))
    assert ageing(rows, TODAY) == {
        "current": 25000,
        "1-30": 100,
        "31-60": 40000,
        "61-90": 0,
        "90+": 60000,
    }


def test_a_past_balance_is_the_total_less_the_payments_made_by_then() -> None:
    invoice = InvoiceHistory(
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 10, 31),
        amount_total=100000,
        amount_due=50000,
        payments=((at("2026-10-15"), 30000), (at("2026-11-20"), 20000)),
    )
    assert receivable_at(invoice, at("2026-09-30"), UTC) == 0  # not issued yet
    assert receivable_at(invoice, at("2026-10-01", 0), UTC) == 100000  # its issue day counts
    assert receivable_at(invoice, at("2026-10-15"), UTC) == 70000  # a payment at that instant
    assert receivable_at(invoice, at("2026-11-19"), UTC) == 70000
    assert receivable_at(invoice, at("2026-12-01"), UTC) == 50000  # today's amount due


def test_the_issue_day_is_taken_in_the_organisations_time_zone() -> None:
    invoice = InvoiceHistory(date(2026, 10, 1), date(2026, 10, 31), 100000, 100000)
    late_evening_utc = datetime(2026, 9, 30, 23, 30, tzinfo=UTC)  # 01:30 on 1 October in Berlin
    assert receivable_at(invoice, late_evening_utc, UTC) == 0
    assert receivable_at(invoice, late_evening_utc, ZoneInfo("Europe/Berlin")) == 100000


def test_a_reduction_made_in_the_invoicing_system_counts_from_its_date() -> None:
    # Marked paid by the invoicing system on 10 November, no payment recorded here.
    invoice = InvoiceHistory(
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 10, 31),
        amount_total=100000,
        amount_due=0,
        reduced_at=at("2026-11-10"),
    )
    assert receivable_at(invoice, at("2026-11-09"), UTC) == 100000
    assert receivable_at(invoice, at("2026-11-10"), UTC) == 0
    # A credit note of 200 plus a payment of 300 recorded here, balance 500 today.
    partly = InvoiceHistory(
        issued_on=date(2026, 10, 1),
        due_on=date(2026, 10, 31),
        amount_total=100000,
        amount_due=50000,
        payments=((at("2026-11-20"), 30000),),
        reduced_at=at("2026-11-05"),
    )
    assert receivable_at(partly, at("2026-11-01"), UTC) == 100000
    assert receivable_at(partly, at("2026-11-06"), UTC) == 80000
    assert receivable_at(partly, at("2026-11-21"), UTC) == 50000


# The dashboard test's scenario, in minor units, seen on 8 December 2026 at noon.
SCENARIO = [
    # paid in full on 27 November
    InvoiceHistory(date(2026, 10, 1), date(2026, 11, 20), 100000, 0, ((at("2026-11-27"), 100000),)),
    InvoiceHistory(date(2026, 9, 1), date(2026, 10, 20), 40000, 40000),
    InvoiceHistory(date(2026, 11, 10), date(2026, 12, 20), 25000, 25000),
    InvoiceHistory(date(2026, 7, 1), date(2026, 8, 1), 60000, 60000),
]


def test_period_figures_dso_and_cei_over_30_days() -> None:
    figures = period_figures(SCENARIO, end=at("2026-12-08"), days=30, zone=UTC)
    # Start (8 November): invoices issued by then owe 1000 + 400 + 600.
    assert figures.receivables_start == 200000
    # Issued after 8 November: only the 250 invoice of 10 November.
    assert figures.credit_sales == 25000
    assert figures.receivables_end == 125000  # 400 + 250 + 600
    assert figures.current_end == 25000  # the 250, due 20 December
    assert figures.dso == pytest.approx(150.0)  # 1250 / 250 × 30
    assert figures.cei == pytest.approx(50.0)  # (2000 + 250 − 1250) / (2000 + 250 − 250)


def test_period_figures_dso_and_cei_over_90_days() -> None:
    figures = period_figures(SCENARIO, end=at("2026-12-08"), days=90, zone=UTC)
    # Start (9 September): the 400 (issued 1 September) and the 600 (1 July).
    assert (figures.receivables_start, figures.credit_sales) == (100000, 125000)
    assert figures.dso == pytest.approx(90.0)  # 1250 / 1250 × 90
    assert figures.cei == pytest.approx(50.0)  # (1000 + 1250 − 1250) / (1000 + 1250 − 250)


def test_dso_and_cei_are_undefined_rather_than_infinite() -> None:
    assert days_sales_outstanding(50000, 0, 30) is None
    assert days_sales_outstanding(0, 10000, 30) == 0
    assert collection_effectiveness(0, 0, 0, 0) is None
    # Everything outstanding is not yet due: nothing was collectable.
    assert collection_effectiveness(0, 10000, 10000, 10000) is None
    # All of it collected.
    assert collection_effectiveness(30000, 10000, 0, 0) == pytest.approx(100.0)


def test_reply_rate_counts_people_who_wrote_after_their_reminder() -> None:
    first_reminder = {1: at("2026-11-26"), 2: at("2026-11-26"), 3: at("2026-11-27")}
    # Customer 3 wrote before being reminded; someone never reminded does not count.
    replies = {1: at("2026-11-27"), 3: at("2026-11-20"), 9: at("2026-11-28")}
    assert reply_rate(first_reminder, replies) == Rate(1, 3)
    assert reply_rate({}, replies).percent is None


def test_promise_kept_rate() -> None:
    assert promise_kept_rate(3, 1).percent == pytest.approx(75.0)
    assert promise_kept_rate(0, 0).percent is None


def test_which_step_gets_paid_within_seven_days() -> None:
    sent = at("2026-11-02")
    reminders = [
        ("overdue_3", 1, sent),
        ("overdue_3", 2, sent),
        ("overdue_10", 1, sent + timedelta(days=7)),
        ("due_today", 3, sent),
        ("plan4_1_due", 4, sent),
    ]
    paid = {
        1: [sent + timedelta(days=8)],  # a day too late for overdue_3, in time for overdue_10
        2: [sent + timedelta(days=7)],  # exactly seven days counts
        3: [sent - timedelta(days=1)],  # paid before the reminder: not thanks to it
    }
    order = {"due_today": 0, "overdue_3": 3, "overdue_10": 10}
    rates = step_payment_rates(reminders, paid, order=order)
    assert [(r.step, r.paid.part, r.paid.whole) for r in rates] == [
        ("due_today", 0, 1),
        ("overdue_3", 1, 2),
        ("overdue_10", 1, 1),
        ("plan4_1_due", 0, 1),  # not on a ladder: last
    ]


def test_rating_summary_average_and_distribution() -> None:
    summary = rating_summary([(5, 2), (4, 1), (1, 1), (7, 3)])
    assert summary.distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 2}
    assert summary.count == 4
    assert summary.average == pytest.approx(3.75)  # (10 + 4 + 1) / 4
    assert rating_summary([]).average is None
