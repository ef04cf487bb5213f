"""Properties of the planner over random invoices, policies, time zones and clocks."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.planning.calendar import SendingCalendar
from app.planning.planner import InvoiceFacts, NextAction, plan, schedule
from app.planning.policy import EMAIL_TONES, Policy, SendingRules, Step, default_policy_set

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "UTC",
]
COUNTRIES = [None, "DE", "US", "AU", "GB", "XX"]
SHIPPED = list(default_policy_set().policies.values())

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def random_policies(draw: st.DrawFn) -> Policy:
    offsets = sorted(draw(st.sets(st.integers(-10, 120), min_size=1, max_size=8)))
    steps = [
        Step(key=f"step_{index}", offset_days=offset, tone=draw(st.sampled_from(EMAIL_TONES)))
        for index, offset in enumerate(offsets)
    ]
    if draw(st.booleans()):
        steps[-1] = Step(steps[-1].key, steps[-1].offset_days, "none", action="escalate")
    # Any hours, so windows also fall into DST gaps and repeated hours.
    start_minute = draw(st.integers(0, 23 * 60 - 1))
    end_minute = draw(st.integers(start_minute + 1, 24 * 60 - 1))
    sending = SendingRules(
        window_start=time(start_minute // 60, start_minute % 60),
        window_end=time(end_minute // 60, end_minute % 60),
        weekdays=frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
        skip_public_holidays=draw(st.booleans()),
    )
    return Policy(name="random", steps=tuple(steps), sending=sending)


policies = st.one_of(st.sampled_from(SHIPPED), random_policies())


Situation = tuple[InvoiceFacts, Policy, set[str], SendingCalendar, datetime]


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    policy = draw(policies)
    calendar = SendingCalendar(
        timezone=ZoneInfo(draw(st.sampled_from(ZONES))),
        rules=policy.sending,
        country=draw(st.sampled_from(COUNTRIES)),
    )
    due_on = draw(st.dates(date(2025, 1, 1), date(2026, 12, 31)))
    midnight = datetime.combine(due_on, time(0), tzinfo=UTC)
    now = midnight + timedelta(minutes=draw(st.integers(-20 * 1440, 130 * 1440)))
    hold_until = draw(
        st.none() | st.integers(-5 * 1440, 40 * 1440).map(lambda m: now + timedelta(minutes=m))
    )
    state = draw(st.sampled_from(["active", "active", "paused", "promised"]))
    facts = InvoiceFacts(
        due_on=due_on, status="open", amount_due_minor=5_000, state=state, hold_until=hold_until
    )
    keys = [step.key for step in policy.steps]
    sent = draw(st.sets(st.sampled_from([*keys, "retired_step"]), max_size=3))
    return facts, policy, sent, calendar, now


def last_sent_position(policy: Policy, sent: set[str]) -> int:
    positions = [policy.position(key) for key in sent]
    return max((p for p in positions if p is not None), default=-1)


def check_action(
    action: NextAction,
    facts: InvoiceFacts,
    policy: Policy,
    sent: set[str],
    calendar: SendingCalendar,
    now: datetime,
) -> None:
    step_position = policy.position(action.step.key)
    assert step_position is not None
    assert action.step.key not in sent
    assert step_position > last_sent_position(policy, sent)
    assert action.send_at.tzinfo is UTC
    assert action.send_at >= now
    if facts.hold_until is not None:
        assert action.send_at >= facts.hold_until
    assert calendar.in_window(action.send_at)
    # Never early: the step's own day (moved to a sending day) has come.
    nominal_day = facts.due_on + timedelta(days=action.step.offset_days)
    assert calendar.local_date(action.send_at) >= calendar.next_sending_day(nominal_day)
    if action.step.offset_days < 0:
        assert calendar.local_date(action.send_at) < facts.due_on
    assert action.step.key not in action.passed_over


@PROPERTY_SETTINGS
@given(situations())
def test_plan_respects_order_clock_hold_and_window(situation: Situation) -> None:
    facts, policy, sent, calendar, now = situation
    action = plan(facts, policy, sent, calendar, now)

    if action is not None:
        check_action(action, facts, policy, sent, calendar, now)


@PROPERTY_SETTINGS
@given(situations())
def test_schedule_is_strictly_increasing_and_starts_with_plan(situation: Situation) -> None:
    facts, policy, sent, calendar, now = situation
    upcoming = schedule(facts, policy, sent, calendar, now)

    assert (upcoming[0] if upcoming else None) == plan(facts, policy, sent, calendar, now)
    keys = [action.step.key for action in upcoming]
    assert len(keys) == len(set(keys))
    positions = [policy.position(key) for key in keys]
    assert None not in positions
    assert positions == sorted(p for p in positions if p is not None)
    times = [action.send_at for action in upcoming]
    assert all(earlier < later for earlier, later in zip(times, times[1:], strict=False))
    # One invoice never gets two reminders on the same local day.
    days = [calendar.local_date(at) for at in times]
    assert len(days) == len(set(days))
    already_sent = set(sent)
    for action in upcoming:
        check_action(action, facts, policy, already_sent, calendar, now)
        already_sent.add(action.step.key)


@PROPERTY_SETTINGS
@given(
    situations(),
    st.sampled_from(["paid", "void", "written_off"]) | st.just("open"),
    st.sampled_from(["disputed", "escalated", "opted_out"]) | st.just("active"),
    st.integers(-10_000, 10_000),
)
def test_nothing_is_planned_for_invoices_not_being_chased(
    situation: Situation, status: str, state: str, amount: int
) -> None:
    facts, policy, sent, calendar, now = situation
    facts = replace(facts, status=status, state=state, amount_due_minor=amount)
    chased = status == "open" and state == "active" and amount > 0
    if not chased:
        assert plan(facts, policy, sent, calendar, now) is None
        assert schedule(facts, policy, sent, calendar, now) == []


@PROPERTY_SETTINGS
@given(
    situations(),
    st.lists(st.integers(1, 4 * 1440), min_size=1, max_size=120),
)
def test_ticking_clock_sends_each_step_at_most_once_in_order_and_in_window(
    situation: Situation, ticks: list[int]
) -> None:
    facts, policy, sent, calendar, now = situation
    sent = set(sent)
    floor = last_sent_position(policy, sent)
    for minutes in ticks:
        now += timedelta(minutes=minutes)
        action = plan(facts, policy, sent, calendar, now)
        if action is None:
            break
        if action.send_at <= now:
            # The dunning pass sends at tick time; plan() only says "now" inside a slot.
            assert action.send_at == now
            assert calendar.in_window(now)
            position = policy.position(action.step.key)
            assert position is not None and position > floor
            assert action.step.key not in sent
            sent.add(action.step.key)
            floor = position
