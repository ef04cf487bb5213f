"""End to end: a customer and an invoice pushed by API, the test clock moved day by day,
the scheduler run each day, and the emails that reached a real SMTP server read back."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
LADDER = [
    "upcoming",
    "due_today",
    "overdue_3",
    "overdue_10",
    "overdue_21",
    "overdue_31",
    "final_notice",
]


def _run_days(api: Api, start: date, days: int, at: time = time(10, 0)) -> list[dict]:
    reports = []
    for offset in range(days):
        api.set_clock(datetime.combine(start + timedelta(days=offset), at, tzinfo=LONDON))
        reports.append(api.run_scheduler())
    return reports


def _step_of(api: Api, message_id: str) -> str:
    events = api.get("/invoices/inv-1001/timeline").json()
    return next(
        e["data"]["step"]
        for e in events
        if e["kind"] == "reminder.sent" and e["data"]["message_id"] == message_id
    )


def test_whole_ladder_reaches_the_customer_on_the_right_days(api: Api, inbox: Inbox) -> None:
    today = date(2026, 11, 23)  # a Monday
    api.set_clock(datetime.combine(today, time(8, 0), tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code == 201
    due = today + timedelta(days=3)
    created = api.put("/invoices/inv-1001", invoice_body(due_on=due.isoformat()))
    assert created.status_code == 201, created.text

    _run_days(api, today, 100)

    steps = [_step_of(api, m.message["Message-ID"]) for m in inbox.mails]
    assert steps == LADDER
    sent_days = []
    for mail in inbox.mails:
        local = mail.message["Date"].datetime.astimezone(LONDON)
        assert time(9) <= local.time() < time(17), local
        assert local.isoweekday() <= 5, local
        sent_days.append(local.date())
    # Each step on its day, or the next working day in England (weekends, Christmas, New Year).
    assert sent_days == [
        date(2026, 11, 23),
        date(2026, 11, 26),
        date(2026, 11, 30),
        date(2026, 12, 7),
        date(2026, 12, 17),
        date(2026, 12, 29),
        date(2027, 1, 25),
    ]
    tones = [
        e["data"]["tone"]
        for e in api.get("/invoices/inv-1001/timeline").json()
        if e["kind"] == "reminder.sent"
    ]
    assert tones == ["friendly", "friendly", "gentle", "gentle", "firm", "firm", "final"]
    invoice = api.get("/invoices/inv-1001").json()
    assert invoice["reminders"] == {"state": "escalated", "next": None}
    last = api.get("/invoices/inv-1001/timeline").json()[-1]
    assert last["kind"] == "invoice.escalated"
    assert datetime.fromisoformat(last["at"]).astimezone(LONDON).date() == date(2027, 2, 24)
    final = inbox.mails[-1].message.get_body(("plain",)).get_content()
    assert "24 February 2027" in final  # when the account goes to collections (+90, Wed)
    for mail in inbox.mails:
        assert mail.recipients == ["accounts@harbour-bakery.test", "owner@harbour-bakery.test"]
        assert "£1,250.00" in mail.message.get_body(("plain",)).get_content()


def test_every_email_is_well_formed_and_threads(api: Api, inbox: Inbox) -> None:
    today = date(2026, 11, 23)
    api.set_clock(datetime.combine(today, time(8, 0), tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    _run_days(api, today, 12)
    assert len(inbox.mails) == 3
    ids = [m.message["Message-ID"] for m in inbox.mails]
    assert len(set(ids)) == 3
    for index, mail in enumerate(inbox.mails):
        message = mail.message
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Unsubscribe"].startswith("<https://politely.test/p/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "INV-1001" in message["Subject"]
        assert message["From"].addresses[0].addr_spec == "accounts@northwind.test"
        if index:
            assert message["In-Reply-To"] == ids[index - 1]
            assert message["References"].split() == ids[:index]
        else:
            assert message["In-Reply-To"] is None
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert "https://politely.test/p/" in html and "https://politely.test/p/" in text
        assert "{{" not in html + text and "&amp;" not in text
    subjects = {m.message["Subject"] for m in inbox.mails}
    assert all("INV-1001" in s for s in subjects)


def test_payment_between_steps_stops_everything(api: Api, inbox: Inbox) -> None:
    today = date(2026, 11, 23)
    api.set_clock(datetime.combine(today, time(8, 0), tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    _run_days(api, today, 5)
    assert len(inbox.mails) == 2
    paid = api.post(
        "/invoices/inv-1001/payments",
        {"external_id": "pay-1", "amount": "1250.00", "paid_at": "2026-11-27T15:00:00+00:00"},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["invoice"]["status"] == "paid"
    _run_days(api, today + timedelta(days=5), 95)
    # Nothing more but the thank-you for paying, with its rating links.
    assert len(inbox.mails) == 3
    assert inbox.mails[2].message["Subject"].startswith("Invoice INV-1001 from Northwind")
    assert "/rate?score=5" in inbox.mails[2].message.get_body(("plain",)).get_content()
    kinds = [e["kind"] for e in api.get("/invoices/inv-1001/timeline").json()]
    assert kinds.count("reminder.sent") == 2 and kinds[-1] == "notice.sent"
    assert api.get("/invoices/inv-1001").json()["reminders"] == {"state": "paid", "next": None}
    assert api.get("/invoices/inv-1001/schedule").json()["steps"] == []


def test_partial_payment_changes_the_amount_in_the_next_email(api: Api, inbox: Inbox) -> None:
    today = date(2026, 11, 23)
    api.set_clock(datetime.combine(today, time(8, 0), tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    _run_days(api, today, 4)
    assert len(inbox.mails) == 2
    response = api.post(
        "/invoices/inv-1001/payments", {"external_id": "pay-1", "amount": "1000.00"}
    )
    assert response.json()["invoice"]["amount_due"] == "250.00"
    _run_days(api, today + timedelta(days=4), 4)
    assert len(inbox.mails) == 3
    text = inbox.mails[-1].message.get_body(("plain",)).get_content()
    assert "£250.00" in text
    assert "£1,250.00" in inbox.mails[0].message.get_body(("plain",)).get_content()


def test_void_stops_everything(api: Api, inbox: Inbox) -> None:
    today = date(2026, 11, 23)
    api.set_clock(datetime.combine(today, time(8, 0), tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    _run_days(api, today, 1)
    assert len(inbox.mails) == 1
    voided = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26", status="void"))
    assert voided.json()["reminders"] == {"state": "void", "next": None}
    _run_days(api, today + timedelta(days=1), 99)
    assert len(inbox.mails) == 1
    kinds = [e["kind"] for e in api.get("/invoices/inv-1001/timeline").json()]
    assert kinds == ["invoice.created", "reminder.sent", "invoice.voided"]


def test_running_twice_at_the_same_instant_sends_nothing_new(api: Api, inbox: Inbox) -> None:
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    first = api.run_scheduler()
    second = api.run_scheduler()
    assert [o["result"] for o in first["outcomes"]] == ["sent"]
    assert second["outcomes"] == []
    assert len(inbox.mails) == 1


def test_late_import_sends_only_the_latest_due_step(api: Api, inbox: Inbox) -> None:
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-10"))
    report = api.run_scheduler()
    assert [(o["step"], o["result"]) for o in report["outcomes"]] == [("overdue_10", "sent")]
    assert len(inbox.mails) == 1


def test_nothing_is_sent_outside_the_window(api: Api, inbox: Inbox) -> None:
    api.put("/customers/bakery", CUSTOMER)
    api.set_clock(datetime(2026, 11, 26, 3, 0, tzinfo=LONDON))
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    assert api.run_scheduler()["outcomes"] == []
    api.set_clock(datetime(2026, 11, 26, 17, 30, tzinfo=LONDON))
    api.put("/invoices/inv-1002", invoice_body(number="INV-1002", due_on="2026-11-25"))
    assert api.run_scheduler()["outcomes"] == []
    assert inbox.mails == []
