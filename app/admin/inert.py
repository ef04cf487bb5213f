"""Showing a customer's email to an admin without its links working.

A click on "Pay" or "Reply" inside a preview would otherwise open the customer's portal and
be recorded as the customer's click; `<base target="_blank">` sends every link to a new window,
which the sandboxed iframe refuses to open.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_INERT_LINKS = '<base target="_blank">'


def without_live_links(html: str) -> str:
    head = _HEAD.search(html)
    if head is None:
        return _INERT_LINKS + html
    return html[: head.end()] + _INERT_LINKS + html[head.end() :]
