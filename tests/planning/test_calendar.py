"""Sending days, windows and public holidays in the customer's time zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.planning import calendar as calendar_module
from app.planning.calendar import SendingCalendar
from app.planning.policy import SendingRules

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE_HOURS = SendingRules()
EVERY_DAY = SendingRules(weekdays=frozenset(range(1, 8)))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


def german(rules: SendingRules = OFFICE_HOURS) -> SendingCalendar:
    return SendingCalendar(timezone=BERLIN, rules=rules, country="DE")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 23), True),  # Wednesday
        (date(2026, 12, 25), False),  # Christmas Day, a Friday
        (date(2026, 12, 26), False),  # Saturday and a holiday
        (date(2026, 12, 27), False),  # Sunday
        (date(2025, 10, 3), False),  # German Unity Day, a Friday
        (date(2026, 4, 3), False),  # Good Friday
    ],
)
def test_sending_days_skip_weekends_and_public_holidays(day: date, expected: bool) -> None:
    assert german().is_sending_day(day) is expected


def test_holidays_are_kept_when_the_policy_says_so() -> None:
    rules = SendingRules(skip_public_holidays=False)
    assert german(rules).is_sending_day(date(2026, 12, 25))


@pytest.mark.parametrize("country", [None, "", "XX", "zz"])
def test_unknown_or_missing_country_means_no_holidays(country: str | None) -> None:
    calendar = SendingCalendar(timezone=BERLIN, rules=OFFICE_HOURS, country=country)
    assert calendar.is_sending_day(date(2026, 12, 25))


def test_country_code_is_case_insensitive() -> None:
    calendar = SendingCalendar(timezone=BERLIN, rules=OFFICE_HOURS, country="de")
    assert not calendar.is_sending_day(date(2026, 12, 25))


def test_holiday_tables_are_computed_once_per_country_and_year() -> None:
    calendar_module._public_holidays.cache_clear()
    calendar = german()
    for day in range(1, 29):
        calendar.is_sending_day(date(2026, 2, day))
    german().is_sending_day(date(2026, 3, 2))

    info = calendar_module._public_holidays.cache_info()
    assert info.misses == 1


def test_next_sending_day_moves_past_christmas_and_the_weekend() -> None:
    assert german().next_sending_day(date(2026, 12, 25)) == date(2026, 12, 28)
    assert german().next_sending_day(date(2026, 12, 23)) == date(2026, 12, 23)


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # Berlin spring forward on Sunday 2026-03-29 and fall back on Sunday 2026-10-25.
        (BERLIN, date(2026, 3, 28), utc(2026, 3, 28, 8)),
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 29, 7)),
        (BERLIN, date(2026, 10, 24), utc(2026, 10, 24, 7)),
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 25, 8)),
        # New York springs forward on 2026-03-08 and falls back on 2026-11-01.
        (NEW_YORK, date(2026, 3, 7), utc(2026, 3, 7, 14)),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 13)),
        (NEW_YORK, date(2026, 10, 31), utc(2026, 10, 31, 13)),
        (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 14)),
    ],
)
def test_window_opens_at_local_wall_clock_time_across_dst(
    zone: ZoneInfo, day: date, expected: datetime
) -> None:
    calendar = SendingCalendar(timezone=zone, rules=EVERY_DAY, country=None)
    opens = calendar.window_opens(day)

    assert opens == expected
    assert opens.tzinfo is UTC
    assert opens.astimezone(zone).time() == time(9, 0)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(BERLIN, 2026, 12, 23, 8, 59, 59), local(BERLIN, 2026, 12, 23, 9)),  # before
        (local(BERLIN, 2026, 12, 23, 9), local(BERLIN, 2026, 12, 23, 9)),  # window opens
        (local(BERLIN, 2026, 12, 23, 16, 59, 59), local(BERLIN, 2026, 12, 23, 16, 59, 59)),
        (local(BERLIN, 2026, 12, 23, 17), local(BERLIN, 2026, 12, 24, 9)),  # end is exclusive
        (local(BERLIN, 2026, 12, 24, 17, 30), local(BERLIN, 2026, 12, 28, 9)),  # holidays
        (local(BERLIN, 2026, 12, 26, 12), local(BERLIN, 2026, 12, 28, 9)),
        (utc(2026, 12, 23, 23, 30), local(BERLIN, 2026, 12, 24, 9)),  # already the 24th there
    ],
)
def test_next_slot(at: datetime, expected: datetime) -> None:
    slot = german().next_slot(at)

    assert slot == expected
    assert slot.tzinfo is UTC
    assert german().in_window(slot)


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (local(BERLIN, 2026, 12, 23, 9), True),
        (local(BERLIN, 2026, 12, 23, 16, 59, 59, 999999), True),
        (local(BERLIN, 2026, 12, 23, 17), False),
        (local(BERLIN, 2026, 12, 23, 8, 59), False),
        (local(BERLIN, 2026, 12, 25, 10), False),  # holiday
        (local(BERLIN, 2026, 12, 27, 10), False),  # Sunday
        (local(NEW_YORK, 2026, 12, 23, 11, 30), False),  # 17:30 in Berlin
    ],
)
def test_in_window(at: datetime, inside: bool) -> None:
    assert german().in_window(at) is inside


def test_window_inside_a_dst_gap_moves_to_the_next_day() -> None:
    # 02:30-03:00 does not exist in Berlin on 2026-03-29; that day has no slot at all.
    rules = SendingRules(
        window_start=time(2, 30), window_end=time(3, 0), weekdays=EVERY_DAY.weekdays
    )
    calendar = SendingCalendar(timezone=BERLIN, rules=rules, country=None)

    slot = calendar.next_slot(local(BERLIN, 2026, 3, 29, 0, 0))
    assert slot == local(BERLIN, 2026, 3, 30, 2, 30)
    assert calendar.in_window(slot)


def test_local_date_uses_the_customer_time_zone() -> None:
    sydney = SendingCalendar(
        timezone=ZoneInfo("Australia/Sydney"), rules=OFFICE_HOURS, country="AU"
    )
    assert sydney.local_date(utc(2026, 6, 1, 20)) == date(2026, 6, 2)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        german().next_slot(datetime(2026, 12, 23, 10))
