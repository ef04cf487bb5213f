"""The customer's side: following the links of a real reminder and using the portal."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.links import sign_link
from app.settings import Settings
from app.worklist.models import WorklistItem
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.portal_helpers import LONDON, csrf_of, kinds, reminder_links


def _post(api: Api, path: str, fields: dict[str, str], *, csrf_from: str | None = None) -> object:
    page = api.client.get(csrf_from or path.rsplit("/", 1)[0])
    return api.client.post(
        path, data={"csrf_token": csrf_of(page.text), "invoice": "inv-1001", **fields}
    )


def _worklist(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [i.kind for i in session.exec(select(WorklistItem).order_by(WorklistItem.id))]


def _last_text(inbox: Inbox) -> str:
    return inbox.mails[-1].message.get_body(("plain",)).get_content()


def test_pay_link_records_the_click_and_redirects_to_the_payment_page(
    api: Api, inbox: Inbox
) -> None:
    links = reminder_links(api, inbox)
    response = api.client.get(links["pay"], follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://pay.example.test/inv-1001"
    assert kinds(api)[-1] == "link.clicked"


def test_pay_link_without_a_payment_url_shows_the_payment_details(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    from app.organisations.models import Organisation

    with session_scope(db) as session:
        organisation = session.exec(select(Organisation)).first()
        assert organisation is not None
        organisation.payment_instructions = "IBAN GB33 BUKB 2020 1555 5555 55"
        session.add(organisation)
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", {**invoice_body(due_on="2026-11-20"), "payment_url": None})
    api.run_scheduler()
    from tests.portal_helpers import links_in

    links = links_in(_last_text(inbox))
    page = api.client.get(links["pay"])
    assert page.status_code == 200
    assert "IBAN GB33 BUKB 2020 1555 5555 55" in page.text and "INV-1001" in page.text


def test_the_portal_lists_the_customers_open_invoices(api: Api, inbox: Inbox) -> None:
    links = reminder_links(api, inbox)
    api.put(
        "/invoices/inv-1002",
        invoice_body(number="INV-1002", due_on="2026-12-20", amount_total="80.00"),
    )
    page = api.client.get(links["portal"])
    assert page.status_code == 200
    assert "INV-1001" in page.text and "INV-1002" in page.text
    assert "£1,250.00" in page.text and "£80.00" in page.text
    assert "<script" not in page.text and "http://" not in page.text  # no external assets
    assert page.headers["cache-control"] == "no-store"


def test_promise_pauses_then_a_broken_promise_resumes_with_we_had_agreed(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    links = reminder_links(api, inbox)
    done = _post(
        api, links["portal"] + "/promise", {"promised_on": "2026-12-04"}, csrf_from=links["portal"]
    )
    assert done.status_code == 200 and "4 December 2026" in done.text
    assert "your payment date, confirmed" in inbox.mails[-1].message["Subject"]
    assert "4 December 2026" in _last_text(inbox)
    invoice = api.get("/invoices/inv-1001").json()
    assert invoice["reminders"]["state"] == "promised"
    # No reminders until the date plus two days' grace; then it is broken.
    for day in range(27, 31):
        api.set_clock(datetime(2026, 11, day, 10, 0, tzinfo=LONDON))
        api.run_scheduler()
    api.set_clock(datetime(2026, 12, 4, 10, 0, tzinfo=LONDON))
    assert api.run_scheduler()["outcomes"] == []
    mails_before = len(inbox.mails)
    api.set_clock(datetime(2026, 12, 7, 10, 0, tzinfo=LONDON))
    report = api.run_scheduler()
    assert [o["result"] for o in report["outcomes"]] == ["sent"]
    assert len(inbox.mails) == mails_before + 1
    text = _last_text(inbox)
    assert "4 December 2026" in text and "£1,250.00" in text
    assert "promise.broken" in kinds(api)
    assert "broken_promise" in _worklist(db)
    assert api.get("/customers/bakery").status_code == 200


def test_a_kept_promise_stops_there(api: Api, inbox: Inbox) -> None:
    links = reminder_links(api, inbox)
    _post(
        api, links["portal"] + "/promise", {"promised_on": "2026-12-04"}, csrf_from=links["portal"]
    )
    api.set_clock(datetime(2026, 12, 3, 15, 0, tzinfo=LONDON))
    before = len(inbox.mails)
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    assert "promise.kept" in kinds(api)
    for day in range(4, 20):
        api.set_clock(datetime(2026, 12, day, 10, 0, tzinfo=LONDON))
        api.run_scheduler()
    subjects = [m.message["Subject"] for m in inbox.mails[before:]]
    assert subjects == ["Invoice INV-1001 from Northwind Supplies: thank you for your payment"]


def test_bad_promise_input_is_explained_and_nothing_is_stored(api: Api, inbox: Inbox) -> None:
    links = reminder_links(api, inbox)
    cases = [
        ({"promised_on": "2027-03-01"}, "no later than"),
        ({"promised_on": "2026-11-01"}, "today or a later date"),
        ({"promised_on": "next week"}, "Please enter a date"),
        ({"promised_on": "2026-12-01", "amount": "99999.00"}, "at most 1250.00"),
    ]
    for fields, message in cases:
        page = _post(api, links["portal"] + "/promise", fields, csrf_from=links["portal"])
        assert page.status_code == 422, fields
        assert message in page.text, (fields, message)
        assert 'aria-invalid="true"' in page.text
    assert "promise.created" not in kinds(api)
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    assert len(inbox.mails) == 1


def test_payment_plan_preview_then_confirm_then_instalments_are_reminded(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    links = reminder_links(api, inbox)
    fields = {"count": "3", "frequency": "monthly", "first_on": "2026-12-01"}
    preview = _post(api, links["portal"] + "/plan/preview", fields, csrf_from=links["portal"])
    assert preview.status_code == 200
    assert "1 December 2026" in preview.text and "1 February 2027" in preview.text
    assert "£416.66" in preview.text and "£416.68" in preview.text
    assert "plan.created" not in kinds(api)  # a preview stores nothing
    confirmed = _post(api, links["portal"] + "/plan", fields, csrf_from=links["portal"])
    assert confirmed.status_code == 200
    assert "plan.created" in kinds(api)
    assert "your payment plan" in inbox.mails[-1].message["Subject"].lower()
    schedule = [s["step"] for s in api.get("/invoices/inv-1001/schedule").json()["steps"]]
    assert schedule[:3] == ["plan1_i1_upcoming", "plan1_i1_due", "plan1_i1_overdue"]
    # The first instalment is reminded before it is due, then paid: the second is next.
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))  # Friday, -4 days: nothing yet
    assert api.run_scheduler()["outcomes"] == []
    api.set_clock(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))
    assert [o["step"] for o in api.run_scheduler()["outcomes"]] == ["plan1_i1_upcoming"]
    assert "£416.66" in _last_text(inbox)
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "416.66"})
    schedule = [s["step"] for s in api.get("/invoices/inv-1001/schedule").json()["steps"]]
    assert schedule[0] == "plan1_i2_upcoming"
    # The second is missed: the plan ends as a broken promise and the ladder resumes.
    for day in range(1, 20):
        api.set_clock(datetime(2026, 12, 28, 10, 0, tzinfo=LONDON) + timedelta(days=day))
        api.run_scheduler()
    assert "promise.broken" in kinds(api)
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    assert "broken_promise" in _worklist(db)


def test_a_plan_outside_the_policy_is_refused(api: Api, inbox: Inbox) -> None:
    links = reminder_links(api, inbox)
    for fields, field, message in [
        ({"count": "12", "frequency": "monthly", "first_on": "2026-12-01"}, "count", "from 2 to 6"),
        (
            {"count": "3", "frequency": "daily", "first_on": "2026-12-01"},
            "frequency",
            "choose one of the options",
        ),
        (
            {"count": "3", "frequency": "monthly", "first_on": "2027-06-01"},
            "first_on",
            "first payment date between",
        ),
    ]:
        page = _post(api, links["portal"] + "/plan/preview", fields, csrf_from=links["portal"])
        assert page.status_code == 422, fields
        assert message in page.text, (field, page.text[-2000:])
    assert "plan.created" not in kinds(api)


def test_dispute_pauses_until_a_person_resolves_it(api: Api, inbox: Inbox, db: Engine) -> None:
    links = reminder_links(api, inbox)
    done = _post(
        api,
        links["portal"] + "/dispute",
        {"reason": "wrong_amount", "message": "We ordered 40 loaves, not 50 <b>."},
        csrf_from=links["portal"],
    )
    assert done.status_code == 200
    assert "dispute.opened" in kinds(api)
    assert "We ordered 40 loaves, not 50 <b>." in _last_text(inbox)
    assert api.get("/invoices/inv-1001").json()["reminders"] == {"state": "disputed", "next": None}
    before = len(inbox.mails)
    for day in range(1, 40):
        api.set_clock(datetime(2026, 11, 26, 10, 0, tzinfo=LONDON) + timedelta(days=day))
        api.run_scheduler()
    assert len(inbox.mails) == before
    assert "dispute" in _worklist(db)
    api.post("/invoices/inv-1001/resume")
    assert "dispute.resolved" in kinds(api)


def test_a_message_pauses_for_the_reply_days_and_reaches_the_worklist(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    links = reminder_links(api, inbox)
    done = _post(
        api,
        links["portal"] + "/message",
        {"message": "Can you resend the invoice?"},
        csrf_from=links["portal"],
    )
    assert done.status_code == 200
    timeline = api.get("/invoices/inv-1001/timeline").json()
    reply = next(e for e in timeline if e["kind"] == "reply.received")
    assert reply["data"]["text"] == "Can you resend the invoice?"
    assert reply["data"]["channel"] == "portal"
    invoice = api.get("/invoices/inv-1001").json()
    assert invoice["reminders"]["state"] == "paused"
    assert invoice["reminders"]["next"]["send_at"] >= "2026-12-01"
    assert "reply" in _worklist(db)
    empty = _post(api, links["portal"] + "/message", {"message": "  "}, csrf_from=links["portal"])
    assert empty.status_code == 422 and "Please fill this in." in empty.text


def test_ive_paid_pauses_and_asks_a_person_to_check_the_bank(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    links = reminder_links(api, inbox)
    done = _post(
        api,
        links["portal"] + "/paid",
        {"paid_on": "2026-11-25", "amount": "1250.00", "reference": "BACS 4471"},
        csrf_from=links["portal"],
    )
    assert done.status_code == 200
    assert "payment.claimed" in kinds(api)
    assert "paid_claim" in _worklist(db)
    assert "BACS 4471" in _last_text(inbox)
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "paused"
    future = _post(
        api,
        links["portal"] + "/paid",
        {"paid_on": "2027-01-01", "amount": "1.00"},
        csrf_from=links["portal"],
    )
    assert future.status_code == 422 and "cannot be in the future" in future.text


def test_stop_reminder_emails_from_the_portal_and_one_click(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    links = reminder_links(api, inbox)
    # A GET of the unsubscribe URL (a link scanner) changes nothing.
    assert api.client.get(links["unsubscribe"]).status_code == 200
    assert "contact.unsubscribed" not in [e["kind"] for e in _customer_events(db)]
    one_click = api.client.post(
        links["unsubscribe"],
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert "contact.unsubscribed" in [e["kind"] for e in _customer_events(db)]
    assert "opted_out" in _worklist(db)
    before = len(inbox.mails)
    for day in range(1, 30):
        api.set_clock(datetime(2026, 11, 26, 10, 0, tzinfo=LONDON) + timedelta(days=day))
        api.run_scheduler()
    assert len(inbox.mails) == before
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "opted_out"


def _customer_events(engine: Engine) -> list[dict[str, object]]:
    from app.timeline.models import Event

    with session_scope(engine) as session:
        return [{"kind": e.kind} for e in session.exec(select(Event))]


def test_forms_without_the_csrf_token_change_nothing(api: Api, inbox: Inbox) -> None:
    links = reminder_links(api, inbox)
    forged = api.client.post(
        links["portal"] + "/promise", data={"invoice": "inv-1001", "promised_on": "2026-12-04"}
    )
    assert forged.status_code == 403
    wrong = api.client.post(
        links["portal"] + "/promise",
        data={"csrf_token": "x" * 64, "invoice": "inv-1001", "promised_on": "2026-12-04"},
    )
    assert wrong.status_code == 403
    assert "promise.created" not in kinds(api)


def test_bad_links_get_the_no_longer_valid_page_and_change_nothing(
    api: Api, inbox: Inbox, db: Engine, settings: Settings
) -> None:
    links = reminder_links(api, inbox)
    portal = links["portal"]
    tampered = portal[:-3] + ("AAA" if not portal.endswith("AAA") else "BBB")
    page = api.client.get(tampered)
    assert page.status_code == 404 and "This link no longer works" in page.text
    expired_token = sign_link(
        settings.secret_key,
        organisation_id=1,
        customer_id=1,
        invoice_id=1,
        purpose="portal",
        max_age_days=1,
        issued_at=time.time() - 3 * 86400,
    )
    expired = api.client.get(f"/p/{expired_token}")
    assert expired.status_code == 410 and "has expired" in expired.text
    # Customer A's link used on customer B's invoice.
    api.put("/customers/other", {**CUSTOMER, "email": "ap@other.test", "cc": []})
    api.put("/invoices/theirs", invoice_body(customer="other", number="B-1"))
    foreign = api.client.get(portal + "?invoice=theirs")
    assert foreign.status_code == 404 and "B-1" not in foreign.text
    page = api.client.get(portal)
    post = api.client.post(
        portal + "/promise",
        data={"csrf_token": csrf_of(page.text), "invoice": "theirs", "promised_on": "2026-12-04"},
    )
    assert post.status_code == 404
    assert "promise.created" not in kinds(api, "theirs")
    # A pay link is not a portal link.
    assert api.client.get(links["pay"].removesuffix("/pay")).status_code == 404
    # Another organisation's link never opens this one's data.
    other_key = api_key_for(db, "acme")
    assert other_key  # exists, but links are signed per customer, not per key
    assert api.client.post(tampered + "/promise", data={}).status_code == 404


def test_thank_you_rating_is_recorded(api: Api, inbox: Inbox) -> None:
    reminder_links(api, inbox)
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    from tests.portal_helpers import links_in

    text = _last_text(inbox)
    assert "thank you" in inbox.mails[-1].message["Subject"]
    rate_paths = [p for p in links_in(text).values() if "/rate" in p]
    assert rate_paths
    import re

    four = re.search(r"(/p/[^\s]+/rate\?score=4)", text)
    assert four
    page = api.client.get(four.group(1))
    assert page.status_code == 200 and 'value="4" checked' in page.text
    assert "rating.received" not in kinds(api)  # opening the link stores nothing
    token_path = four.group(1).split("?")[0]
    sent = api.client.post(
        token_path,
        data={"csrf_token": csrf_of(page.text), "score": "4", "comment": "Friendly throughout"},
    )
    assert sent.status_code == 200 and "4 out of 5" in sent.text
    rating = [
        e for e in api.get("/invoices/inv-1001/timeline").json() if e["kind"] == "rating.received"
    ]
    assert rating[0]["data"] == {"score": 4, "comment": "Friendly throughout"}


@pytest.mark.parametrize("path", ["/paid", "/promise", "/plan/preview", "/dispute", "/message"])
def test_every_action_refuses_empty_input(api: Api, inbox: Inbox, path: str) -> None:
    links = reminder_links(api, inbox)
    page = _post(api, links["portal"] + path, {}, csrf_from=links["portal"])
    assert page.status_code == 422
    assert "nothing has been saved" in page.text
    assert len(kinds(api)) == 3  # created, reminder sent, portal opened
