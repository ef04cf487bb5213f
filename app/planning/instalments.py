"""PURE: a payment plan's own small ladder, as a policy the planner already understands.

Each unpaid instalment gets three steps, three days before, on and three days after its due
day. Offsets are counted from the invoice's due date, like every other step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from app.planning.policy import Policy, Step

_KEY = re.compile(r"plan(\d+)_i(\d+)_(upcoming|due|overdue)")
# Instalments at least a week apart keep these steps strictly in order.
_LADDER = (("upcoming", -3, "friendly"), ("due", 0, "friendly"), ("overdue", 3, "gentle"))
MIN_GAP_DAYS = 7


@dataclass(frozen=True)
class InstalmentFacts:
    number: int
    due_on: date
    paid: bool


def instalment_policy(
    base: Policy, *, plan_id: int, instalments: list[InstalmentFacts], invoice_due_on: date
) -> Policy:
    steps = []
    for instalment in sorted(instalments, key=lambda i: i.due_on):
        if instalment.paid:
            continue
        offset = (instalment.due_on - invoice_due_on).days
        for kind, days, tone in _LADDER:
            key = f"plan{plan_id}_i{instalment.number}_{kind}"
            steps.append(Step(key=key, offset_days=offset + days, tone=tone))  # type: ignore[arg-type]
    if not steps:
        # Everything is paid: a ladder needs a step, and this one is never due.
        steps.append(Step(key=f"plan{plan_id}_done", offset_days=100_000, tone="friendly"))
    return replace(base, name=f"{base.name}+plan{plan_id}", steps=tuple(steps))


def instalment_step(key: str) -> tuple[int, int, str] | None:
    """(plan id, instalment number, kind) for a plan step key, else None."""
    match = _KEY.fullmatch(key)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3)


def missed_on(due_on: date, grace_days: int) -> date:
    """The local day on which an unpaid instalment counts as a broken promise."""
    return due_on + timedelta(days=3 + grace_days + 1)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):  # the 31st becomes the month's last day
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError("unreachable")


def next_step_only(policy: Policy, sent_steps: set[str]) -> Policy:
    """After a broken promise or plan the ladder resumes at its next unsent step, whatever
    else fell due meanwhile, so the customer hears "we had agreed" before anything firmer."""
    positions = [p for p in (policy.position(key) for key in sent_steps) if p is not None]
    start = max(positions) + 1 if positions else 0
    if start >= len(policy.steps):
        return policy
    return replace(policy, steps=(policy.steps[start],))
