"""A finance person in Chromium: logs in, edits a reminder and sees it reach the customer."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.admin.conftest import PASSWORD, make_user
from tests.browser.conftest import LiveServer, eventually, screenshot
from tests.conftest import CUSTOMER, CapturedMail, Inbox, invoice_body
from tests.portal_helpers import THURSDAY_11

ANN = "ann@northwind.test"
EDITOR = "/admin/templates/en/overdue_3"
SHIPPED = "this is just a gentle nudge"
FIRST = "so here is a first friendly note from Ann in accounts"
SECOND = "so Ann from accounts is writing again about it"


def sign_in(page: Any, live: LiveServer, db: Engine, path: str = "/admin/dashboard") -> None:
    """Open an admin page, meet the login form, log in and land on that page."""
    make_user(db, "default", ANN)
    page.set_viewport_size({"width": 1280, "height": 900})  # a desk, not a phone
    page.goto(live.base_url + path)
    page.get_by_label("Email").fill(ANN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live.base_url + path)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(ANN)


def overdue_invoice(live: LiveServer, customer: str, email: str, invoice: str) -> None:
    """A customer with an invoice six days overdue on Thursday: next comes overdue_3."""
    api = live.api
    api.set_clock(THURSDAY_11)
    assert api.put(f"/customers/{customer}", {**CUSTOMER, "email": email, "cc": []}).is_success
    body = invoice_body(
        customer=customer, number=invoice.upper(), due_on="2026-11-20", amount_total="830.40"
    )
    assert api.put(f"/invoices/{invoice}", body).is_success


def send_overdue_3(live: LiveServer, inbox: Inbox, invoice: str) -> CapturedMail:
    before = len(inbox.mails)
    outcomes = live.api.run_scheduler()["outcomes"]
    assert [(o["invoice"], o["step"], o["result"]) for o in outcomes] == [
        (invoice, "overdue_3", "sent")
    ]
    assert eventually(lambda: len(inbox.mails) > before)
    return inbox.mails[-1]


def part(mail: CapturedMail, kind: str) -> str:
    body = mail.message.get_body((kind,))
    assert body is not None
    return str(body.get_content())


def reword(page: Any, old: str, new: str) -> None:
    """Change one sentence in the text and the HTML version, as a person would type it."""
    for label in ("Text version", "HTML version"):
        box = page.get_by_label(label, exact=True)
        source = box.input_value()
        assert old in source, f"{old!r} is not in the {label}"
        box.fill(source.replace(old, new))


def save(page: Any, flash: str) -> None:
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("status")).to_have_text(flash)


def test_an_anonymous_visitor_must_log_in_and_a_wrong_password_is_refused(
    live: LiveServer, db: Engine, page: Any
) -> None:
    make_user(db, "default", ANN)
    page.goto(f"{live.base_url}/admin/worklist")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/worklist$"))
    expect(page.get_by_role("heading", name="Log in to Politely")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)

    page.get_by_label("Email").fill(ANN)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That email and password do not match.")
    expect(page.get_by_label("Email")).to_have_value(ANN)
    expect(page.get_by_role("heading", name="Worklist")).to_have_count(0)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live.base_url}/admin/worklist")  # where they were going
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Politely")).to_be_visible()
    page.goto(f"{live.base_url}/admin/worklist")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/worklist$"))


def test_an_edited_template_reaches_the_customer_and_a_rollback_brings_back_the_old(
    live: LiveServer, db: Engine, inbox: Inbox, page: Any
) -> None:
    overdue_invoice(live, "bakery", "accounts@harbour-bakery.test", "inv-1001")
    sign_in(page, live, db, EDITOR)
    expect(page.get_by_text("Nobody has edited this email yet")).to_be_visible()

    reword(page, SHIPPED, FIRST)
    page.get_by_label("Note for the history (optional)").fill("a warmer first line")
    save(page, "Saved as version 1.")

    reword(page, FIRST, SECOND)
    picker = page.get_by_label("Preview and test on")
    choice = picker.locator("option", has_text="INV-1001").get_attribute("value")
    picker.select_option(choice)
    page.get_by_role("button", name="Preview", exact=True).click()
    preview = page.get_by_role(
        "region", name="Preview on invoice INV-1001 of Harbour Street Bakery"
    )
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("Subject: Invoice INV-1001 from Northwind Supplies")
    text = preview.locator("pre")
    for shown in (SECOND, "INV-1001", "£830.40"):
        expect(text).to_contain_text(shown)
    expect(text).not_to_contain_text(FIRST)
    email = page.frame_locator('iframe[title="HTML version of the email"]').locator("body")
    expect(email).to_contain_text(SECOND)
    expect(email).to_contain_text("£830.40")
    expect(picker).to_have_value(choice)  # the draft and the choice stay for the next step
    expect(page.get_by_label("Text version", exact=True)).to_have_value(re.compile(SECOND))
    # Chromium paints the email's iframe after the page: an element shot waits for it.
    page.get_by_title("HTML version of the email").screenshot()
    screenshot(page, "admin-template-editor")
    save(page, "Saved as version 2.")
    expect(page.get_by_text("In use: version 2, saved by ann@northwind.test")).to_be_visible()

    mail = send_overdue_3(live, inbox, "inv-1001")
    assert mail.recipients == ["accounts@harbour-bakery.test"]
    for kind in ("plain", "html"):
        assert SECOND in part(mail, kind) and FIRST not in part(mail, kind)
        assert SHIPPED not in part(mail, kind)

    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("row")).to_have_count(3)  # a header and two versions
    expect(history).to_contain_text("a warmer first line")
    history.get_by_role("button", name="Roll back to version 1").click()
    expect(page.get_by_role("status")).to_have_text("Rolled back to version 1, saved as version 3.")
    expect(page.get_by_label("Text version", exact=True)).to_have_value(re.compile(FIRST))

    overdue_invoice(live, "cafe", "orders@corner-cafe.test", "inv-2001")
    mail = send_overdue_3(live, inbox, "inv-2001")
    assert mail.recipients == ["orders@corner-cafe.test"]
    for kind in ("plain", "html"):
        assert FIRST in part(mail, kind) and SECOND not in part(mail, kind)


def test_the_sandbox_and_syntax_errors_are_refused_with_the_reason(
    live: LiveServer, db: Engine, page: Any
) -> None:
    sign_in(page, live, db, EDITOR)
    text = page.get_by_label("Text version", exact=True)
    alert = page.get_by_role("alert")

    escape = "Dear customer,\n{{ ''.__class__.__mro__ }}\n"
    text.fill(escape)
    page.get_by_role("button", name="Save as a new version").click()
    expect(alert).to_contain_text("This template cannot be used. Nothing was saved or sent.")
    expect(alert).to_contain_text("en/overdue_3.txt, line 2")
    expect(alert).to_contain_text("not allowed in a template")
    expect(alert).to_contain_text("'__class__' of 'str'")
    expect(text).to_have_value(escape)  # kept, to be fixed

    broken = "Dear customer,\n\nInvoice {{ invoice.number }}.\n{% if %}\nThanks\n"
    text.fill(broken)
    page.get_by_role("button", name="Save as a new version").click()
    expect(alert).to_contain_text("en/overdue_3.txt, line 4: syntax error")
    expect(alert).to_contain_text("Expected an expression")
    expect(text).to_have_value(broken)

    page.goto(live.base_url + EDITOR)
    expect(page.get_by_text("Nobody has edited this email yet")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Roll back"))).to_have_count(0)
    expect(page.get_by_label("Text version", exact=True)).to_have_value(re.compile(SHIPPED))
