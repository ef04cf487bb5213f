"""Loading and validating reminder policies, and choosing one for a customer."""

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.planning.policy import (
    PolicyError,
    Step,
    default_policy_set,
    load_policy_file,
    load_policy_set,
)

Change = Callable[[dict[str, Any]], None]
CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "politely.toml"


def minimal_document() -> dict[str, Any]:
    return {
        "policy": {"default": "standard", "rules": [{"policy": "strict", "min_late_invoices": 2}]},
        "policies": {
            "standard": {
                "window": "09:00-17:00",
                "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                "steps": [
                    {"key": "upcoming", "offset_days": -3, "tone": "friendly"},
                    {"key": "overdue_3", "offset_days": 3, "tone": "gentle"},
                    {"key": "escalate", "offset_days": 90, "action": "escalate"},
                ],
            },
            "strict": {"steps": [{"key": "due_today", "offset_days": 0, "tone": "firm"}]},
        },
    }


def test_shipped_config_file_loads_and_matches_the_built_in_default() -> None:
    policies = load_policy_file(CONFIG_FILE)

    assert policies == default_policy_set()
    assert policies.default == "standard"
    assert set(policies.policies) == {"standard", "key_account", "repeat_late"}


def test_standard_policy_is_the_designed_ladder() -> None:
    standard = default_policy_set().policies["standard"]

    assert [(s.key, s.offset_days, s.tone) for s in standard.steps] == [
        ("upcoming", -3, "friendly"),
        ("due_today", 0, "friendly"),
        ("overdue_3", 3, "gentle"),
        ("overdue_10", 10, "gentle"),
        ("overdue_21", 21, "firm"),
        ("overdue_31", 31, "firm"),
        ("final_notice", 60, "final"),
        ("escalate", 90, "none"),
    ]
    assert standard.step("overdue_31").call_task
    assert standard.step("escalate") == Step("escalate", 90, "none", action="escalate")
    assert standard.late_fee_note is None
    assert standard.sending.weekdays == frozenset({1, 2, 3, 4, 5})
    with pytest.raises(KeyError):
        standard.step("no_such_step")


def test_key_account_policy_is_never_firm_and_has_a_call_task() -> None:
    key_account = default_policy_set().policies["key_account"]

    email_tones = {step.tone for step in key_account.steps if step.action == "email"}
    assert email_tones <= {"friendly", "gentle"}
    assert any(step.call_task for step in key_account.steps)
    assert key_account.steps[-1].action == "escalate"


def test_repeat_late_turns_firm_sooner_than_standard() -> None:
    policies = default_policy_set().policies

    def first_firm_offset(name: str) -> int:
        return next(s.offset_days for s in policies[name].steps if s.tone == "firm")

    assert first_firm_offset("repeat_late") < first_firm_offset("standard")


@pytest.mark.parametrize(
    ("named", "tags", "late_invoices", "expected"),
    [
        ("key_account", [], 5, "key_account"),  # named on the customer wins over rules
        ("retired_policy", ["key_account"], 5, "standard"),  # unknown name: default, no crash
        (None, ["key_account", "vip"], 0, "key_account"),
        (None, [], 2, "repeat_late"),
        (None, [], 1, "standard"),
        (None, ["key_account"], 3, "key_account"),  # first matching rule wins
        ("", [], 3, "repeat_late"),  # an empty name is no name
    ],
)
def test_choose_policy(
    named: str | None, tags: list[str], late_invoices: int, expected: str
) -> None:
    chosen = default_policy_set().choose(named=named, tags=tags, late_invoices=late_invoices)
    assert chosen.name == expected


def test_max_late_invoices_rule_matches_first_time_late_payers() -> None:
    document = minimal_document()
    document["policy"]["rules"] = [{"policy": "strict", "max_late_invoices": 0}]
    policies = load_policy_set(document)

    assert policies.choose(named=None, tags=[], late_invoices=0).name == "strict"
    assert policies.choose(named=None, tags=[], late_invoices=1).name == "standard"


def test_defaults_fill_in_optional_policy_keys_and_unknown_top_level_tables_are_ignored() -> None:
    document = minimal_document()
    document["server"] = {"port": 8000}
    strict = load_policy_set(document).policies["strict"]

    assert strict.sending.window_start.hour == 9 and strict.sending.window_end.hour == 17
    assert strict.sending.weekdays == frozenset({1, 2, 3, 4, 5})
    assert strict.sending.skip_public_holidays is True
    assert (strict.promise_max_days, strict.promise_grace_days, strict.reply_pause_days) == (
        30,
        2,
        5,
    )


def test_a_document_without_policies_gets_the_shipped_default() -> None:
    assert load_policy_set({"server": {"port": 8000}}) == default_policy_set()


def test_late_fee_note_is_kept_when_given() -> None:
    document = minimal_document()
    document["policies"]["standard"]["late_fee_note"] = "  Interest of 8% a year applies.  "

    note = load_policy_set(document).policies["standard"].late_fee_note
    assert note == "Interest of 8% a year applies."


def _set(path: list[Any], value: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Change:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


STEPS = ["policies", "standard", "steps"]

INVALID = [
    (_set([*STEPS, 1, "tone"], "grumpy"), "policies.standard.steps[1].tone: unknown tone"),
    (_set([*STEPS, 1, "tone"], "none"), "policies.standard.steps[1].tone"),
    (_delete([*STEPS, 1, "tone"]), "policies.standard.steps[1].tone: missing"),
    (_set([*STEPS, 2, "tone"], "firm"), "policies.standard.steps[2].tone"),
    (_set([*STEPS, 2, "action"], "phone"), "policies.standard.steps[2].action"),
    (_set([*STEPS, 1, "key"], "upcoming"), "policies.standard.steps[1].key: duplicate"),
    (_set([*STEPS, 1, "key"], "bad key!"), "policies.standard.steps[1].key"),
    (_delete([*STEPS, 0, "key"]), "policies.standard.steps[0].key: missing"),
    (_set([*STEPS, 1, "offset_days"], -3), "policies.standard.steps[1].offset_days"),
    (_set([*STEPS, 1, "offset_days"], -5), "policies.standard.steps[1].offset_days"),
    (_set([*STEPS, 1, "offset_days"], "3"), "steps[1].offset_days: must be an integer"),
    (_set([*STEPS, 1, "offset_days"], 3.0), "steps[1].offset_days: must be an integer"),
    (_set([*STEPS, 1, "offset_days"], True), "steps[1].offset_days: must be an integer"),
    (_delete([*STEPS, 1, "offset_days"]), "policies.standard.steps[1].offset_days: missing"),
    (_set([*STEPS, 1, "ofset_days"], 4), "policies.standard.steps[1].ofset_days: unknown key"),
    (_set([*STEPS, 1, "call_task"], "yes"), "policies.standard.steps[1].call_task"),
    (_set([*STEPS, 1], "overdue_3"), "policies.standard.steps[1]: must be a table"),
    (_set(STEPS, []), "policies.standard.steps: a policy needs at least one step"),
    (_delete(STEPS), "policies.standard.steps: missing"),
    (
        _set(
            STEPS,
            [
                {"key": "escalate", "offset_days": 60, "action": "escalate"},
                {"key": "later", "offset_days": 90, "tone": "final"},
            ],
        ),
        "policies.standard.steps[0].action: escalate must be the last step",
    ),
    (_set(["policies", "standard", "window"], "9-17"), "policies.standard.window"),
    (_set(["policies", "standard", "window"], "17:00-09:00"), "policies.standard.window"),
    (_set(["policies", "standard", "window"], "09:00-09:00"), "policies.standard.window"),
    (_set(["policies", "standard", "window"], "09:00-25:00"), "policies.standard.window"),
    (_set(["policies", "standard", "weekdays"], ["mon", "fry"]), "standard.weekdays[1]"),
    (_set(["policies", "standard", "weekdays"], []), "policies.standard.weekdays"),
    (_set(["policies", "standard", "skip_public_holiday"], True), "skip_public_holiday:"),
    (_set(["policies", "standard", "promise_max_days"], 0), "standard.promise_max_days"),
    (_set(["policies", "standard", "promise_grace_days"], -1), "standard.promise_grace_days"),
    (_set(["policies", "standard", "late_fee_note"], 8), "policies.standard.late_fee_note"),
    (_set(["policies", "bad name"], {"steps": []}), "policies.bad name"),
    (_set(["policies"], {}), "policies: define at least one"),
    (_set(["policy", "default"], "missing"), "policy.default: unknown policy 'missing'"),
    (_set(["policy", "defualt"], "standard"), "policy.defualt: unknown key"),
    (_set(["policy", "rules", 0, "policy"], "nope"), "policy.rules[0].policy: unknown policy"),
    (_delete(["policy", "rules", 0, "policy"]), "policy.rules[0].policy: missing"),
    (_set(["policy", "rules", 0, "tags"], ["vip"]), "policy.rules[0].tags: unknown key"),
    (_set(["policy", "rules", 0, "min_late_invoices"], -1), "rules[0].min_late_invoices"),
    (_set(["policy", "rules", 0, "max_late_invoices"], 1), "rules[0].max_late_invoices"),
    (_set(["policy", "rules", 0, "tags_any"], "vip"), "policy.rules[0].tags_any: must be a"),
]


@pytest.mark.parametrize(("change", "message"), INVALID)
def test_invalid_policy_is_refused_with_the_key_path(change: Change, message: str) -> None:
    document = copy.deepcopy(minimal_document())
    change(document)

    with pytest.raises(PolicyError) as raised:
        load_policy_set(document)
    assert message in str(raised.value)


def test_missing_default_falls_back_to_standard_or_refuses() -> None:
    document = minimal_document()
    del document["policy"]["default"]
    assert load_policy_set(document).default == "standard"

    document["policies"]["other"] = document["policies"].pop("standard")
    with pytest.raises(PolicyError, match=r"^policy\.default: missing"):
        load_policy_set(document)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(PolicyError, match="absent.toml: cannot read"):
        load_policy_file(missing)

    broken = tmp_path / "broken.toml"
    broken.write_text("[policies.standard\n")
    with pytest.raises(PolicyError, match="broken.toml: invalid TOML"):
        load_policy_file(broken)

    invalid = tmp_path / "invalid.toml"
    invalid.write_text('[policies.standard]\nsteps = [{ key = "a", offset_days = 1 }]\n')
    with pytest.raises(PolicyError, match=r"invalid.toml: policies\.standard\.steps\[0\]\.tone"):
        load_policy_file(invalid)


def test_array_of_tables_step_syntax_is_accepted() -> None:
    text = """
    [[policies.standard.steps]]
    key = "due_today"
    offset_days = 0
    tone = "friendly"
    """
    policies = load_policy_set(tomllib.loads(text))
    assert policies.policies["standard"].steps == (Step("due_today", 0, "friendly"),)
