"""Which step the planner picks: late imports, lapsed heads-ups, holds, states, sent steps."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.planning.planner import InvoiceFacts, NextAction, schedule
from app.planning.policy import Policy

from .support import (
    BERLIN,
    NO_DUE_TODAY,
    STANDARD,
    SYDNEY,
    berlin,
    calendar_for,
    next_action,
    open_invoice,
    utc,
)


def test_late_import_sends_only_the_latest_due_step() -> None:
    action = next_action(open_invoice(), berlin(2026, 7, 20, 10))

    assert action == NextAction(
        STANDARD.step("overdue_31"),
        berlin(2026, 7, 20, 10),
        passed_over=("upcoming", "due_today", "overdue_3", "overdue_10", "overdue_21"),
    )


def test_late_import_on_a_weekend_waits_for_monday_and_still_sends_one_step() -> None:
    action = next_action(open_invoice(), berlin(2026, 7, 18, 10))

    assert action is not None
    assert (action.step.key, action.send_at) == ("overdue_31", berlin(2026, 7, 20, 9))
    assert len(action.passed_over) == 5


def test_after_downtime_the_latest_due_step_is_sent_and_the_rest_passed_over() -> None:
    action = next_action(open_invoice(), berlin(2026, 7, 3, 10), {"upcoming", "due_today"})

    assert action == NextAction(
        STANDARD.step("overdue_21"), berlin(2026, 7, 3, 10), passed_over=("overdue_3", "overdue_10")
    )


@pytest.mark.parametrize(
    ("facts", "now", "zone", "policy", "expected_step", "expected_at"),
    [
        # The evening before the due date: too late for the heads-up today, and tomorrow
        # is the due date itself.
        (
            open_invoice(),
            berlin(2026, 6, 10, 17, 30),
            BERLIN,
            STANDARD,
            "due_today",
            berlin(2026, 6, 11, 9),
        ),
        # Due on a Monday, imported on the Saturday before.
        (
            open_invoice(date(2026, 6, 15)),
            berlin(2026, 6, 13, 10),
            BERLIN,
            STANDARD,
            "due_today",
            berlin(2026, 6, 15, 9),
        ),
        (
            open_invoice(date(2026, 6, 15)),
            berlin(2026, 6, 15, 0, 30),
            BERLIN,
            STANDARD,
            "due_today",
            berlin(2026, 6, 15, 9),
        ),
        # Without a due-date step the heads-up lapses and the next step waits for its own day.
        (
            open_invoice(date(2026, 6, 15)),
            berlin(2026, 6, 13, 10),
            BERLIN,
            NO_DUE_TODAY,
            "overdue_3",
            berlin(2026, 6, 18, 9),
        ),
        # 23:30 UTC on the 10th is already the due date in Sydney.
        (
            open_invoice(),
            utc(2026, 6, 10, 23, 30),
            SYDNEY,
            STANDARD,
            "due_today",
            utc(2026, 6, 10, 23, 30),
        ),
    ],
)
def test_upcoming_is_never_sent_on_or_after_the_due_date(
    facts: InvoiceFacts,
    now: datetime,
    zone: ZoneInfo,
    policy: Policy,
    expected_step: str,
    expected_at: datetime,
) -> None:
    action = next_action(facts, now, policy=policy, zone=zone, country=None)

    assert action is not None
    assert (action.step.key, action.send_at) == (expected_step, expected_at)
    assert action.passed_over == ("upcoming",)


@pytest.mark.parametrize(
    ("state", "hold_until", "expected"),
    [
        ("active", berlin(2026, 6, 11, 14), ("due_today", berlin(2026, 6, 11, 14))),
        ("active", berlin(2026, 6, 11, 18), ("due_today", berlin(2026, 6, 12, 9))),
        ("active", berlin(2026, 6, 1), ("upcoming", berlin(2026, 6, 8, 9))),  # already over
        ("paused", berlin(2026, 6, 20, 10), ("overdue_10", berlin(2026, 6, 22, 9))),
        ("promised", berlin(2026, 6, 16, 11), ("overdue_3", berlin(2026, 6, 16, 11))),
        ("paused", None, None),  # paused with no end date: until someone resumes it
        ("promised", None, None),
    ],
)
def test_hold_until_delays_everything(
    state: str, hold_until: datetime | None, expected: tuple[str, datetime] | None
) -> None:
    facts = open_invoice(state=state, hold_until=hold_until)
    action = next_action(facts, berlin(2026, 6, 5, 10))

    assert ((action.step.key, action.send_at) if action else None) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "paid"},
        {"status": "void"},
        {"status": "written_off"},
        {"state": "disputed"},
        {"state": "escalated"},
        {"state": "opted_out"},
        {"amount_due_minor": 0},
        {"amount_due_minor": -500},
    ],
)
def test_nothing_is_planned_when_there_is_nothing_to_chase(changes: dict[str, Any]) -> None:
    facts = open_invoice(**changes)
    now = berlin(2026, 7, 1, 10)

    assert next_action(facts, now) is None
    assert schedule(facts, STANDARD, set(), calendar_for(), now) == []


@pytest.mark.parametrize(
    ("sent", "expected_step"),
    [
        ({"overdue_10"}, "overdue_21"),  # never goes back to earlier unsent steps
        ({"overdue_10", "due_today"}, "overdue_21"),
        ({"retired_step"}, "upcoming"),  # keys the policy does not know are ignored
        ({"retired_step", "overdue_3"}, "overdue_10"),
        ({"final_notice"}, "escalate"),
        ({"escalate"}, None),
        ({step.key for step in STANDARD.steps}, None),
    ],
)
def test_only_steps_after_the_last_sent_one_are_planned(
    sent: set[str], expected_step: str | None
) -> None:
    action = next_action(open_invoice(), berlin(2026, 6, 1, 10), sent)

    assert (action.step.key if action else None) == expected_step


def test_escalate_step_is_planned_like_any_other() -> None:
    action = next_action(open_invoice(), berlin(2026, 9, 10, 10), {"final_notice"})

    assert action is not None
    assert action.step.action == "escalate"
    assert action.send_at == berlin(2026, 9, 10, 10)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_action(open_invoice(), datetime(2026, 6, 1, 10))
