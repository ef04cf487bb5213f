"""Public face of reminder policies: the model and the loaders, importable from one place."""

from app.planning.policy_loader import default_policy_set, load_policy_file, load_policy_set
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

__all__ = [
    "EMAIL_TONES",
    "Policy",
    "PolicyError",
    "PolicyRule",
    "PolicySet",
    "SendingRules",
    "Step",
    "Tone",
    "default_policy_set",
    "load_policy_file",
    "load_policy_set",
]
