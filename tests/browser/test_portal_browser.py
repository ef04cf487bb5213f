"""A customer opens the links of a real reminder in Chromium and acts on the portal."""

from __future__ import annotations

import re
from datetime import datetime

from tests.browser.conftest import LiveServer, eventually, screenshot
from tests.conftest import CUSTOMER, Inbox, invoice_body
from tests.portal_helpers import LONDON


def _reminder(live: LiveServer, inbox: Inbox) -> str:
    api = live.api
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code in (200, 201)
    created = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    assert created.status_code in (200, 201), created.text
    api.put(
        "/invoices/inv-1002",
        invoice_body(number="INV-1002", due_on="2026-12-20", amount_total="80.00"),
    )
    report = api.run_scheduler()
    assert eventually(lambda: inbox.mails), report
    return inbox.mails[-1].message.get_body(("html",)).get_content()


def _kinds(live: LiveServer) -> list[str]:
    return [e["kind"] for e in live.api.get("/invoices/inv-1001/timeline").json()]


def test_a_customer_promises_a_date_from_the_email(live: LiveServer, inbox: Inbox, page) -> None:  # type: ignore[no-untyped-def]
    html = _reminder(live, inbox)
    page.set_content(html)  # the email as the mail client shows it
    reply_link = page.get_by_role("link", name=re.compile("tell us|message|reply", re.I)).first
    href = reply_link.get_attribute("href")
    assert href and href.startswith(live.base_url + "/p/")
    page.goto(href)
    assert page.get_by_role("heading", name="Hello Harbour Street Bakery").is_visible()
    assert page.get_by_text("INV-1002").is_visible()
    screenshot(page, "portal")
    page.get_by_text("I will pay by a certain date").click()
    page.get_by_label("The date you will pay by").fill("2026-12-04")
    page.get_by_role("button", name="Promise to pay").click()
    assert page.get_by_role("heading", name="Thank you, that is agreed").is_visible()
    assert page.get_by_text("4 December 2026").is_visible()
    assert "promise.created" in _kinds(live)
    assert eventually(lambda: "your payment date, confirmed" in inbox.mails[-1].message["Subject"])


def test_bad_input_is_shown_next_to_the_field(live: LiveServer, inbox: Inbox, page) -> None:  # type: ignore[no-untyped-def]
    html = _reminder(live, inbox)
    href = re.search(r'href="([^"]+/p/[^"/]+)"', html)
    assert href
    page.goto(href.group(1))
    page.get_by_text("I would like to pay in instalments").click()
    page.get_by_label("Number of instalments").fill("40")
    page.get_by_label("First payment on").fill("2026-12-01")
    page.get_by_role("button", name="Show me the schedule").click()
    assert page.get_by_text("Please choose a number from 2 to 6.").is_visible()
    assert page.get_by_label("Number of instalments").get_attribute("aria-invalid") == "true"
    screenshot(page, "portal-error")
    page.get_by_label("Number of instalments").fill("3")
    page.get_by_role("button", name="Show me the schedule").click()
    assert page.get_by_role("heading", name=re.compile("Your payment plan")).is_visible()
    page.get_by_role("button", name="Confirm this plan").click()
    assert page.get_by_role("heading", name="Your payment plan is set up").is_visible()
    assert "plan.created" in _kinds(live)


def test_pay_button_goes_to_the_payment_page(live: LiveServer, inbox: Inbox, page) -> None:  # type: ignore[no-untyped-def]
    _reminder(live, inbox)
    # The payment provider is not on this machine; a page of the live server stands in for it.
    provider = f"{live.base_url}/healthz"
    live.api.put(
        "/invoices/inv-1001", {**invoice_body(due_on="2026-11-20"), "payment_url": provider}
    )
    live.api.set_clock(datetime(2026, 11, 30, 11, 0, tzinfo=LONDON))
    live.api.run_scheduler()
    html = inbox.mails[-1].message.get_body(("html",)).get_content()
    page.set_content(html)
    pay = page.get_by_role("link", name=re.compile("^Pay ")).first.get_attribute("href")
    assert pay and pay.endswith("/pay")
    page.goto(pay)
    assert page.url == provider
    assert "link.clicked" in _kinds(live)
