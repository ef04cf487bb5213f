"""Small security helpers shared by every check that compares secrets."""

from __future__ import annotations

import hmac


def same_secret(presented: str | None, expected: str) -> bool:
    """Constant-time comparison that never raises, whatever characters were sent."""
    if presented is None:
        return False
    return hmac.compare_digest(
        presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )
