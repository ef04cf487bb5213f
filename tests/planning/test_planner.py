"""When the planner sends: each step's day, the window, holidays and DST, per time zone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.planning.planner import NextAction

from .support import (
    BERLIN,
    EVERY_DAY_STANDARD,
    NEW_YORK,
    STANDARD,
    SYDNEY,
    at,
    berlin,
    next_action,
    open_invoice,
    utc,
)


@pytest.mark.parametrize(
    ("last_sent", "expected_step", "expected_at"),
    [
        (None, "upcoming", berlin(2026, 6, 8, 9)),
        ("upcoming", "due_today", berlin(2026, 6, 11, 9)),
        ("due_today", "overdue_3", berlin(2026, 6, 15, 9)),  # the 14th is a Sunday
        ("overdue_3", "overdue_10", berlin(2026, 6, 22, 9)),  # the 21st is a Sunday
        ("overdue_10", "overdue_21", berlin(2026, 7, 2, 9)),
        ("overdue_21", "overdue_31", berlin(2026, 7, 13, 9)),  # the 12th is a Sunday
        ("overdue_31", "final_notice", berlin(2026, 8, 10, 9)),
        ("final_notice", "escalate", berlin(2026, 9, 9, 9)),
    ],
)
def test_each_step_goes_out_on_its_day(
    last_sent: str | None, expected_step: str, expected_at: datetime
) -> None:
    sent = {last_sent} if last_sent else set()
    action = next_action(open_invoice(), berlin(2026, 6, 1, 10), sent)

    assert action == NextAction(STANDARD.step(expected_step), expected_at)


@pytest.mark.parametrize(
    ("now", "expected_at"),
    [
        (berlin(2026, 6, 8, 8, 59, 59), berlin(2026, 6, 8, 9)),  # before the window
        (berlin(2026, 6, 8, 9), berlin(2026, 6, 8, 9)),  # the window opens now
        (berlin(2026, 6, 8, 12, 34), berlin(2026, 6, 8, 12, 34)),  # inside: right now
        (berlin(2026, 6, 8, 16, 59, 59), berlin(2026, 6, 8, 16, 59, 59)),
        (berlin(2026, 6, 8, 17), berlin(2026, 6, 9, 9)),  # the end is exclusive
        (berlin(2026, 6, 9, 23, 30), berlin(2026, 6, 10, 9)),
    ],
)
def test_window_before_inside_and_after(now: datetime, expected_at: datetime) -> None:
    action = next_action(open_invoice(), now)

    assert action is not None
    assert (action.step.key, action.send_at) == ("upcoming", expected_at)


@pytest.mark.parametrize(
    ("due_on", "sent", "zone", "country", "now", "expected_step", "expected_at"),
    [
        # Christmas Day (Friday) and the second day (Saturday) in Germany, then Sunday.
        (
            date(2026, 12, 22),
            {"due_today"},
            BERLIN,
            "DE",
            berlin(2026, 12, 22, 12),
            "overdue_3",
            berlin(2026, 12, 28, 9),
        ),
        (
            date(2026, 12, 22),
            {"due_today"},
            BERLIN,
            None,
            berlin(2026, 12, 22, 12),
            "overdue_3",
            berlin(2026, 12, 25, 9),
        ),
        # German Unity Day 2025 is a Friday.
        (
            date(2025, 9, 30),
            {"due_today"},
            BERLIN,
            "DE",
            berlin(2025, 9, 30, 12),
            "overdue_3",
            berlin(2025, 10, 6, 9),
        ),
        # Independence Day is observed on Friday 2026-07-03 in the US; 09:00 EDT is 13:00 UTC.
        (
            date(2026, 6, 12),
            {"overdue_10"},
            NEW_YORK,
            "US",
            at(NEW_YORK, 2026, 6, 25, 12),
            "overdue_21",
            utc(2026, 7, 6, 13),
        ),
        # Good Friday, the Easter weekend and Easter Monday in Australia; Sydney leaves
        # daylight saving time on the 5th, so 09:00 is 23:00 UTC instead of 22:00 UTC.
        # due_today and overdue_3 both land on Tuesday: only the later one goes out.
        (
            date(2026, 4, 3),
            {"upcoming"},
            SYDNEY,
            "AU",
            at(SYDNEY, 2026, 4, 1, 12),
            "overdue_3",
            utc(2026, 4, 6, 23),
        ),
        (
            date(2026, 4, 3),
            set(),
            SYDNEY,
            "AU",
            at(SYDNEY, 2026, 3, 20, 12),
            "upcoming",
            utc(2026, 3, 30, 22),
        ),
    ],
)
def test_public_holidays_move_a_step_to_the_next_sending_day(
    due_on: date,
    sent: set[str],
    zone: ZoneInfo,
    country: str | None,
    now: datetime,
    expected_step: str,
    expected_at: datetime,
) -> None:
    action = next_action(open_invoice(due_on), now, sent, zone=zone, country=country)

    assert action is not None
    assert (action.step.key, action.send_at) == (expected_step, expected_at)


@pytest.mark.parametrize(
    ("zone", "due_on", "sent", "now", "expected_step", "expected_at"),
    [
        # Berlin springs forward on Sunday 2026-03-29: 09:00 is 08:00 UTC before, 07:00 after.
        (BERLIN, date(2026, 3, 27), set(), berlin(2026, 3, 20), "upcoming", utc(2026, 3, 24, 8)),
        (
            BERLIN,
            date(2026, 3, 27),
            {"upcoming"},
            berlin(2026, 3, 25),
            "due_today",
            utc(2026, 3, 27, 8),
        ),
        (
            BERLIN,
            date(2026, 3, 27),
            {"due_today"},
            berlin(2026, 3, 28),
            "overdue_3",
            utc(2026, 3, 30, 7),
        ),
    ],
)
def test_dst_shifts_the_utc_instant_of_the_window(
    zone: ZoneInfo,
    due_on: date,
    sent: set[str],
    now: datetime,
    expected_step: str,
    expected_at: datetime,
) -> None:
    action = next_action(open_invoice(due_on), now, sent, zone=zone)

    assert action is not None
    assert (action.step.key, action.send_at) == (expected_step, expected_at)


@pytest.mark.parametrize(
    ("zone", "due_on", "now", "expected_step", "expected_at"),
    [
        # Sending on the transition day itself (a policy that sends every day).
        (BERLIN, date(2026, 3, 29), berlin(2026, 3, 29, 1), "due_today", utc(2026, 3, 29, 7)),
        (BERLIN, date(2026, 10, 25), berlin(2026, 10, 25, 1), "due_today", utc(2026, 10, 25, 8)),
        (BERLIN, date(2026, 3, 29), berlin(2026, 3, 29, 3, 30), "due_today", utc(2026, 3, 29, 7)),
        (
            NEW_YORK,
            date(2026, 3, 8),
            at(NEW_YORK, 2026, 3, 8, 8, 30),
            "due_today",
            utc(2026, 3, 8, 13),
        ),
        (NEW_YORK, date(2026, 3, 8), at(NEW_YORK, 2026, 3, 4), "upcoming", utc(2026, 3, 5, 14)),
        (
            NEW_YORK,
            date(2026, 11, 1),
            at(NEW_YORK, 2026, 11, 1, 1, 30),
            "due_today",
            utc(2026, 11, 1, 14),
        ),
        (
            NEW_YORK,
            date(2026, 11, 1),
            at(NEW_YORK, 2026, 10, 20),
            "upcoming",
            utc(2026, 10, 29, 13),
        ),
        # Inside the window on the transition day: right now.
        (
            NEW_YORK,
            date(2026, 11, 1),
            at(NEW_YORK, 2026, 11, 1, 16, 59),
            "due_today",
            utc(2026, 11, 1, 21, 59),
        ),
    ],
)
def test_dst_transition_days(
    zone: ZoneInfo,
    due_on: date,
    now: datetime,
    expected_step: str,
    expected_at: datetime,
) -> None:
    action = next_action(
        open_invoice(due_on), now, policy=EVERY_DAY_STANDARD, zone=zone, country=None
    )

    assert action is not None
    assert (action.step.key, action.send_at) == (expected_step, expected_at)
