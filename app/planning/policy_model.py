"""The reminder policy model: steps of the ladder, sending rules, and who gets which policy."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Literal

Tone = Literal["friendly", "gentle", "firm", "final", "none"]
Action = Literal["email", "escalate"]

# Ordered from the softest to the firmest, so a caller merging several invoices into one
# email can pick the firmest tone by position.
EMAIL_TONES: tuple[Tone, ...] = ("friendly", "gentle", "firm", "final")

ALL_WEEKDAYS = frozenset(range(1, 8))
WORKING_WEEKDAYS = frozenset(range(1, 6))


class PolicyError(ValueError):
    """An invalid policy document; the message starts with the key path of the problem."""


@dataclass(frozen=True)
class Step:
    """One rung of the ladder, placed relative to the invoice's due date."""

    key: str
    offset_days: int
    tone: Tone
    action: Literal["email", "escalate"] = "email"
    call_task: bool = False

    def __post_init__(self) -> None:
        # An escalation sends nothing, so it has no tone; every email needs one.
        if (self.action == "escalate") != (self.tone == "none"):
            raise ValueError(f"step {self.key!r}: tone 'none' is for the escalate action only")

    @property
    def sends_email(self) -> bool:
        return self.action == "email"


@dataclass(frozen=True)
class SendingRules:
    """When a reminder may leave, in the customer's local time."""

    window_start: time = time(9, 0)
    window_end: time = time(17, 0)  # exclusive
    weekdays: frozenset[int] = WORKING_WEEKDAYS  # ISO: 1=Mon .. 7=Sun
    skip_public_holidays: bool = True

    def __post_init__(self) -> None:
        # The calendar relies on these; the loader reports them with a key path first.
        if self.window_start >= self.window_end:
            raise ValueError("window_start must be before window_end")
        if not self.weekdays or not self.weekdays <= ALL_WEEKDAYS:
            raise ValueError("weekdays must be a non-empty set of ISO weekdays 1..7")


@dataclass(frozen=True)
class Policy:
    """A named ladder of steps plus the limits later features (promises, replies) read."""

    name: str
    steps: tuple[Step, ...]
    sending: SendingRules = SendingRules()
    late_fee_note: str | None = None
    promise_max_days: int = 30
    promise_grace_days: int = 2
    reply_pause_days: int = 5
    paid_claim_pause_days: int = 7
    plan_max_instalments: int = 6
    plan_max_days: int = 180
    plan_min_instalment_percent: int = 10

    def __post_init__(self) -> None:
        # The planner's "never out of order" rule depends on a strictly ordered, unique ladder.
        if not self.steps:
            raise ValueError(f"policy {self.name!r} has no steps")
        keys = [step.key for step in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"policy {self.name!r} has duplicate step keys")
        offsets = [step.offset_days for step in self.steps]
        if any(later <= earlier for earlier, later in zip(offsets, offsets[1:], strict=False)):
            raise ValueError(f"policy {self.name!r} steps are not strictly increasing in offset")

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def position(self, key: str) -> int | None:
        """Index of a step in the ladder, None for keys this policy does not know."""
        for index, step in enumerate(self.steps):
            if step.key == key:
                return index
        return None


@dataclass(frozen=True)
class PolicyRule:
    """Picks a policy for customers without one named; all given conditions must hold."""

    policy: str
    tags_any: frozenset[str] = frozenset()
    min_late_invoices: int | None = None
    max_late_invoices: int | None = None

    def matches(self, *, tags: Collection[str], late_invoices: int) -> bool:
        if self.tags_any and self.tags_any.isdisjoint(tags):
            return False
        if self.min_late_invoices is not None and late_invoices < self.min_late_invoices:
            return False
        if self.max_late_invoices is not None and late_invoices > self.max_late_invoices:
            return False
        return True


@dataclass(frozen=True)
class PolicySet:
    """Every policy of an organisation, the default, and the rules between them."""

    policies: Mapping[str, Policy]
    default: str
    rules: tuple[PolicyRule, ...] = ()

    def __post_init__(self) -> None:
        if self.default not in self.policies:
            raise ValueError(f"default policy {self.default!r} is not defined")
        for rule in self.rules:
            if rule.policy not in self.policies:
                raise ValueError(f"rule names unknown policy {rule.policy!r}")

    def choose(self, *, named: str | None, tags: Collection[str], late_invoices: int) -> Policy:
        """The policy named on the customer, else the first matching rule, else the default."""
        if named:
            # A customer can keep a policy name the config no longer has; sending under the
            # default is better than stopping every reminder for that customer.
            return self.policies.get(named, self.policies[self.default])
        for rule in self.rules:
            if rule.matches(tags=tags, late_invoices=late_invoices):
                return self.policies[rule.policy]
        return self.policies[self.default]
