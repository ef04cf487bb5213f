"""The planner: given an invoice's facts, its policy and what was sent, the next reminder and when.

Pure: no database, no clock. The dunning pass calls `plan` with the current time on every
tick and sends when `send_at` is not in the future; `schedule` is the same rule simulated
forward for the API's "what will happen" view.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.planning.calendar import SendingCalendar
from app.planning.policy_model import Policy, Step

# Reminder states in which the ladder may still move; paused and promised need a hold end.
_PLANNABLE_STATES = frozenset({"active", "paused", "promised"})
_HELD_STATES = frozenset({"paused", "promised"})


@dataclass(frozen=True)
class InvoiceFacts:
    """What the planner needs to know about one invoice, read at planning time."""

    due_on: date
    status: str  # invoicing status: open | paid | void | written_off
    amount_due_minor: int  # integer minor units; <= 0 means nothing to chase
    state: str  # reminder state: active | paused | promised | disputed | escalated | opted_out
    hold_until: datetime | None = None  # aware; nothing is sent before it


@dataclass(frozen=True)
class NextAction:
    """The next step to take and the instant to take it (UTC)."""

    step: Step
    send_at: datetime
    passed_over: tuple[str, ...] = ()  # earlier due steps skipped so no burst goes out


def plan(
    facts: InvoiceFacts,
    policy: Policy,
    sent_steps: Collection[str],
    calendar: SendingCalendar,
    now: datetime,
) -> NextAction | None:
    """The next reminder for this invoice, or None when nothing more will be sent."""
    now = _require_aware(now, "now")
    if not _is_chased(facts):
        return None
    not_before = now
    if facts.hold_until is not None:
        not_before = max(now, _require_aware(facts.hold_until, "hold_until"))

    candidates = list(_steps_after_last_sent(policy, sent_steps))
    passed_over: list[str] = []
    # Each round either returns or removes at least one candidate, so this ends.
    while candidates:
        earliest = [_earliest(step, facts.due_on, calendar) for step in candidates]
        # Steps are strictly ordered by offset, so the first candidate is due first.
        action_at = calendar.next_slot(max(not_before, earliest[0]))
        due_count = sum(1 for at in earliest if at <= action_at)
        due, candidates = candidates[:due_count], candidates[due_count:]
        chosen = due[-1]
        if chosen.offset_days < 0 and calendar.local_date(action_at) >= facts.due_on:
            # A heads-up "it will be due soon" is wrong once the day has come; every due
            # step here is such a heads-up (offsets are ordered), so all of them lapse.
            passed_over.extend(step.key for step in due)
            not_before = action_at
            continue
        passed_over.extend(step.key for step in due[:-1])
        return NextAction(step=chosen, send_at=action_at, passed_over=tuple(passed_over))
    return None


def schedule(
    facts: InvoiceFacts,
    policy: Policy,
    sent_steps: Collection[str],
    calendar: SendingCalendar,
    now: datetime,
) -> list[NextAction]:
    """Every future step with its send time, if each is sent when planned and nothing changes."""
    sent = set(sent_steps)
    upcoming: list[NextAction] = []
    at = now
    while (action := plan(facts, policy, sent, calendar, at)) is not None:
        upcoming.append(action)
        sent.add(action.step.key)
        # The chosen step is the latest one due at send_at, so the next one is strictly later.
        at = action.send_at
    return upcoming


def _is_chased(facts: InvoiceFacts) -> bool:
    if facts.status != "open" or facts.amount_due_minor <= 0:
        return False
    if facts.state not in _PLANNABLE_STATES:
        return False
    # A pause or promise without an end date holds until a human or an event lifts it.
    return not (facts.state in _HELD_STATES and facts.hold_until is None)


def _steps_after_last_sent(policy: Policy, sent_steps: Collection[str]) -> tuple[Step, ...]:
    # Never out of order: once a later step went out, earlier unsent ones stay unsent.
    # Keys the policy does not know (a policy was edited or swapped) carry no position.
    positions = [policy.position(key) for key in sent_steps]
    known = [position for position in positions if position is not None]
    start = max(known) + 1 if known else 0
    return policy.steps[start:]


def _earliest(step: Step, due_on: date, calendar: SendingCalendar) -> datetime:
    nominal_day = due_on + timedelta(days=step.offset_days)
    return calendar.window_opens(calendar.next_sending_day(nominal_day))


def _require_aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {at!r}")
    return at.astimezone(UTC)
