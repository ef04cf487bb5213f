"""The worklist priority formula, checked against numbers worked out by hand."""

from __future__ import annotations

import pytest

from app.worklist.priority import payment_likelihood, priority_score


def score(amount: float, days: int, kept: int = 0, broken: int = 0, urgent: bool = False) -> float:
    return priority_score(
        amount_due=amount,
        days_overdue=days,
        kept_promises=kept,
        broken_promises=broken,
        urgent=urgent,
    )


@pytest.mark.parametrize(
    ("amount", "days", "kept", "broken", "urgent", "expected"),
    [
        # log10(1000)=3, 1 + 30/30 = 2, no history: 0.5 + 1/2 = 1  ->  3 x 2 x 1
        (1000, 30, 0, 0, False, 6.0),
        # kept 3, broken 1: 0.5 + 4/6 = 7/6  ->  3 x 2 x 7/6
        (1000, 30, 3, 1, False, 7.0),
        # log10(100)=2, not overdue: 1, broken 2: 0.5 + 1/4  ->  2 x 1 x 0.75, plus 1000
        (100, 0, 0, 2, True, 1001.5),
        # six months is the cap: 400 days counts as 180 -> 1 + 6 = 7  ->  3 x 7 x 1
        (1000, 400, 0, 0, False, 21.0),
        # 10,000 due 15 days: 4 x 1.5 x 1
        (10_000, 15, 0, 0, False, 6.0),
        # nothing (or less than one unit) due: only the urgency band is left
        (0.5, 90, 0, 0, False, 0.0),
        (0, 90, 0, 0, True, 1000.0),
        # not yet due counts as zero days, never as negative age
        (1000, -10, 0, 0, False, 3.0),
    ],
)
def test_hand_worked_scores(
    amount: float, days: int, kept: int, broken: int, urgent: bool, expected: float
) -> None:
    assert score(amount, days, kept, broken, urgent) == pytest.approx(expected)


def test_likelihood_is_smoothed_towards_one_half() -> None:
    assert payment_likelihood(kept_promises=0, broken_promises=0) == 0.5
    assert payment_likelihood(kept_promises=1, broken_promises=0) == pytest.approx(2 / 3)
    assert payment_likelihood(kept_promises=0, broken_promises=1) == pytest.approx(1 / 3)
    assert payment_likelihood(kept_promises=8, broken_promises=0) == pytest.approx(0.9)


def test_larger_older_and_more_reliable_come_first() -> None:
    assert score(5000, 30) > score(500, 30)
    assert score(500, 60) > score(500, 30)
    assert score(500, 30, kept=4) > score(500, 30) > score(500, 30, broken=4)


def test_broken_promises_and_disputes_beat_any_other_item() -> None:
    # The largest amount the API accepts, six months overdue, a perfect payer: still below.
    biggest = score(9_999_999_999_999, 180, kept=100)
    assert biggest < 140
    assert score(1, 0, broken=50, urgent=True) > biggest
