"""schedule(): the simulated list of every future step, as the API shows it."""

from zoneinfo import ZoneInfo

import pytest

from app.planning.planner import plan, schedule

from .support import (
    BERLIN,
    NEW_YORK,
    STANDARD,
    SYDNEY,
    at,
    berlin,
    calendar_for,
    open_invoice,
)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, SYDNEY])
def test_schedule_from_five_days_before_due_lists_all_eight_steps(zone: ZoneInfo) -> None:
    # No public holiday falls on these days in Germany, the US or Australia.
    calendar = calendar_for(zone, country={BERLIN: "DE", NEW_YORK: "US", SYDNEY: "AU"}[zone])
    upcoming = schedule(open_invoice(), STANDARD, set(), calendar, at(zone, 2026, 6, 6, 10))

    local = [
        (a.step.key, a.send_at.astimezone(zone).date(), a.send_at.astimezone(zone).time())
        for a in upcoming
    ]
    assert [(key, day.isoformat(), clock.isoformat()) for key, day, clock in local] == [
        ("upcoming", "2026-06-08", "09:00:00"),
        ("due_today", "2026-06-11", "09:00:00"),
        ("overdue_3", "2026-06-15", "09:00:00"),
        ("overdue_10", "2026-06-22", "09:00:00"),
        ("overdue_21", "2026-07-02", "09:00:00"),
        ("overdue_31", "2026-07-13", "09:00:00"),
        ("final_notice", "2026-08-10", "09:00:00"),
        ("escalate", "2026-09-09", "09:00:00"),
    ]
    assert all(a.passed_over == () for a in upcoming)


def test_schedule_starts_with_what_plan_returns_and_continues_after_sent_steps() -> None:
    now = berlin(2026, 7, 3, 10)
    facts = open_invoice()
    upcoming = schedule(facts, STANDARD, {"due_today"}, calendar_for(), now)

    assert upcoming[0] == plan(facts, STANDARD, {"due_today"}, calendar_for(), now)
    assert [a.step.key for a in upcoming] == [
        "overdue_21",
        "overdue_31",
        "final_notice",
        "escalate",
    ]
    assert upcoming[1].passed_over == ()
