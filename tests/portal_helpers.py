"""Following the links in a real reminder the way a customer's browser would."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
THURSDAY_11 = datetime(2026, 11, 26, 11, 0, tzinfo=LONDON)


def links_in(text: str) -> dict[str, str]:
    """The pay, portal and unsubscribe links of an email's text part, as paths."""
    found = re.findall(r"https://politely\.test(/p/[A-Za-z0-9_\-.]+(?:/[a-z]+)?)", text)
    links: dict[str, str] = {}
    for path in found:
        kind = path.rsplit("/", 1)[-1] if path.count("/") == 3 else "portal"
        links.setdefault(kind, path)
    return links


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def reminder_links(api: Api, inbox: Inbox, *, due_on: str = "2026-11-20") -> dict[str, str]:
    """Push a customer and an overdue invoice, send the reminder, return its links."""
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on=due_on))
    api.run_scheduler()
    text = inbox.mails[-1].message.get_body(("plain",)).get_content()
    return links_in(text)


def kinds(api: Api, invoice: str = "inv-1001") -> list[str]:
    return [e["kind"] for e in api.get(f"/invoices/{invoice}/timeline").json()]
