"""Stripe webhooks, signed with the official `stripe` library: payments stop the reminders;
voids, write-offs, checkout and refunds; replays, bad signatures and unknown invoices."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import stripe
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db import session_scope
from app.organisations.models import Organisation
from app.webhooks.models import WebhookReceipt
from app.worklist.models import WorklistItem
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body

LONDON = ZoneInfo("Europe/London")
SECRET = "whsec_northwind_stripe_endpoint"
THANKS = "Invoice INV-1001 from Northwind Supplies: thank you for your payment"


def _set_secret(db: Engine, slug: str = "default", secret: str | None = SECRET) -> None:
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation).where(Organisation.slug == slug)).one()
        organisation.stripe_webhook_secret = secret
        session.add(organisation)


def _event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> str:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "type": kind,
            "data": {"object": obj},
        }
    )


def _stripe_invoice(amount_paid: int = 125000, **extra: Any) -> dict[str, Any]:
    return {
        "id": "in_1PzQ2b",
        "object": "invoice",
        "number": "STRIPE-0001",
        "currency": "gbp",
        "amount_due": 125000,
        "amount_paid": amount_paid,
        "status": "paid",
        "metadata": {"politely_invoice": "inv-1001"},
        **extra,
    }


def _post(
    api: Api,
    payload: str,
    *,
    secret: str = SECRET,
    at: int | None = None,
    slug: str = "default",
) -> Any:
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, at)
    return api.client.post(
        f"/api/v1/webhooks/{slug}/stripe",
        content=payload.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def _invoice(api: Api, external_id: str = "inv-1001") -> dict[str, Any]:
    return api.get(f"/invoices/{external_id}").json()


def _kinds(api: Api, external_id: str = "inv-1001") -> list[str]:
    return [e["kind"] for e in api.get(f"/invoices/{external_id}/timeline").json()]


def _worklist(db: Engine) -> list[tuple[str, str]]:
    with session_scope(db) as session:
        items = session.exec(select(WorklistItem).order_by(col(WorklistItem.id))).all()
        return [(item.kind, item.reason) for item in items]


def _overdue_and_reminded(api: Api, inbox: Inbox, db: Engine) -> None:
    """An invoice due on 20 November, chased once on Thursday 26 November."""
    _set_secret(db)
    api.set_clock(datetime(2026, 11, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    api.run_scheduler()
    assert len(inbox.mails) == 1 and _invoice(api)["reminders"]["next"] is not None


def _open_invoice(api: Api, db: Engine, **overrides: Any) -> None:
    _set_secret(db)
    api.set_clock(datetime(2026, 11, 23, 8, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/inv-1001", invoice_body(**overrides))


def test_invoice_paid_from_stripe_stops_the_reminders_and_thanks(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _overdue_and_reminded(api, inbox, db)
    response = _post(api, _event("invoice.paid", _stripe_invoice()))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "result": "applied",
        "event_id": "evt_1",
        "detail": "payment recorded",
        "invoice": "inv-1001",
    }
    invoice = _invoice(api)
    assert invoice["status"] == "paid" and invoice["amount_due"] == "0.00"
    assert invoice["reminders"] == {"state": "paid", "next": None}
    assert _kinds(api)[-3:] == ["payment.received", "invoice.paid", "notice.sent"]
    assert [m.message["Subject"] for m in inbox.mails[1:]] == [THANKS]
    # Weeks later the scheduler has nothing left to send.
    api.set_clock(datetime(2027, 1, 15, 11, 0, tzinfo=LONDON))
    assert api.run_scheduler()["outcomes"] == []
    assert len(inbox.mails) == 2


def test_a_wrong_secret_or_an_old_signature_is_refused_and_changes_nothing(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _overdue_and_reminded(api, inbox, db)
    payload = _event("invoice.paid", _stripe_invoice())
    timeline = _kinds(api)
    ten_minutes_ago = int(time.time()) - 600
    refused = [
        _post(api, payload, secret="whsec_someone_else"),
        _post(api, payload, at=ten_minutes_ago),
        _post(api, payload, at=int(time.time()) + 600),
        api.client.post("/api/v1/webhooks/default/stripe", content=payload.encode()),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert "signature" in refused[0].json()["detail"]
    assert "too old" in refused[1].json()["detail"]
    assert _invoice(api)["status"] == "open" and _kinds(api) == timeline
    # Nothing was remembered either: the genuine delivery of the same event still counts.
    assert _post(api, payload).json()["result"] == "applied"
    assert _invoice(api)["status"] == "paid"


def test_a_replay_or_both_invoice_events_count_the_payment_once(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _overdue_and_reminded(api, inbox, db)
    payload = _event("invoice.paid", _stripe_invoice())
    assert _post(api, payload).json()["result"] == "applied"
    replay = _post(api, payload)
    assert replay.status_code == 200
    assert replay.json() == {
        "result": "duplicate",
        "event_id": "evt_1",
        "detail": None,
        "invoice": None,
    }
    # Stripe also sends invoice.payment_succeeded for the same money, as another event.
    twin = _post(api, _event("invoice.payment_succeeded", _stripe_invoice(), "evt_2")).json()
    assert twin["result"] == "applied" and twin["detail"] == "this payment is already recorded"
    assert _kinds(api).count("payment.received") == 1
    assert [m.message["Subject"] for m in inbox.mails[1:]] == [THANKS]


def test_partial_payments_on_a_stripe_invoice_count_the_growth_only(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    first = _post(api, _event("invoice.payment_succeeded", _stripe_invoice(50000), "evt_1"))
    assert first.json()["result"] == "applied"
    assert _invoice(api)["amount_due"] == "750.00" and _invoice(api)["status"] == "open"
    # amount_paid is Stripe's running total: 1,250.00 now means 750.00 more.
    _post(api, _event("invoice.paid", _stripe_invoice(125000), "evt_2"))
    invoice = _invoice(api)
    assert invoice["amount_due"] == "0.00" and invoice["status"] == "paid"
    amounts = [
        e["data"]["amount"]
        for e in api.get("/invoices/inv-1001/timeline").json()
        if e["kind"] == "payment.received"
    ]
    assert amounts == ["500.00", "750.00"]


def test_voided_and_uncollectible_invoices_stop_their_reminders(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    _overdue_and_reminded(api, inbox, db)
    api.put("/invoices/inv-1002", invoice_body(number="INV-1002", due_on="2026-11-20"))
    voided = _post(api, _event("invoice.voided", _stripe_invoice(0, status="void")))
    assert voided.json()["result"] == "applied"
    other = _stripe_invoice(0, status="uncollectible", metadata={"politely_invoice": "inv-1002"})
    _post(api, _event("invoice.marked_uncollectible", other, "evt_2"))
    assert _invoice(api)["reminders"] == {"state": "void", "next": None}
    assert _invoice(api, "inv-1002")["reminders"] == {"state": "written_off", "next": None}
    assert (
        _kinds(api)[-1] == "invoice.voided" and _kinds(api, "inv-1002")[-1] == "invoice.written_off"
    )
    sent = len(inbox.mails)
    api.set_clock(datetime(2027, 1, 15, 11, 0, tzinfo=LONDON))
    assert api.run_scheduler()["outcomes"] == [] and len(inbox.mails) == sent


def test_a_completed_checkout_session_pays_the_invoice_in_its_metadata(
    api: Api, db: Engine
) -> None:
    _open_invoice(api, db)
    session = {
        "id": "cs_test_a1",
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": 125000,
        "currency": "gbp",
        "payment_status": "unpaid",
        "payment_intent": "pi_3Abc",
        "invoice": None,
        "metadata": {"politely_invoice": "inv-1001"},
    }
    # A bank debit is not money yet: Stripe says so later with async_payment_succeeded.
    pending = _post(api, _event("checkout.session.completed", session))
    assert pending.json()["result"] == "ignored" and _invoice(api)["status"] == "open"
    paid = _post(
        api,
        _event(
            "checkout.session.async_payment_succeeded",
            {**session, "payment_status": "paid"},
            "evt_2",
        ),
    )
    assert paid.json()["result"] == "applied"
    assert _invoice(api)["status"] == "paid"
    timeline = api.get("/invoices/inv-1001/timeline").json()
    assert [e["data"]["payment"] for e in timeline if e["kind"] == "payment.received"] == [
        "pi_3Abc"
    ]


def test_a_refund_reopens_the_refunded_amount_and_the_reminders(api: Api, db: Engine) -> None:
    _open_invoice(api, db, due_on="2026-12-01")
    checkout = {
        "id": "cs_test_b2",
        "object": "checkout.session",
        "amount_total": 125000,
        "currency": "gbp",
        "payment_status": "paid",
        "payment_intent": "pi_3Refund",
        "metadata": {"politely_invoice": "inv-1001"},
    }
    _post(api, _event("checkout.session.completed", checkout, "evt_1"))
    assert _invoice(api)["reminders"]["next"] is None
    # The charge carries no metadata of ours: it is matched through the payment it refunds.
    charge = {
        "id": "ch_3Refund",
        "object": "charge",
        "amount": 125000,
        "amount_refunded": 25000,
        "currency": "gbp",
        "payment_intent": "pi_3Refund",
        "refunded": False,
        "metadata": {},
    }
    refunded = _post(api, _event("charge.refunded", charge, "evt_2"))
    assert refunded.json()["result"] == "applied", refunded.text
    invoice = _invoice(api)
    assert invoice["status"] == "open" and invoice["amount_due"] == "250.00"
    assert invoice["reminders"]["state"] == "active" and invoice["reminders"]["next"] is not None
    assert _kinds(api)[-2:] == ["payment.refunded", "invoice.reopened"]
    # amount_refunded is a running total: the same total again adds nothing, a larger one the rest.
    _post(api, _event("charge.refunded", charge, "evt_3"))
    assert _invoice(api)["amount_due"] == "250.00"
    _post(api, _event("charge.refunded", {**charge, "amount_refunded": 125000}, "evt_4"))
    assert _invoice(api)["amount_due"] == "1250.00"
    # The invoicing system resending the invoice does not forget the money went back.
    assert api.put("/invoices/inv-1001", invoice_body()).json()["amount_due"] == "1250.00"


def test_invoices_are_found_by_stripe_id_or_number_without_metadata(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    api.put("/invoices/in_1Direct", invoice_body(number="INV-2001"))
    api.put("/invoices/inv-3001", invoice_body(number="STRIPE-0042"))
    by_id = _stripe_invoice(id="in_1Direct", metadata={})
    by_number = _stripe_invoice(id="in_1Other", number="STRIPE-0042", metadata={})
    assert _post(api, _event("invoice.paid", by_id, "evt_1")).json()["invoice"] == "in_1Direct"
    assert _post(api, _event("invoice.paid", by_number, "evt_2")).json()["invoice"] == "inv-3001"
    assert _invoice(api, "in_1Direct")["status"] == "paid"
    assert _invoice(api, "inv-3001")["status"] == "paid"
    assert _invoice(api)["status"] == "open"


def test_an_unknown_invoice_is_answered_and_left_for_a_human(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    stranger = _stripe_invoice(
        id="in_1Stranger", number="S-9", metadata={"politely_invoice": "nope"}
    )
    payload = _event("invoice.paid", stranger)
    response = _post(api, payload)
    assert response.status_code == 200
    assert response.json()["result"] == "unmatched"
    assert _post(api, payload).json()["result"] == "duplicate"
    [(kind, reason)] = _worklist(db)
    assert kind == "unmatched_payment"
    assert "evt_1" in reason and "'nope'" in reason
    assert _invoice(api)["status"] == "open"


def test_a_payment_in_another_currency_is_kept_for_a_human(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    response = _post(api, _event("invoice.paid", _stripe_invoice(currency="usd")))
    assert response.status_code == 200 and response.json()["result"] == "rejected"
    assert "USD" in response.json()["detail"]
    assert _invoice(api)["amount_due"] == "1250.00"
    assert _kinds(api)[-1] == "payment.rejected"
    assert [kind for kind, _ in _worklist(db)] == ["unmatched_payment"]


def test_other_event_types_are_acknowledged_and_ignored(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    response = _post(api, _event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert _invoice(api)["status"] == "open"


def test_without_a_secret_the_endpoint_says_where_to_paste_it(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    _set_secret(db, secret=None)
    response = _post(api, _event("invoice.paid", _stripe_invoice()))
    assert response.status_code == 400
    assert "PATCH /api/v1/organisation" in response.json()["detail"]
    assert _invoice(api)["status"] == "open"


def test_the_secret_belongs_to_one_organisation(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    acme = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    acme.put("/customers/bakery", CUSTOMER)
    acme.put("/invoices/inv-1001", invoice_body())
    _set_secret(db, "acme", "whsec_acme_endpoint")
    payload = _event("invoice.paid", _stripe_invoice())
    assert _post(api, payload, slug="acme").status_code == 400
    assert _post(api, payload, slug="nobody").status_code == 404
    assert acme.get("/invoices/inv-1001").json()["status"] == "open"
    assert _post(api, payload).json()["result"] == "applied"
    assert acme.get("/invoices/inv-1001").json()["status"] == "open"
    # The same event id at another organisation is that organisation's own event.
    assert (
        _post(acme, payload, secret="whsec_acme_endpoint", slug="acme").json()["result"]
        == "applied"
    )
    with session_scope(db) as session:
        assert len(session.exec(select(WebhookReceipt)).all()) == 2


def test_bodies_over_a_megabyte_and_non_events_are_refused(api: Api, db: Engine) -> None:
    _open_invoice(api, db)
    huge = json.dumps({"id": "evt_big", "padding": "x" * 1_100_000})
    assert _post(api, huge).status_code == 413
    assert _post(api, "[1, 2]").status_code == 400
    assert _post(api, json.dumps({"id": "evt_3", "type": "invoice.paid"})).status_code == 400
