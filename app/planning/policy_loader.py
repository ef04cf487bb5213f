"""Reading reminder policies from the TOML config, refusing anything doubtful with its key path."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from app.planning.defaults import DEFAULT_POLICY_TOML
from app.planning.policy_model import (
    EMAIL_TONES,
    Policy,
    PolicyError,
    PolicyRule,
    PolicySet,
    SendingRules,
    Step,
    Tone,
)

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_POLICY_SECTION_KEYS = frozenset({"default", "rules"})
_POLICY_KEYS = frozenset(
    {
        "window",
        "weekdays",
        "skip_public_holidays",
        "late_fee_note",
        "promise_max_days",
        "promise_grace_days",
        "reply_pause_days",
        "paid_claim_pause_days",
        "plan_max_instalments",
        "plan_max_days",
        "plan_min_instalment_percent",
        "steps",
    }
)
_STEP_KEYS = frozenset({"key", "offset_days", "tone", "action", "call_task"})
_RULE_KEYS = frozenset({"policy", "tags_any", "min_late_invoices", "max_late_invoices"})


def load_policy_set(data: Mapping[str, Any]) -> PolicySet:
    """Build the policy set from a parsed config document; other top-level tables are ignored.

    A document with neither `[policy]` nor `[policies]` gets the shipped default, so a config
    file that only sets up the server still sends reminders.
    """
    if "policy" not in data and "policies" not in data:
        return default_policy_set()
    section = _table(data.get("policy", {}), "policy")
    _refuse_unknown(section, _POLICY_SECTION_KEYS, "policy")
    if "policies" not in data:
        raise PolicyError("policies: missing; define at least one [policies.NAME] table")
    raw_policies = _table(data["policies"], "policies")
    if not raw_policies:
        raise PolicyError("policies: define at least one [policies.NAME] table")

    policies: dict[str, Policy] = {}
    for name, raw in raw_policies.items():
        path = f"policies.{name}"
        if not _NAME_RE.match(name):
            raise PolicyError(f"{path}: a policy name uses letters, digits, '_' and '-' only")
        policies[name] = _policy(name, _table(raw, path), path)

    default = _default_name(section, policies)
    rules = tuple(
        _rule(raw, f"policy.rules[{index}]", policies)
        for index, raw in enumerate(_list(section.get("rules", []), "policy.rules"))
    )
    return PolicySet(policies=MappingProxyType(policies), default=default, rules=rules)


def load_policy_file(path: Path) -> PolicySet:
    """Load the policies of a config file; every error message starts with the file name."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return load_policy_set(data)
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from exc


@functools.cache
def default_policy_set() -> PolicySet:
    """The policies shipped with Politely (the same as config/politely.toml)."""
    return load_policy_set(tomllib.loads(DEFAULT_POLICY_TOML))


def _default_name(section: Mapping[str, Any], policies: Mapping[str, Policy]) -> str:
    known = ", ".join(policies)
    if "default" not in section:
        # Sensible fallbacks keep a small config small; anything else must be explicit.
        if "standard" in policies:
            return "standard"
        if len(policies) == 1:
            return next(iter(policies))
        raise PolicyError(f"policy.default: missing; name one of: {known}")
    default = _str(section["default"], "policy.default")
    if default not in policies:
        raise PolicyError(f"policy.default: unknown policy {default!r} (known: {known})")
    return default


def _policy(name: str, raw: Mapping[str, Any], path: str) -> Policy:
    _refuse_unknown(raw, _POLICY_KEYS, path)
    start, end = _window(raw.get("window", "09:00-17:00"), f"{path}.window")
    sending = SendingRules(
        window_start=start,
        window_end=end,
        weekdays=_weekdays(raw.get("weekdays", list(_WEEKDAY_NAMES[:5])), f"{path}.weekdays"),
        skip_public_holidays=_bool(
            raw.get("skip_public_holidays", True), f"{path}.skip_public_holidays"
        ),
    )
    note = _str(raw.get("late_fee_note", ""), f"{path}.late_fee_note").strip()
    return Policy(
        name=name,
        steps=_steps(raw.get("steps"), f"{path}.steps"),
        sending=sending,
        late_fee_note=note or None,
        promise_max_days=_int(raw.get("promise_max_days", 30), f"{path}.promise_max_days", 1),
        promise_grace_days=_int(raw.get("promise_grace_days", 2), f"{path}.promise_grace_days", 0),
        reply_pause_days=_int(raw.get("reply_pause_days", 5), f"{path}.reply_pause_days", 0),
        paid_claim_pause_days=_int(
            raw.get("paid_claim_pause_days", 7), f"{path}.paid_claim_pause_days", 0
        ),
        plan_max_instalments=_int(
            raw.get("plan_max_instalments", 6), f"{path}.plan_max_instalments", 2
        ),
        plan_max_days=_int(raw.get("plan_max_days", 180), f"{path}.plan_max_days", 14),
        plan_min_instalment_percent=_int(
            raw.get("plan_min_instalment_percent", 10), f"{path}.plan_min_instalment_percent", 1
        ),
    )


def _steps(value: Any, path: str) -> tuple[Step, ...]:
    if value is None:
        raise PolicyError(f"{path}: missing; a policy needs at least one step")
    raw_steps = _list(value, path)
    if not raw_steps:
        raise PolicyError(f"{path}: a policy needs at least one step")
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        step_path = f"{path}[{index}]"
        step = _step(_table(raw, step_path), step_path)
        if any(earlier.key == step.key for earlier in steps):
            raise PolicyError(f"{step_path}.key: duplicate step key {step.key!r}")
        if steps and step.offset_days <= steps[-1].offset_days:
            raise PolicyError(
                f"{step_path}.offset_days: must be greater than the previous step's "
                f"({steps[-1].offset_days}); steps are listed in the order they are sent"
            )
        if steps and steps[-1].action == "escalate":
            raise PolicyError(f"{path}[{index - 1}].action: escalate must be the last step")
        steps.append(step)
    return tuple(steps)


def _step(raw: Mapping[str, Any], path: str) -> Step:
    _refuse_unknown(raw, _STEP_KEYS, path)
    if "key" not in raw:
        raise PolicyError(f"{path}.key: missing")
    key = _str(raw["key"], f"{path}.key")
    if not _NAME_RE.match(key):
        raise PolicyError(f"{path}.key: a step key uses letters, digits, '_' and '-' only")
    if "offset_days" not in raw:
        raise PolicyError(f"{path}.offset_days: missing")
    offset = _int(raw["offset_days"], f"{path}.offset_days")
    action = _str(raw.get("action", "email"), f"{path}.action")
    if action not in ("email", "escalate"):
        raise PolicyError(f"{path}.action: unknown action {action!r} (use email or escalate)")
    tone = _str(raw.get("tone", "none" if action == "escalate" else ""), f"{path}.tone")
    if action == "escalate" and tone != "none":
        raise PolicyError(f"{path}.tone: an escalate step sends no email; leave tone out")
    if action == "email" and tone not in EMAIL_TONES:
        hint = "missing" if not tone else f"unknown tone {tone!r}"
        raise PolicyError(f"{path}.tone: {hint} (use one of: {', '.join(EMAIL_TONES)})")
    return Step(
        key=key,
        offset_days=offset,
        tone=cast(Tone, tone),
        action="escalate" if action == "escalate" else "email",
        call_task=_bool(raw.get("call_task", False), f"{path}.call_task"),
    )


def _rule(raw: Any, path: str, policies: Mapping[str, Policy]) -> PolicyRule:
    table = _table(raw, path)
    _refuse_unknown(table, _RULE_KEYS, path)
    if "policy" not in table:
        raise PolicyError(f"{path}.policy: missing")
    name = _str(table["policy"], f"{path}.policy")
    if name not in policies:
        raise PolicyError(f"{path}.policy: unknown policy {name!r} (known: {', '.join(policies)})")
    tags = frozenset(
        _str(tag, f"{path}.tags_any[{index}]")
        for index, tag in enumerate(_list(table.get("tags_any", []), f"{path}.tags_any"))
    )
    bounds: dict[str, int | None] = {}
    for bound in ("min_late_invoices", "max_late_invoices"):
        bounds[bound] = None if bound not in table else _int(table[bound], f"{path}.{bound}", 0)
    low, high = bounds["min_late_invoices"], bounds["max_late_invoices"]
    if low is not None and high is not None and low > high:
        raise PolicyError(f"{path}.max_late_invoices: must not be below min_late_invoices")
    return PolicyRule(policy=name, tags_any=tags, min_late_invoices=low, max_late_invoices=high)


def _window(value: Any, path: str) -> tuple[time, time]:
    match = _WINDOW_RE.match(_str(value, path))
    if not match:
        raise PolicyError(f'{path}: expected "HH:MM-HH:MM", got {value!r}')
    hour_a, minute_a, hour_b, minute_b = (int(part) for part in match.groups())
    if hour_a > 23 or hour_b > 23 or minute_a > 59 or minute_b > 59:
        raise PolicyError(f"{path}: not a time of day in {value!r}")
    start, end = time(hour_a, minute_a), time(hour_b, minute_b)
    if start >= end:
        raise PolicyError(f"{path}: the window must start before it ends (end is exclusive)")
    return start, end


def _weekdays(value: Any, path: str) -> frozenset[int]:
    days: set[int] = set()
    for index, raw in enumerate(_list(value, path)):
        name = _str(raw, f"{path}[{index}]").strip().lower()
        if name not in _WEEKDAY_NAMES:
            allowed = ", ".join(_WEEKDAY_NAMES)
            raise PolicyError(f"{path}[{index}]: unknown weekday {raw!r} (use {allowed})")
        days.add(_WEEKDAY_NAMES.index(name) + 1)
    if not days:
        raise PolicyError(f"{path}: name at least one sending day")
    return frozenset(days)


def _refuse_unknown(table: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    # A typo such as `ofset_days` would otherwise silently fall back to a default.
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(
            f"{path}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})"
        )


def _table(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{path}: must be a table")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(f"{path}: must be a list")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{path}: must be a string")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{path}: must be true or false")
    return value


def _int(value: Any, path: str, minimum: int | None = None) -> int:
    # bool is a subclass of int in Python; `offset_days = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{path}: must be an integer")
    if minimum is not None and value < minimum:
        raise PolicyError(f"{path}: must be at least {minimum}")
    return value
