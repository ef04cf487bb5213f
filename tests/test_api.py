"""The REST contract: upserts, validation errors, money, auth, tenancy, pause, batch."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from tests.conftest import CUSTOMER, Api, api_key_for, invoice_body

LONDON = ZoneInfo("Europe/London")


def _setup(api: Api) -> None:
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    assert api.put("/customers/bakery", CUSTOMER).status_code == 201


def test_customer_upsert_creates_then_updates(api: Api) -> None:
    _setup(api)
    again = api.put("/customers/bakery", {**CUSTOMER, "name": "Harbour St. Bakery Ltd"})
    assert again.status_code == 200
    body = api.get("/customers/bakery").json()
    assert body["name"] == "Harbour St. Bakery Ltd"
    assert body["email"] == "accounts@harbour-bakery.test"
    assert body["cc"] == ["owner@harbour-bakery.test"]


def test_invoice_round_trip_and_next_reminder(api: Api) -> None:
    _setup(api)
    created = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    assert created.status_code == 201
    body = api.get("/invoices/inv-1001").json()
    assert body["amount_total"] == "1250.00" and body["amount_due"] == "1250.00"
    assert body["status"] == "open"
    assert body["reminders"]["state"] == "active"
    assert body["reminders"]["next"] == {"step": "upcoming", "send_at": "2026-11-23T09:00:00Z"}
    updated = api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26", amount_due="200"))
    assert updated.status_code == 200 and updated.json()["amount_due"] == "200.00"


def test_schedule_lists_every_future_step_in_local_time(api: Api) -> None:
    _setup(api)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    schedule = api.get("/invoices/inv-1001/schedule").json()
    assert schedule["timezone"] == "Europe/London"
    assert [s["step"] for s in schedule["steps"]] == [
        "upcoming",
        "due_today",
        "overdue_3",
        "overdue_10",
        "overdue_21",
        "overdue_31",
        "final_notice",
        "escalate",
    ]
    assert schedule["steps"][2]["local_send_at"] == "2026-11-30T09:00:00+00:00"


def test_money_is_never_a_float(api: Api) -> None:
    _setup(api)
    response = api.put("/invoices/inv-1001", invoice_body(amount_total=1250.5))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "amount_total"
    assert "decimal string" in response.json()["detail"][0]["msg"]
    too_precise = api.put("/invoices/inv-1001", invoice_body(amount_total="10.555"))
    assert too_precise.status_code == 422
    assert "at most 2 decimal places" in too_precise.text
    yen = api.put("/invoices/inv-jp", invoice_body(currency="JPY", amount_total="1200.5"))
    assert yen.status_code == 422
    assert api.get("/invoices/inv-1001").status_code == 404


def test_validation_errors_name_the_field_and_store_nothing(api: Api) -> None:
    _setup(api)
    cases = [
        ({"due_on": "31/12/2026"}, "due_on"),
        ({"currency": "EURO"}, "currency"),
        ({"status": "paid"}, "status"),
        ({"payment_url": "javascript:alert(1)"}, "payment_url"),
        ({"number": "INV\r\nBcc: x@evil.test"}, "number"),
        ({"amount_due": "2000.00"}, "amount_due"),
    ]
    cases += [
        ({"amount_due": "-1.00"}, "amount_due"),
        ({"amount_total": "0.00"}, "amount_total"),
        ({"amount_total": "12345678901234.00"}, "amount_total"),  # beyond 13 digits
        ({"due_on": "0001-01-02"}, "due_on"),
        ({"due_on": "2026-08-01"}, "due_on"),  # before issued_on
        ({"number": "INV\x00-1"}, "number"),
        ({"currency": "XXX"}, "currency"),
        ({"payment_url": "https://"}, "payment_url"),
    ]
    for change, field in cases:
        response = api.put("/invoices/inv-bad", invoice_body(**change))
        assert response.status_code == 422, (change, response.text)
        assert [e["loc"][-1] for e in response.json()["detail"]] == [field], response.text
    unknown_customer = api.put("/invoices/inv-bad", invoice_body(customer="nobody"))
    assert unknown_customer.status_code == 422
    assert unknown_customer.json()["detail"][0]["loc"] == ["body", "customer"]
    assert api.get("/invoices/inv-bad").status_code == 404
    bad_customer = api.put(
        "/customers/c2", {**CUSTOMER, "email": "not-an-address", "timezone": "Mars/Olympus"}
    )
    assert bad_customer.status_code == 422
    assert {e["loc"][-1] for e in bad_customer.json()["detail"]} == {"email", "timezone"}
    assert api.get("/customers/c2").status_code == 404


def test_unknown_ids_are_404(api: Api) -> None:
    _setup(api)
    for path in (
        "/invoices/nope",
        "/invoices/nope/schedule",
        "/invoices/nope/timeline",
        "/customers/nope",
    ):
        assert api.get(path).status_code == 404
    assert (
        api.post("/invoices/nope/payments", {"external_id": "p", "amount": "1.00"}).status_code
        == 404
    )


def test_requests_without_a_valid_key_are_refused(api: Api) -> None:
    assert api.client.get("/api/v1/invoices/x").status_code == 401
    wrong = api.client.get("/api/v1/invoices/x", headers={"Authorization": "Bearer pk_wrong"})
    assert wrong.status_code == 401


def test_another_organisations_objects_are_404(api: Api, db: Engine) -> None:
    _setup(api)
    api.put("/invoices/inv-1001", invoice_body())
    other = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    assert other.get("/invoices/inv-1001").status_code == 404
    assert other.get("/customers/bakery").status_code == 404
    assert other.get("/invoices/inv-1001/timeline").status_code == 404
    assert (
        other.post(
            "/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"}
        ).status_code
        == 404
    )
    assert other.post("/invoices/inv-1001/pause", {}).status_code == 404
    # The same external ids are free for the other organisation to use.
    assert other.put("/customers/bakery", CUSTOMER).status_code == 201
    assert other.put("/invoices/inv-1001", invoice_body(amount_total="5.00")).status_code == 201
    assert api.get("/invoices/inv-1001").json()["amount_total"] == "1250.00"


def test_payments_are_idempotent(api: Api) -> None:
    _setup(api)
    api.put("/invoices/inv-1001", invoice_body())
    first = api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "250.00"})
    again = api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "250.00"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["invoice"]["amount_due"] == "1000.00"
    clash = api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "9.00"})
    assert clash.status_code == 409
    assert (
        api.post("/invoices/inv-1001/payments", {"external_id": "p2", "amount": 5.0}).status_code
        == 422
    )
    assert (
        api.post("/invoices/inv-1001/payments", {"external_id": "p3", "amount": "0"}).status_code
        == 422
    )
    events = [e["kind"] for e in api.get("/invoices/inv-1001/timeline").json()]
    assert events.count("payment.received") == 1


def test_pause_and_resume(api: Api) -> None:
    _setup(api)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-26"))
    paused = api.post("/invoices/inv-1001/pause", {"until": "2026-12-10", "reason": "on holiday"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["reminders"]["state"] == "paused"
    assert paused.json()["reminders"]["next"] == {
        "step": "overdue_10",
        "send_at": "2026-12-10T09:00:00Z",
    }
    resumed = api.post("/invoices/inv-1001/resume")
    assert resumed.json()["reminders"]["state"] == "active"
    assert resumed.json()["reminders"]["next"]["step"] == "upcoming"
    past = api.post("/invoices/inv-1001/pause", {"until": "2026-11-01T00:00:00Z"})
    assert past.status_code == 422 and "until" in past.text
    forever = api.post("/invoices/inv-1001/pause", {"reason": "talking to them"})
    assert forever.json()["reminders"] == {"state": "paused", "next": None}
    kinds = [e["kind"] for e in api.get("/invoices/inv-1001/timeline").json()]
    assert kinds == ["invoice.created", "invoice.paused", "invoice.resumed", "invoice.paused"]


def test_batch_reports_each_row(api: Api) -> None:
    _setup(api)
    rows = [
        {**invoice_body(number="A-1"), "external_id": "a1"},
        {**invoice_body(number="A-2", amount_total=3.5), "external_id": "a2"},
        {**invoice_body(number="A-3", customer="ghost"), "external_id": "a3"},
        {"external_id": "a4"},
    ]
    response = api.post("/invoices/batch", {"invoices": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["rejected"]) == (1, 0, 3)
    results = body["results"]
    assert results[0]["result"] == "created"
    assert results[1]["errors"][0]["loc"][-1] == "amount_total"
    assert results[2]["errors"][0]["loc"] == ["customer"]
    assert api.get("/invoices/a1").status_code == 200
    assert api.get("/invoices/a2").status_code == 404
    again = api.post("/invoices/batch", {"invoices": rows[:1]}).json()
    assert again["updated"] == 1


def test_large_amounts_fit(api: Api) -> None:
    _setup(api)
    big = api.put("/invoices/big", invoice_body(amount_total="9999999999999.99"))
    assert big.status_code == 201, big.text
    assert big.json()["amount_due"] == "9999999999999.99"
    paid = api.post("/invoices/big/payments", {"external_id": "p", "amount": "9999999999999.00"})
    assert paid.status_code == 201 and paid.json()["invoice"]["amount_due"] == "0.99"


def test_an_unknown_policy_or_a_far_pause_is_refused(api: Api) -> None:
    _setup(api)
    unknown = api.put("/customers/bakery", {**CUSTOMER, "policy": "gentle-ish"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"][-1] == "policy"
    api.put("/invoices/inv-1001", invoice_body())
    far = api.post("/invoices/inv-1001/pause", {"until": "9999-12-31T23:59:59Z"})
    assert far.status_code == 422 and far.json()["detail"][0]["loc"][-1] == "until"


def test_a_resent_invoice_never_undoes_a_recorded_payment(api: Api) -> None:
    _setup(api)
    body = invoice_body(amount_due="1250.00")
    api.put("/invoices/inv-1001", body)
    api.post("/invoices/inv-1001/payments", {"external_id": "p1", "amount": "1250.00"})
    again = api.put("/invoices/inv-1001", body)
    assert again.json()["status"] == "paid" and again.json()["amount_due"] == "0.00"
    assert again.json()["reminders"] == {"state": "paid", "next": None}
    # A larger total (a corrected invoice) does reopen it for the difference.
    more = api.put("/invoices/inv-1001", invoice_body(amount_total="1300.00"))
    assert more.json()["status"] == "open" and more.json()["amount_due"] == "50.00"


def test_batch_rows_that_are_not_objects_are_rejected_one_by_one(api: Api) -> None:
    _setup(api)
    rows = [{**invoice_body(number="A-1"), "external_id": "a1"}, "not a row", 7]
    body = api.post("/invoices/batch", {"invoices": rows}).json()
    assert [r["result"] for r in body["results"]] == ["created", "rejected", "rejected"]


def test_scheduler_run_reports_only_the_callers_invoices(api: Api, db: Engine) -> None:
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/mine", invoice_body(due_on="2026-11-26"))
    other = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    other.put("/customers/bakery", {**CUSTOMER, "email": "ap@acme-customer.test", "cc": []})
    other.put("/invoices/theirs", invoice_body(due_on="2026-11-26"))
    report = other.run_scheduler()
    assert [o["invoice"] for o in report["outcomes"]] == ["theirs"]
    assert api.get("/invoices/mine/timeline").json()[-1]["kind"] == "reminder.sent"


def test_policy_follows_the_customers_late_payments_in_their_time_zone(api: Api) -> None:
    los_angeles = {**CUSTOMER, "timezone": "America/Los_Angeles", "country": "US"}
    api.set_clock(datetime(2026, 11, 2, 9, 0, tzinfo=LONDON))
    api.put("/customers/bakery", los_angeles)
    for number in ("p1", "p2"):
        api.put(f"/invoices/{number}", invoice_body(number=number, due_on="2026-11-02"))
        # 17:00 on the due day in Los Angeles is already the next day in UTC: still on time.
        api.post(
            f"/invoices/{number}/payments",
            {
                "external_id": f"pay-{number}",
                "amount": "1250.00",
                "paid_at": "2026-11-02T17:00:00-08:00",
            },
        )
    api.put("/invoices/next", invoice_body(number="next", due_on="2026-12-01"))
    steps = [s["step"] for s in api.get("/invoices/next/schedule").json()["steps"]]
    assert "overdue_21" in steps  # standard ladder
    for number in ("p3", "p4"):
        api.put(f"/invoices/{number}", invoice_body(number=number, due_on="2026-11-02"))
        api.post(
            f"/invoices/{number}/payments",
            {
                "external_id": f"pay-{number}",
                "amount": "1250.00",
                "paid_at": "2026-11-03T17:00:00-08:00",
            },
        )
    steps = [s["step"] for s in api.get("/invoices/next/schedule").json()["steps"]]
    assert "overdue_7" in steps  # two late payments: the repeat_late ladder
