"""The reminder policies in force, loaded once from the config file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from app.planning.policy import PolicySet, default_policy_set, load_policy_file
from app.settings import get_settings


@lru_cache
def policies_from(path: Path) -> PolicySet:
    # A config file without policies runs on the shipped ladder.
    return load_policy_file(path) if path.exists() else default_policy_set()


def get_policy_set() -> PolicySet:
    return policies_from(get_settings().config)
