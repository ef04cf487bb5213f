"""Pure reminder planning: policies, the sending calendar and the planner. No I/O, no clock."""

from app.planning.calendar import SendingCalendar
from app.planning.planner import InvoiceFacts, NextAction, plan, schedule
from app.planning.policy import (
    Policy,
    PolicyError,
    PolicyRule,
    PolicySet,
    SendingRules,
    Step,
    Tone,
    default_policy_set,
    load_policy_file,
    load_policy_set,
)

__all__ = [
    "InvoiceFacts",
    "NextAction",
    "Policy",
    "PolicyError",
    "PolicyRule",
    "PolicySet",
    "SendingCalendar",
    "SendingRules",
    "Step",
    "Tone",
    "default_policy_set",
    "load_policy_file",
    "load_policy_set",
    "plan",
    "schedule",
]
