"""The worklist priority score: which item a person should pick up first (pure, numbers only).

    score = size × age × trust  (+ URGENT_BONUS for broken promises and disputes)

    size  = log10(amount due in major units), 0 below 1 — 100 → 2, 1,000 → 3, 10,000 → 4.
            A log, so a debt ten times larger counts one step more, not ten times more:
            a huge invoice should not bury every other item.
    age   = 1 + min(days overdue, 180) / 30 — one more for each month overdue, from 1 (not yet
            overdue) up to 7; after six months the debt is not getting any "older" for triage.
    trust = 0.5 + (kept + 1) / (kept + broken + 2) — the customer's record of keeping promises,
            smoothed so a customer with no history sits at 1.0 and one record cannot swing it
            to an extreme; it ranges over (0.5, 1.5). Those likely to pay get called first,
            because a call to them is the one most likely to bring money in.

The base score stays below 140 for any amount the API accepts (13 digits: 13 × 7 × 1.5), so
adding URGENT_BONUS puts every broken promise and dispute ahead of every other item, and they
are ranked among themselves by the same formula. Amounts in different currencies are compared
as they are, without exchange rates; on a log scale that is a small error for triage.
"""

from __future__ import annotations

import math

URGENT_KINDS = frozenset({"broken_promise", "dispute"})
URGENT_BONUS = 1000.0
AGE_CAP_DAYS = 180


def payment_likelihood(*, kept_promises: int, broken_promises: int) -> float:
    """The smoothed share of promises kept: 0.5 with no history."""
    kept, broken = max(kept_promises, 0), max(broken_promises, 0)
    return (kept + 1) / (kept + broken + 2)


def priority_score(
    *,
    amount_due: float,
    days_overdue: int,
    kept_promises: int,
    broken_promises: int,
    urgent: bool,
) -> float:
    """The higher the score, the sooner the item should be worked. See the module docstring."""
    size = math.log10(amount_due) if amount_due > 1 else 0.0
    age = 1 + min(max(days_overdue, 0), AGE_CAP_DAYS) / 30
    trust = 0.5 + payment_likelihood(kept_promises=kept_promises, broken_promises=broken_promises)
    return size * age * trust + (URGENT_BONUS if urgent else 0.0)
