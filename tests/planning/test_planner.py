"""The planner's answer for one invoice: which step next, and at which instant."""

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.planning.calendar import SendingCalendar
from app.planning.planner import InvoiceFacts, NextAction, plan, schedule
from app.planning.policy import Policy, SendingRules, Step, default_policy_set

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
STANDARD = default_policy_set().policies["standard"]
EVERY_DAY_STANDARD = replace(STANDARD, sending=SendingRules(weekdays=frozenset(range(1, 8))))
NO_DUE_TODAY = Policy(
    name="no_due_today",
    steps=(Step("upcoming", -3, "friendly"), Step("overdue_3", 3, "gentle")),
    sending=SendingRules(),
)
DUE = date(2026, 6, 11)  # a Thursday


def at(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return at(BERLIN, year, month, day, hour, minute, second)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def open_invoice(due_on: date = DUE, **changes: Any) -> InvoiceFacts:
    facts = InvoiceFacts(due_on=due_on, status="open", amount_due_minor=12_000, state="active")
    return replace(facts, **changes)


def calendar_for(
    zone: ZoneInfo = BERLIN, country: str | None = "DE", policy: Policy = STANDARD
) -> SendingCalendar:
    return SendingCalendar(timezone=zone, rules=policy.sending, country=country)


def next_action(
    facts: InvoiceFacts,
    now: datetime,
    sent: set[str] | None = None,
    *,
    policy: Policy = STANDARD,
    zone: ZoneInfo = BERLIN,
    country: str | None = "DE",
) -> NextAction | None:
    action = plan(facts, policy, sent or set(), calendar_for(zone, country, policy), now)
    if action is not None:
        assert action.send_at.tzinfo is UTC
    return action


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


def test_schedule_from_five_days_before_due_lists_all_eight_steps() -> None:
    upcoming = schedule(open_invoice(), STANDARD, set(), calendar_for(), berlin(2026, 6, 6, 10))

    local = [
        (a.step.key, a.send_at.astimezone(BERLIN).date(), a.send_at.astimezone(BERLIN).time())
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
