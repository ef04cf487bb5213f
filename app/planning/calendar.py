"""The sending calendar: on which local days and at which local hours a reminder may leave."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from app.planning.policy_model import SendingRules

# A year and a bit: enough to get past any run of holidays; a policy with no sending day
# at all is refused by validation, so hitting this bound means something is badly wrong.
_SEARCH_DAYS = 400


@functools.lru_cache(maxsize=2048)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    # Building a country's holiday table takes ~0.1 s; the planner asks for it once per
    # invoice, so every (country, year) is computed once per process.
    try:
        table = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        # An unknown country code must not stop reminders; it only loses holiday skipping.
        return frozenset()
    return frozenset(table.keys())


def _normalise_country(country: str | None) -> str | None:
    if country is None:
        return None
    code = country.strip().upper()
    return code or None


def _require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {at!r}")
    return at


class SendingCalendar:
    """Sending days and windows for one customer: time zone, policy rules, country."""

    def __init__(self, *, timezone: ZoneInfo, rules: SendingRules, country: str | None) -> None:
        self.timezone = timezone
        self.rules = rules
        self.country = _normalise_country(country)

    def __repr__(self) -> str:
        return f"SendingCalendar(timezone={self.timezone.key!r}, country={self.country!r})"

    def local_date(self, at: datetime) -> date:
        return _require_aware(at).astimezone(self.timezone).date()

    def is_public_holiday(self, day: date) -> bool:
        if self.country is None:
            return False
        return day in _public_holidays(self.country, day.year)

    def is_sending_day(self, day: date) -> bool:
        if day.isoweekday() not in self.rules.weekdays:
            return False
        return not (self.rules.skip_public_holidays and self.is_public_holiday(day))

    def next_sending_day(self, day: date) -> date:
        """`day` itself if reminders may leave on it, else the next day they may."""
        for ahead in range(_SEARCH_DAYS):
            candidate = day + timedelta(days=ahead)
            if self.is_sending_day(candidate):
                return candidate
        raise ValueError(f"no sending day within {_SEARCH_DAYS} days of {day.isoformat()}")

    def window_opens(self, day: date) -> datetime:
        return self._instant(day, self.rules.window_start)

    def window_closes(self, day: date) -> datetime:
        return self._instant(day, self.rules.window_end)

    def in_window(self, at: datetime) -> bool:
        day = self.local_date(at)
        return self.is_sending_day(day) and self.window_opens(day) <= at < self.window_closes(day)

    def next_slot(self, at: datetime) -> datetime:
        """`at` itself (in UTC) if a reminder may leave then, else the next window opening."""
        day = self.local_date(at)
        if self.is_sending_day(day) and at < self.window_closes(day):
            opens = self.window_opens(day)
            if opens < self.window_closes(day):
                return max(at, opens).astimezone(UTC)
        for _ in range(_SEARCH_DAYS):
            day = self.next_sending_day(day + timedelta(days=1))
            # A window that lies inside a DST gap can be empty on that one day.
            if self.window_opens(day) < self.window_closes(day):
                return self.window_opens(day)
        raise ValueError(f"no sending window within {_SEARCH_DAYS} sending days of {at!r}")

    def _instant(self, day: date, wall_clock: time) -> datetime:
        # Windows are local wall-clock times, so the UTC instant moves on DST days. zoneinfo
        # maps a time that falls in a DST gap forwards and picks the first of a repeated hour.
        local = datetime.combine(day, wall_clock, tzinfo=self.timezone)
        return local.astimezone(UTC)
