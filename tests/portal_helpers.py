"""Following the links in a real reminder the way a customer's browser would."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
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


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to `.../{action}`, as a browser sends them."""
    match = re.search(
        rf'<form method="post" action="(/p/[^"]+/{re.escape(action)})".*?</form>', html, re.S
    )
    assert match, f"no {action} form on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match[0]))
    return {"_action": match[1], **fields}


def submit(api: Api, page_path: str, action: str, fields: dict[str, str]) -> Any:
    """Open a portal page, fill in one of its forms and post it."""
    hidden = form_fields(api.client.get(page_path).text, action)
    return api.client.post(hidden.pop("_action"), data={**hidden, **fields})


def agree_plan(api: Api, portal: str, fields: dict[str, str]) -> Any:
    """Preview a payment plan, then confirm the schedule shown, as the customer does."""
    preview = submit(api, portal, "plan/preview", fields)
    assert preview.status_code == 200, preview.text[-1500:]
    hidden = form_fields(preview.text, "plan")
    return api.client.post(hidden.pop("_action"), data=hidden)


def run_at(api: Api, *when: int) -> list[dict[str, Any]]:
    """Move the test clock to (year, month, day[, hour]) in London and run one pass."""
    year, month, day, hour = (*when, 10)[:4]
    api.set_clock(datetime(year, month, day, hour, 0, tzinfo=LONDON))
    outcomes: list[dict[str, Any]] = api.run_scheduler()["outcomes"]
    return outcomes


def events(api: Api, invoice: str = "inv-1001", kind: str | None = None) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = api.get(f"/invoices/{invoice}/timeline").json()
    return [e for e in timeline if kind is None or e["kind"] == kind]


def sent_steps(api: Api, invoice: str = "inv-1001") -> list[str]:
    return [e["data"]["step"] for e in events(api, invoice, "reminder.sent")]


def text_of(mail: Any) -> str:
    return str(mail.message.get_body(("plain",)).get_content())
