"""Shared builders for the planner tests: explicit aware datetimes and an open invoice."""

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.planning.calendar import SendingCalendar
from app.planning.planner import InvoiceFacts, NextAction, plan
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
